"""The import rules of ARCHITECTURE.md, checked on the source tree (ast, no imports run)."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top_level(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_core_never_imports_qt_zmq_or_the_other_parts():
    banned = {"zmq", "qtpy", "PySide6", "PyQt5", "PyQt6", "worker", "plugin", "bpy"}
    for f in files("t2i_core"):
        bad = top_level(imported_modules(f)) & banned
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_protocol_and_client_are_vendorable():
    allowed = set(sys.stdlib_module_names) | {"zmq", "numpy", "worker"}
    for name in ("protocol.py", "client.py", "launch.py", "request.py"):
        f = ROOT / "worker" / name
        mods = imported_modules(f)
        bad = top_level(mods) - allowed
        assert not bad, f"worker/{name} imports {bad}"
        inner = {m for m in mods if m.startswith("worker.")}
        vendored = {"worker.protocol", "worker.client", "worker.launch", "worker.request"}
        assert inner <= vendored, inner


def test_plugin_never_imports_ml_code():
    banned = {"torch", "transformers", "t2i_core", "safetensors", "open_clip", "diffusers"}
    for f in files("plugin"):
        bad = top_level(imported_modules(f)) & banned
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"
