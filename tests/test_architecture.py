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


# The modules packaging vendors into the Krita and Blender plugins (the worker client).
CLIENT_MODULES = ("fields", "params", "protocol", "replies", "request", "inflight", "launch",
                  "connection", "client")


def relative_modules(path: Path) -> set[str]:
    """``from .x import`` inside worker/: the sibling modules ``x``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.module.split(".")[0] for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}


def test_protocol_and_client_are_vendorable():
    allowed = set(sys.stdlib_module_names) | {"zmq", "numpy", "worker"}
    for name in CLIENT_MODULES:
        f = ROOT / "worker" / f"{name}.py"
        mods = imported_modules(f)
        bad = top_level(mods) - allowed
        assert not bad, f"worker/{name}.py imports {bad}"
        inner = {m.split(".")[1] for m in mods if m.startswith("worker.")}
        inner |= relative_modules(f)
        assert inner <= set(CLIENT_MODULES), f"worker/{name}.py imports {inner}"


def test_the_client_modules_import_each_other_without_a_loop():
    graph = {}
    for name in CLIENT_MODULES:
        f = ROOT / "worker" / f"{name}.py"
        graph[name] = ({m.split(".")[1] for m in imported_modules(f) if m.startswith("worker.")}
                       | relative_modules(f)) & set(CLIENT_MODULES)
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import loop: {' -> '.join((*path, name))}"
        if name not in done:
            for dep in sorted(graph[name]):
                visit(dep, (*path, name))
            done.add(name)

    for name in CLIENT_MODULES:
        visit(name, ())


def test_packaging_vendors_every_client_module():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from t2i_packaging.vendor import CLIENT_MODULES as packaged
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    assert set(packaged) == set(CLIENT_MODULES)


def test_plugin_never_imports_ml_code():
    banned = {"torch", "transformers", "t2i_core", "safetensors", "open_clip", "diffusers"}
    for f in files("plugin"):
        bad = top_level(imported_modules(f)) & banned
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"
