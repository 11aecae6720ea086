"""Krita 6 runs the panel under PyQt6. No Krita 6 package exists here, so the panel's own
tests (tests/plugin: real widgets offscreen, real workers) run again under PyQt6 from PyPI
(qtpy honours QT_API), in a subprocess so that the two bindings never meet in one process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from krita_host import HERE, REPO, in_ci

# The panel test suite once more (several minutes now that it has the Train, Plan, vector
# and upscale tests): the subprocess's own limit, not pytest's 600 s per test, bounds it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1600)]


def test_the_panel_tests_pass_under_pyqt6(tmp_path):
    # found, not imported: this process already runs PySide6's Qt
    if importlib.util.find_spec("PyQt6") is None:
        if in_ci():
            pytest.fail("PyQt6 is missing; it is in the test extra (pip install -e .[test])")
        pytest.skip("PyQt6 is not installed: pip install PyQt6")
    probe = tmp_path / "probe.json"
    env = {**os.environ, "QT_API": "pyqt6", "PYTEST_QT_API": "pyqt6",
           "QT_QPA_PLATFORM": "offscreen", "T2I_QT_PROBE": str(probe),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE),
                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "qt_binding_probe", "--basetemp", str(tmp_path / "run"),
                           # the standalone studio app is a PySide6 program (`t2i studio`);
                           # Krita 6 runs the panel, not the app
                           "--ignore", str(REPO / "tests" / "plugin" / "test_studio_screenshot.py"),
                           "-o", "timeout=300", str(REPO / "tests" / "plugin")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    info = json.loads(Path(probe).read_text())
    assert info["api"] == "PyQt6" and info["loaded"] == ["PyQt6.QtCore"], info
    assert info["failed"] == 0 and info["passed"] == info["collected"] > 10, info
