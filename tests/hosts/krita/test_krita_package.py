"""``t2i package krita``: one zip that Krita's importer accepts, whose code imports only what
Krita's Python has or the zip carries, and whose panel runs under Krita's own Python
(Debian's /usr/bin/python3 with PyQt5) from the zip alone."""

from __future__ import annotations

import ast
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from krita_host import IMPORTER, SYSTEM_PYTHON, build_zip, in_ci


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    return build_zip(tmp_path_factory.mktemp("krita-zip"))


def test_zip_layout_is_what_krita_imports(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as zf:
        names = set(zf.namelist())
        desktop = zf.read("t2i_studio.desktop").decode()
        vendored = json.loads(zf.read("t2i_studio/_vendor/site/VENDORED.json"))
    assert "X-KDE-Library=t2i_studio" in desktop and "ServiceTypes=Krita/PythonPlugin" in desktop
    # Krita's importer finds the module by its folder entry with an __init__.py inside
    assert {"t2i_studio/", "t2i_studio/__init__.py", "t2i_studio/Manual.html"} <= names
    for module in ("extension", "adapter", "docker_content", "link", "settings"):
        assert f"t2i_studio/{module}.py" in names
    for vendored_file in ("_vendor/t2i_plugin/panel/panel.py", "_vendor/t2i_plugin/qimage.py",
                          "_vendor/t2i_worker/client.py", "_vendor/site/qtpy/__init__.py",
                          "_vendor/site/packaging/version.py", "_vendor/site/zmq/__init__.py"):
        assert f"t2i_studio/{vendored_file}" in names
    assert vendored["python"].count(".") == 1
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # nothing outside the plugin's folder but its .desktop: no top-level packaging/qtpy
    assert {n.split("/")[0] for n in names} == {"t2i_studio", "t2i_studio.desktop"}


def test_plugin_code_imports_only_private_copies(plugin_zip):
    """No absolute ``plugin``/``worker`` import survives packaging (they would clash with
    other Krita plugins, or be missing)."""
    with zipfile.ZipFile(plugin_zip) as zf:
        sources = {n: zf.read(n).decode() for n in zf.namelist()
                   if n.endswith(".py") and "/_vendor/site/" not in n}
    assert len(sources) > 15
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert node.module.split(".")[0] not in ("plugin", "worker"), (name, node.module)
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & {"plugin", "worker"}
    panel = sources["t2i_studio/_vendor/t2i_plugin/panel/panel.py"]
    assert "from ...._vendor.t2i_worker.protocol import" in panel
    assert "from ._vendor.t2i_plugin.panel import" in sources["t2i_studio/link.py"]


def test_package_command_explains_a_bad_target():
    import sys

    proc = subprocess.run([sys.executable, "-m", "worker.commands", "package", "gimp"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "krita" in proc.stdout


def krita_python_or_fail() -> str:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import PyQt5.QtWidgets"],
                           capture_output=True, text=True, timeout=60) \
        if Path(SYSTEM_PYTHON).is_file() else None
    if probe is None or probe.returncode:
        why = "Krita's Python (/usr/bin/python3 with python3-pyqt5) is not installed"
        if in_ci():
            pytest.fail(f"{why}; .ci/run installs it, so in CI this is a failure")
        pytest.skip(why)
    return SYSTEM_PYTHON


PANEL_IN_KRITA_PYTHON = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import t2i_studio  # outside Krita: registers nothing
from t2i_studio.vendor_path import add_vendored_site
assert add_vendored_site()
from PyQt5.QtWidgets import QApplication
app = QApplication([])
import packaging, qtpy
from t2i_studio.docker_content import DockerContent
from t2i_studio.link import WorkerLink
from t2i_studio.settings import WorkerSettings

class NoDocument:
    def canvas_size(self): return (0, 0)
    def selection(self): return None
    def source_image(self, region): return None
    def document_data(self, key): return None
    def set_document_data(self, key, value): pass
    def insert_layer(self, *a): raise AssertionError
    def set_preview_layer(self, *a): raise AssertionError
    def remove_preview_layer(self): pass

saved = {}
link = WorkerLink(lambda g, n, d: saved.get(n, d), lambda g, n, v: saved.__setitem__(n, v))
content = DockerContent(link, NoDocument())
link.apply(WorkerSettings(mode="endpoint", endpoint=sys.argv[2], token=sys.argv[3]))
deadline = time.monotonic() + 120
while time.monotonic() < deadline and (content.panel.bridge.state != "ready"
                                       or content.panel.form.model.currentText() != "builtin"):
    app.processEvents()
    time.sleep(0.02)
print(json.dumps({"qt_api": qtpy.API_NAME, "qtpy": qtpy.__file__,
                  "packaging": packaging.__file__, "state": content.panel.bridge.state,
                  "model": content.panel.form.model.currentText(),
                  "status": content.panel.status.text(),
                  "top_level": sorted(m for m in ("plugin", "worker") if m in sys.modules)}))
link.close()
"""


def test_packaged_panel_runs_in_krita_python_with_pyqt5(plugin_zip, tmp_path, tiny_worker):
    python = krita_python_or_fail()
    pykrita = tmp_path / "pykrita"
    if IMPORTER.is_file():  # Krita's own importer, as the menu item runs it
        proc = subprocess.run([python, str(IMPORTER), str(plugin_zip), str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        with zipfile.ZipFile(plugin_zip) as zf:
            zf.extractall(pykrita)
    script = tmp_path / "panel_check.py"
    script.write_text(PANEL_IN_KRITA_PYTHON)
    proc = subprocess.run([python, str(script), str(pykrita), tiny_worker.endpoint,
                           tiny_worker.token], capture_output=True, text=True, timeout=180,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["qt_api"].lower() == "pyqt5"
    assert info["qtpy"].startswith(str(pykrita))  # the vendored qtpy ...
    assert info["packaging"].startswith(("/usr/lib/python3", str(pykrita)))  # ... its dep
    assert (info["state"], info["model"]) == ("ready", "builtin")
    assert info["status"].endswith("Ready")
    assert info["top_level"] == []  # the panel and client live inside t2i_studio only


def test_the_zip_is_reproducible(plugin_zip, tmp_path):
    again = build_zip(tmp_path)
    assert again.read_bytes() == plugin_zip.read_bytes()
