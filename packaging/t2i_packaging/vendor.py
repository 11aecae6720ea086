"""Vendoring for plugin zips: the worker client, pure-Python distributions, pyzmq.

Editors run their own Python (Krita's and Debian's Blender: the system Python; official
Blender builds: a bundled one without pyzmq), so a plugin carries what it needs:

- ``vendor_worker_client``: the client's modules (``CLIENT_MODULES``) as a private
  package (``<plugin>/_vendor/t2i_worker``) with package-relative imports, so it never
  clashes with a ``worker`` module of the host;
- ``vendor_distributions``: installed pure-Python distributions (e.g. qtpy + packaging for
  Krita), file by file from their RECORD;
- ``vendor_pyzmq``: pyzmq built for the target Python and platform, from this interpreter
  when they match, else from a wheel (given, or fetched with ``pip download``).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from . import REPO, PackagingError
from .archive import included

# The vendored client: every module worker/client.py needs, and nothing that needs more.
CLIENT_MODULES = ("fields", "params", "protocol", "replies", "request", "inflight", "launch",
                  "connection", "client")
CLIENT_DEPENDENCIES = {"zmq", "numpy"}  # numpy is optional: imported lazily by to_numpy
_ABS_WORKER_IMPORT = re.compile(r"^(\s*)from worker\.(\w+) import", re.MULTILINE)


def vendor_worker_client(dest: Path, source: Path | None = None) -> list[Path]:
    """Copy the worker client into the package folder ``dest`` (made, with ``__init__``).

    ``from worker.x import`` is rewritten to ``from .x import``; any other import outside
    the standard library, pyzmq and numpy is refused (the plugin could not load it)."""
    source = source or REPO / "worker"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "__init__.py").write_text(
        '"""The t2i worker client, vendored from worker/ by `t2i package`; do not edit."""\n')
    written = [dest / "__init__.py"]
    for name in CLIENT_MODULES:
        text = _ABS_WORKER_IMPORT.sub(r"\1from .\2 import", (source / f"{name}.py").read_text())
        _check_imports(text, f"worker/{name}.py")
        (dest / f"{name}.py").write_text(text)
        written.append(dest / f"{name}.py")
    return written


def _check_imports(text: str, where: str) -> None:
    allowed = set(sys.stdlib_module_names) | CLIENT_DEPENDENCIES
    for node in ast.walk(ast.parse(text, where)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom):  # relative: must stay inside the client
            if node.module and node.module.split(".")[0] not in CLIENT_MODULES:
                raise PackagingError(f"{where} imports .{node.module}, which is not vendored; "
                                     f"the client may import only {', '.join(CLIENT_MODULES)}")
            continue
        else:
            continue
        bad = {n.split(".")[0] for n in names} - allowed
        if bad:
            raise PackagingError(f"{where} imports {', '.join(sorted(bad))}: a plugin cannot "
                                 "vendor that; the client must stay stdlib + pyzmq")


def _distribution(name: str) -> md.Distribution:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        raise PackagingError(f"{name} is not installed in {sys.executable}; install it (e.g. "
                             f"`.venv/bin/pip install {name}`) and build again") from None


def vendor_distributions(names: list[str], dest: Path, allow_binary: bool = False
                         ) -> list[Path]:
    """Copy installed distributions (their files as RECORD lists them) into ``dest``.

    Refuses compiled files unless ``allow_binary``: a pure-Python plugin dependency must
    load in any host Python."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        dist = _distribution(name)
        for rel in dist.files or []:
            rel_path = Path(str(rel))
            if rel_path.parts[0] == ".." or not included(rel_path):
                continue  # console scripts etc. live outside site-packages
            if rel_path.suffix in (".so", ".pyd", ".dylib") and not allow_binary:
                raise PackagingError(f"{name} contains compiled code ({rel_path}); vendor "
                                     "it for each target Python instead")
            src = Path(dist.locate_file(rel))
            if src.is_file():
                target = dest / rel_path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
                written.append(target)
    return written


def this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def vendor_pyzmq(dest: Path, python_version: str | None = None, platform: str | None = None,
                 wheel: Path | None = None) -> dict:
    """pyzmq for Python ``python_version`` on ``platform`` (a pip platform tag such as
    ``manylinux_2_28_x86_64``, ``win_amd64``, ``macosx_11_0_arm64``; None = this machine)
    into the site folder ``dest``. Returns what was vendored (also in VENDORED.json)."""
    python_version = python_version or this_python()
    native = platform is None and python_version == this_python()
    if wheel is not None:
        _unpack_wheel(wheel, dest, python_version)
        source = wheel.name
    elif native:
        vendor_distributions(["pyzmq"], dest, allow_binary=True)
        source = f"installed pyzmq {_distribution('pyzmq').version} ({sys.executable})"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = _download_wheel(Path(tmp), python_version, platform)
            _unpack_wheel(wheel, dest, python_version)
            source = wheel.name
    info = {"python": python_version, "platform": platform or sysconfig.get_platform(),
            "source": source}
    (dest / "VENDORED.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def _download_wheel(folder: Path, python_version: str, platform: str | None) -> Path:
    version = md.version("pyzmq") if _installed("pyzmq") else ""
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
           "--python-version", python_version, "--implementation", "cp", "-d", str(folder),
           f"pyzmq=={version}" if version else "pyzmq>=25"]
    if platform:
        cmd += ["--platform", platform]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    wheels = sorted(folder.glob("pyzmq-*.whl"))
    if proc.returncode or not wheels:
        raise PackagingError(f"could not fetch a pyzmq wheel for Python {python_version} "
                             f"({platform or 'this platform'}): {proc.stderr.strip()[-600:]}; "
                             "download one yourself and pass --pyzmq-wheel FILE")
    return wheels[0]


def _installed(name: str) -> bool:
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        return False
    return True


def _unpack_wheel(wheel: Path, dest: Path, python_version: str) -> None:
    tag = "cp" + python_version.replace(".", "")
    if f"-{tag}-" not in wheel.name and "-abi3-" not in wheel.name \
            and "-py3-none-" not in wheel.name:
        raise PackagingError(f"{wheel.name} is not built for Python {python_version} (no "
                             f"{tag} tag); use a wheel for that version")
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.infolist():
            rel = Path(member.filename)
            if rel.is_absolute() or ".." in rel.parts or rel.parts[0].endswith(".data"):
                continue  # never write outside dest; .data holds headers and scripts
            zf.extract(member, dest)
