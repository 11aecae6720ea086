"""A pytest plugin for the PyQt6 run of the panel tests (``-p qt_binding_probe``): at the
end it writes which Qt binding the tests really used, and how many ran, to
``$T2I_QT_PROBE`` (JSON)."""

from __future__ import annotations

import json
import os
import sys


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("T2I_QT_PROBE")
    if not path:
        return
    api = sys.modules.get("qtpy")
    loaded = sorted(name for name in ("PySide6.QtCore", "PyQt6.QtCore", "PyQt5.QtCore")
                    if name in sys.modules)
    reports = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reports.stats.get("passed", [])) if reports else -1
    with open(path, "w") as f:
        json.dump({"api": getattr(api, "API_NAME", None), "loaded": loaded,
                   "collected": session.testscollected, "failed": session.testsfailed,
                   "passed": passed, "exitstatus": int(exitstatus)}, f)
