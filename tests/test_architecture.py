"""The import rules of ARCHITECTURE.md, checked on the source tree (ast, no imports run)."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # import_graph.py, beside this file


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


# --- levels and loops (docs/structure.md) -------------------------------------------------
# The graph is read with ast (tests/import_graph.py): every import counts, lazy ones and those
# under TYPE_CHECKING too, as the structure-drawing tools count them.

# Lowest first. A module may import its own level and the levels below, never one above.
# The most specific prefix names a module's level.
LEVELS = {
    "top": [["t2i_core"], ["worker"], ["plugin"]],
    "worker": [
        # vendored into the plugins (packaging/t2i_packaging/vendor.py: CLIENT_MODULES)
        ["worker.fields", "worker.params", "worker.protocol", "worker.replies",
         "worker.request", "worker.inflight", "worker.launch", "worker.connection",
         "worker.client"],
        ["worker"],  # the process: server, runner, jobs, models, history
        ["worker.cluster"],  # a gateway in front of many worker processes
        ["worker.commands"],  # the `t2i` command line: nothing imports it
    ],
    "t2i_core": [
        # base: plain building blocks; abilities.py is the core's lowest module
        ["t2i_core.abilities", "t2i_core.errors", "t2i_core.content_hash", "t2i_core.prompt",
         "t2i_core.text_augment", "t2i_core.colour_words", "t2i_core.sampling",
         "t2i_core.retrieval", "t2i_core.checkpoint", "t2i_core.models", "t2i_core.data",
         "t2i_core.plan"],
        # encoders and images: the frozen text encoder, the upscaler, image helpers
        ["t2i_core.text_encoder", "t2i_core.enhance", "t2i_core.imaging"],
        # what backends are built from: adapters and their training loop, the live model
        ["t2i_core.finetune", "t2i_core.live"],
        ["t2i_core.backends"],
        # what uses a backend: evaluation, vector output, PNG metadata
        ["t2i_core.eval", "t2i_core.vector", "t2i_core.png_info"],
        # the built-in model's training recipe (uses a backend and the evaluation)
        ["t2i_core.training"],
    ],
}
# Loops in parts that another change owns, each with the reason it is still here. A loop
# that is gone must be removed from this list (the test says so).
KNOWN_LOOPS: dict[frozenset[str], str] = {}


def _graph():
    from import_graph import import_graph, source_modules

    return import_graph(source_modules())


def _level(module: str, levels: list[list[str]]) -> int | None:
    best: tuple[int, int] | None = None
    for i, prefixes in enumerate(levels):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None
                                                                 or len(p) > best[1]):
                best = (i, len(p))
    return None if best is None else best[0]


def test_no_import_loops():
    from import_graph import loops

    found = {frozenset(c) for c in loops(_graph())}
    new = [sorted(c) for c in found if c not in KNOWN_LOOPS]
    assert not new, f"import loops: {new}"
    gone = [KNOWN_LOOPS[c] for c in KNOWN_LOOPS if c not in found]
    assert not gone, f"no longer a loop, remove it from KNOWN_LOOPS: {gone}"


def test_no_upward_imports():
    graph = _graph()
    bad = []
    for scope, levels in LEVELS.items():
        for module, edges in graph.items():
            if scope != "top" and not module.startswith(scope + "."):
                continue
            mine = _level(module, levels)
            assert mine is not None, f"{module} has no level in LEVELS[{scope!r}]"
            for target, line in edges.items():
                theirs = _level(target, levels)
                if theirs is not None and theirs > mine:
                    bad.append(f"{module}:{line} imports {target} (level {theirs} > {mine})")
    assert not bad, "\n".join(bad)


def test_the_graph_sees_what_it_must():
    """The checks above are only as good as the graph: it must see lazy imports, relative
    ones and ``from package import module``."""
    graph = _graph()
    assert "t2i_core.backends.builtin_trainer" in graph["t2i_core.backends.builtin"]  # lazy
    assert "plugin.hosts.blender.operators" in graph["plugin.hosts.blender.registration"]
    assert "worker.commands.core" in graph["worker.commands"]


def _ability_members() -> set[str]:
    """The members of every ability protocol and of ``Backend``, read with ast."""
    names: set[str] = set()
    for path, wanted in ((ROOT / "t2i_core" / "abilities.py", None),
                         (ROOT / "t2i_core" / "backends" / "base.py", {"Backend"})):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and (wanted is None or node.name in wanted):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                        names.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(item.target.id)
    return names


# Look-ups by name in parts another change owns (file, name): the fix is one isinstance.
KNOWN_BY_NAME: dict[tuple[str, str], str] = {}


def test_no_backend_ability_is_found_by_name():
    """``isinstance(backend, SupportsTraining)``, never ``getattr(backend, "trainer")``."""
    members = _ability_members()
    assert {"trainer", "describe", "loras", "why_missing", "wants_preview"} <= members
    bad = []
    for folder in ("worker", "t2i_core"):
        for f in files(folder):
            for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 \
                        and isinstance(node.args[1], ast.Constant) \
                        and node.args[1].value in members:
                    bad.append((str(f.relative_to(ROOT)), node.args[1].value, node.lineno))
    new = [f"{f}:{line} {name!r}" for f, name, line in bad if (f, name) not in KNOWN_BY_NAME]
    assert not new, "\n".join(new)
    gone = [k for k in KNOWN_BY_NAME if k not in {(f, name) for f, name, _ in bad}]
    assert not gone, f"fixed, remove from KNOWN_BY_NAME: {gone}"
