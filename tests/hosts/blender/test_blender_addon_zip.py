"""The zip that ``t2i package blender`` builds: its layout and vendored client, clear
packaging errors, and a generation from it in a Python without pyzmq, as in an official
Blender build; the add-on's import rules and the vendoring helpers other plugins reuse."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests"))  # host_tools.py
from host_tools import run_package  # noqa: E402

# --- the zip --------------------------------------------------------------------------------


def _build(out: Path, *args: str) -> subprocess.CompletedProcess:
    return run_package("blender", out, *args)


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blender_zip") / "addon.zip"
    proc = _build(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_zip_layout_and_vendored_client(addon_zip, tmp_path):
    names = zipfile.ZipFile(addon_zip).namelist()
    assert "t2i_studio/__init__.py" in names
    for mod in ("fields", "params", "protocol", "replies", "request", "inflight", "launch",
                "connection", "client"):
        assert f"t2i_studio/_vendor/t2i_worker/{mod}.py" in names
    assert "t2i_studio/_vendor/site/zmq/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if not n.startswith("t2i_studio/")]
    vendored = zipfile.ZipFile(addon_zip).read("t2i_studio/_vendor/t2i_worker/client.py")
    assert b"from worker." not in vendored and b"import worker" not in vendored
    info = json.loads(zipfile.ZipFile(addon_zip).read("t2i_studio/_vendor/site/VENDORED.json"))
    assert info["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    again = tmp_path / "again.zip"
    assert _build(again).returncode == 0
    assert again.read_bytes() == addon_zip.read_bytes()  # reproducible
    slim = tmp_path / "slim.zip"
    assert _build(slim, "--no-pyzmq").returncode == 0
    assert not [n for n in zipfile.ZipFile(slim).namelist() if "_vendor/site" in n]


def test_packaging_errors_are_clear(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "worker.commands", "package", "nope"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown target 'nope'" in proc.stdout
    wheel = tmp_path / "pyzmq-27.3.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    zipfile.ZipFile(wheel, "w").close()
    proc = _build(tmp_path / "x.zip", "--python-version", "3.10", "--pyzmq-wheel", str(wheel))
    assert proc.returncode == 2 and "not built for Python 3.10" in proc.stdout


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="needs Debian's /usr/bin/python3")
def test_zip_works_in_a_python_without_pyzmq(addon_zip, tmp_path, slow_worker):
    """``python3 -I -S``: no site-packages, so no pyzmq, like an official Blender build.
    The add-on's session (vendored client + vendored pyzmq) completes a generation."""
    zipfile.ZipFile(addon_zip).extractall(tmp_path)
    script = f"""
import sys, time
sys.path.insert(0, {str(tmp_path)!r})
try:
    import zmq
    raise SystemExit("this Python already has pyzmq: the test proves nothing")
except ImportError:
    pass
from t2i_studio.link import GenerateParams
from t2i_studio.session import ConnectionSettings, Session
import zmq
assert zmq.__file__.startswith({str(tmp_path / 't2i_studio' / '_vendor' / 'site')!r}), zmq.__file__
s = Session(ConnectionSettings(mode="endpoint", endpoint={slow_worker.endpoint!r},
                               token={slow_worker.token!r}))
job = s.submit(GenerateParams("a cat", model="synthetic", steps=3))
deadline = time.monotonic() + 60
while job.active and time.monotonic() < deadline:
    s.poll(); time.sleep(0.02)
s.close()
print(job.state, type(s.client).__module__)
"""
    proc = subprocess.run([str(SYSTEM_PYTHON), "-I", "-S", "-c", script], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["done", "t2i_studio._vendor.t2i_worker.client"]


def test_addon_imports_only_blender_stdlib_and_the_client():
    """No torch/numpy/t2i_core in Blender; bpy only where Blender runs the code."""
    import ast

    source = REPO / "plugin" / "hosts" / "blender"
    pure = {"__init__", "pixels", "provenance", "session", "training", "link", "state"}
    allowed = set(sys.stdlib_module_names) | {"bpy", "bmesh", "addon_utils", "worker",
                                                "zmq"}  # bpy, bmesh, addon_utils: Blender
    for path in sorted(source.glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
        assert names <= allowed, f"{path.name} imports {names - allowed}"
        if path.stem in pure:
            assert "bpy" not in names, f"{path.name} must run outside Blender"


def test_vendoring_helpers_for_other_plugins(tmp_path):
    """What the Krita zip reuses: pure-Python distributions copied from their RECORD, binary
    ones refused unless asked for, the client checked for imports a plugin cannot carry."""
    sys.path.insert(0, str(REPO / "packaging"))
    from t2i_packaging import PackagingError
    from t2i_packaging.vendor import (
        CLIENT_MODULES,
        vendor_distributions,
        vendor_worker_client,
    )

    files = vendor_distributions(["tqdm"], tmp_path / "site")
    assert (tmp_path / "site" / "tqdm" / "__init__.py") in files
    with pytest.raises(PackagingError, match="compiled code"):
        vendor_distributions(["pyzmq"], tmp_path / "other")
    with pytest.raises(PackagingError, match="not installed"):
        vendor_distributions(["no-such-distribution-t2i"], tmp_path / "other")
    fake = tmp_path / "fake_worker"
    fake.mkdir()
    for name in CLIENT_MODULES:
        (fake / f"{name}.py").write_text("import json\n")
    (fake / "client.py").write_text("from worker.protocol import x\nimport torch\n")
    with pytest.raises(PackagingError, match="imports torch"):
        vendor_worker_client(tmp_path / "out", source=fake)
    (fake / "client.py").write_text("from worker.protocol import x\n")
    vendor_worker_client(tmp_path / "out2", source=fake)
    assert (tmp_path / "out2" / "client.py").read_text() == "from .protocol import x\n"


def test_packaging_folder_does_not_shadow_the_pypi_packaging_library():
    """packaging/ holds our build code but must stay a plain folder (no __init__.py)."""
    assert not (REPO / "packaging" / "__init__.py").exists()
    code = "import packaging.version as v; print(v.__file__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and str(REPO / "packaging") not in proc.stdout, proc.stdout
