"""Fixtures for the panel and standalone-editor tests: offscreen Qt, real workers.

Most tests share one real worker (the built-in backend on tiny random weights, started once)
and give each test its own ``WorkerClient``; the crash test lets the client spawn (and
restart) a worker of its own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))

import pytest  # noqa: E402
from panel_helpers import WAIT  # noqa: E402
from worker_helpers import Raw, start_worker  # noqa: E402

from worker.client import WorkerClient  # noqa: E402


@pytest.fixture(scope="session")
def panel_worker(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path):
    """One real worker (built-in backend, tiny random weights), loaded, for the session."""
    wp = start_worker(tmp_path_factory.mktemp("panel-worker"), "--weights-dir",
                      str(tiny_weights))
    raw = Raw(wp.endpoint, wp.token)
    try:
        hello = raw.call("hello", timeout=120)
        assert hello.type == "result", (hello, wp.log_tail())
    finally:
        raw.close()
    yield wp
    wp.stop()


@pytest.fixture
def client(panel_worker):
    c = WorkerClient(endpoint=panel_worker.endpoint, token=panel_worker.token, spawn=False)
    yield c
    c.close(stop_worker=False)


@pytest.fixture
def window(qtbot, client):
    """The standalone editor window on the shared worker, shown offscreen and ready."""
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    win = StudioWindow(WorkerBridge(client))
    qtbot.addWidget(win)
    win.resize(1280, 800)  # the offscreen screen is 800 x 600: the tests draw on 1280 x 800
    win.show()
    qtbot.waitUntil(lambda: win.panel.bridge.state == "ready", timeout=WAIT)
    # the model list arrives from the worker's hello: sizes 32..512 for the built-in model
    qtbot.waitUntil(lambda: win.panel.form.size.count() > 0
                    and win.panel.form.model.currentText() == "builtin", timeout=WAIT)
    return win
