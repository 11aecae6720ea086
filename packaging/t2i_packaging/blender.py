"""``t2i package blender``: the add-on zip for Edit ▸ Preferences ▸ Add-ons ▸ Install.

Layout (the zip's top folder is the add-on's module name)::

    t2i_studio/__init__.py ...          plugin/hosts/blender/*.py
    t2i_studio/_vendor/t2i_worker/      the worker client (vendor.CLIENT_MODULES)
    t2i_studio/_vendor/site/            pyzmq for the target Python (unless --no-pyzmq)
"""

from __future__ import annotations

import argparse
import ast
import shutil
import tempfile
import tomllib
from pathlib import Path

from . import REPO, PackagingError
from .archive import included, write_zip
from .vendor import this_python, vendor_pyzmq, vendor_worker_client

ADDON_MODULE = "t2i_studio"
SOURCE = REPO / "plugin" / "hosts" / "blender"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Build the Blender add-on zip (install it in Blender: Edit ▸ Preferences " \
                    "▸ Add-ons ▸ Install…)."
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="the zip to write (default: dist/t2i_studio-blender-VERSION.zip)")
    p.add_argument("--no-pyzmq", action="store_true",
                   help="do not vendor pyzmq (for a Blender whose Python has it, e.g. "
                        "Debian's blender with python3-zmq)")
    p.add_argument("--python-version", default=None, metavar="X.Y",
                   help="Blender's Python version for the vendored pyzmq (default: this "
                        f"Python, {this_python()}; Blender 3.x/4.0 official builds use 3.10, "
                        "4.1 and later 3.11)")
    p.add_argument("--platform", default=None,
                   help="pip platform tag of the target, e.g. win_amd64, macosx_11_0_arm64, "
                        "manylinux_2_28_x86_64 (default: this machine)")
    p.add_argument("--pyzmq-wheel", type=Path, default=None,
                   help="vendor pyzmq from this wheel instead of finding one")
    p.set_defaults(build=lambda args: build_addon(
        args.output, pyzmq=not args.no_pyzmq, python_version=args.python_version,
        platform=args.platform, wheel=args.pyzmq_wheel))


def project_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def addon_version(init: Path) -> str:
    """``bl_info["version"]`` as "X.Y.Z", read the way Blender reads it (without running)."""
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "bl_info":
            info = ast.literal_eval(node.value)
            return ".".join(str(x) for x in info["version"])
    raise PackagingError(f"{init} has no bl_info")


def build_addon(output: Path | None = None, *, pyzmq: bool = True,
                python_version: str | None = None, platform: str | None = None,
                wheel: Path | None = None) -> Path:
    version = project_version()
    if addon_version(SOURCE / "__init__.py") != version:
        raise PackagingError(f"bl_info version {addon_version(SOURCE / '__init__.py')} in "
                             f"plugin/hosts/blender/__init__.py differs from the project "
                             f"version {version} in pyproject.toml; make them equal")
    output = Path(output or REPO / "dist" / f"{ADDON_MODULE}-blender-{version}.zip")
    with tempfile.TemporaryDirectory(prefix="t2i-package-") as tmp:
        root = Path(tmp) / ADDON_MODULE
        shutil.copytree(SOURCE, root, ignore=lambda d, names: [
            n for n in names if not included(Path(d, n).relative_to(SOURCE.parent))])
        vendor = root / "_vendor"
        vendor.mkdir()
        (vendor / "__init__.py").write_text('"""Copies made by `t2i package`; do not edit."""\n')
        vendor_worker_client(vendor / "t2i_worker")
        if pyzmq:
            vendor_pyzmq(vendor / "site", python_version, platform, wheel)
        write_zip(Path(tmp), output)
    return output
