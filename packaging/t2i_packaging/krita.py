"""``t2i package krita``: the plugin zip for Tools ▸ Scripts ▸ Import Python Plugin from File.

Layout (Krita's importer finds ``<X-KDE-Library>.desktop`` and the folder of that name)::

    t2i_studio.desktop
    t2i_studio/                        plugin/hosts/krita/*.py (imports rewritten, below)
    t2i_studio/Manual.html             shown by Krita's Python Plugin Manager
    t2i_studio/_vendor/t2i_plugin/     plugin/{host,qimage,svg,plan_layers}.py + plugin/panel/
    t2i_studio/_vendor/t2i_worker/     the worker client (vendor.CLIENT_MODULES)
    t2i_studio/_vendor/site/           qtpy + packaging (pure Python) and pyzmq

Krita's embedded Python has the standard library and PyQt only. The panel and the Krita
code import ``plugin.…`` and ``worker.…`` as in the source tree; here those imports become
package-relative (``from ._vendor.t2i_plugin.panel import``), so the plugin never clashes
with another plugin's ``worker`` or ``plugin`` module. qtpy, packaging and pyzmq are
appended to ``sys.path`` by the plugin: a copy Krita's Python already has wins.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
import tempfile
from pathlib import Path

from . import REPO, PackagingError
from .archive import included, write_zip
from .blender import project_version
from .vendor import this_python, vendor_distributions, vendor_pyzmq, vendor_worker_client

PLUGIN_NAME = "t2i_studio"  # the .desktop's X-KDE-Library: Krita's module and folder name
SOURCE = REPO / "plugin" / "hosts" / "krita"
PANEL_FILES = ("host.py", "qimage.py", "svg.py", "plan_layers.py", "panel")  # what the panel needs
PURE_DEPENDENCIES = ["QtPy", "packaging"]  # qtpy needs packaging; Krita's Python has neither
_FROM_IMPORT = re.compile(r"^(\s*)from (plugin|worker)((?:\.\w+)*) import", re.MULTILINE)
_PLAIN_IMPORT = re.compile(r"^\s*import (plugin|worker)\b", re.MULTILINE)
VENDORED_AS = {"plugin": "t2i_plugin", "worker": "t2i_worker"}

DESKTOP = f"""[Desktop Entry]
Type=Service
ServiceTypes=Krita/PythonPlugin
X-KDE-Library={PLUGIN_NAME}
X-Python-2-Compatible=false
X-Krita-Manual=Manual.html
Name=T2I Studio
Comment=Offline text-to-image: a docker that turns a prompt into a new layer, with a local \
t2i worker
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Build the Krita plugin zip (install it in Krita: Tools ▸ Scripts ▸ "
                     "Import Python Plugin from File…).")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="the zip to write (default: dist/t2i_studio-krita-VERSION.zip)")
    p.add_argument("--no-pyzmq", action="store_true",
                   help="do not vendor pyzmq (for a Krita whose Python has it, e.g. Debian's "
                        "krita with python3-zmq)")
    p.add_argument("--python-version", default=None, metavar="X.Y",
                   help="Krita's Python version for the vendored pyzmq (default: this Python, "
                        f"{this_python()}; Debian 12's krita uses 3.11)")
    p.add_argument("--platform", default=None,
                   help="pip platform tag of the target, e.g. win_amd64, macosx_11_0_arm64, "
                        "manylinux_2_28_x86_64 (default: this machine)")
    p.add_argument("--pyzmq-wheel", type=Path, default=None,
                   help="vendor pyzmq from this wheel instead of finding one")
    p.set_defaults(build=lambda args: build_plugin(
        args.output, pyzmq=not args.no_pyzmq, python_version=args.python_version,
        platform=args.platform, wheel=args.pyzmq_wheel))


def build_plugin(output: Path | None = None, *, pyzmq: bool = True,
                 python_version: str | None = None, platform: str | None = None,
                 wheel: Path | None = None) -> Path:
    output = Path(output or REPO / "dist" / f"{PLUGIN_NAME}-krita-{project_version()}.zip")
    with tempfile.TemporaryDirectory(prefix="t2i-package-") as tmp:
        top = Path(tmp)
        root = top / PLUGIN_NAME
        _copy_tree(SOURCE, root)
        vendor = root / "_vendor"
        vendor.mkdir()
        (vendor / "__init__.py").write_text('"""Copies made by `t2i package`; do not edit."""\n')
        vendor_worker_client(vendor / "t2i_worker")
        panel_root = vendor / "t2i_plugin"
        panel_root.mkdir()
        (panel_root / "__init__.py").write_text(
            '"""The panel, vendored from plugin/ by `t2i package`; do not edit."""\n')
        for name in PANEL_FILES:
            src = REPO / "plugin" / name
            if src.is_dir():
                _copy_tree(src, panel_root / name)
            else:
                shutil.copyfile(src, panel_root / name)
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if rel.parts[:2] != ("_vendor", "t2i_worker"):  # already relative
                path.write_text(rewrite_imports(path.read_text(), rel))
        check_relative_imports(root)
        site = vendor / "site"
        vendor_distributions(PURE_DEPENDENCIES, site)
        if pyzmq:
            vendor_pyzmq(site, python_version, platform, wheel)
        (top / f"{PLUGIN_NAME}.desktop").write_text(DESKTOP)
        (root / "Manual.html").write_text(manual_html())
        write_zip(top, output, directories=True)
    return output


def rewrite_imports(text: str, rel: Path) -> str:
    """``from plugin.x import`` / ``from worker.x import`` -> relative to the vendored copies;
    ``rel`` is the file's path inside the plugin package."""
    if _PLAIN_IMPORT.search(text):
        raise PackagingError(f"{rel}: use `from plugin.… import` / `from worker.… import`; a "
                             "plain `import plugin`/`import worker` cannot be vendored")
    dots = "." * len(rel.parts)  # up from the file's package to the plugin package

    def repl(m: re.Match) -> str:
        return f"{m.group(1)}from {dots}_vendor.{VENDORED_AS[m.group(2)]}{m.group(3)} import"

    return _FROM_IMPORT.sub(repl, text)


def check_relative_imports(root: Path) -> None:
    """Every import in the package is the standard library, Qt, krita, the vendored
    libraries, or a relative import of a module that is really in the zip."""
    allowed = {"qtpy", "zmq", "krita", "PyQt5", "PyQt6", "sip", *sys.stdlib_module_names}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[:2] == ("_vendor", "site"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(rel))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                target = base.joinpath(*(node.module or "").split("."))
                if node.module and not (target.with_suffix(".py").is_file()
                                        or (target / "__init__.py").is_file()):
                    raise PackagingError(f"{rel} imports {'.' * node.level}{node.module}, "
                                         "which is not in the plugin zip")
            elif isinstance(node, ast.ImportFrom | ast.Import) \
                    and rel.parts[:2] != ("_vendor", "t2i_worker"):  # checked when vendored
                names = [node.module] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names]
                bad = {n.split(".")[0] for n in names if n} - allowed
                if bad:
                    raise PackagingError(f"{rel} imports {', '.join(sorted(bad))}, which "
                                         "Krita's Python lacks and the zip does not carry")


def manual_html() -> str:
    """The plugin's page in Krita's Python Plugin Manager: docs/krita.md, as plain text."""
    import html

    doc = REPO / "docs" / "krita.md"
    text = doc.read_text() if doc.is_file() else "T2I Studio for Krita."
    return f"<html><body><pre style='white-space: pre-wrap'>{html.escape(text)}</pre>" \
           "</body></html>\n"


def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=lambda d, names: [
        n for n in names if not included(Path(d, n).relative_to(src.parent))])
