"""The real Qt panel (in the standalone editor, offscreen) pointed at the gateway, unchanged:
type, Generate, the queue and progress show, a layer appears with the result's pixels."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import pytest  # noqa: E402

pytest.importorskip("qtpy")
from qtpy.QtCore import Qt  # noqa: E402

from worker.client import WorkerClient  # noqa: E402

WAIT = 120_000  # ms: a loaded 2-core machine; never a timing assertion


def test_the_panel_generates_through_the_gateway(qtbot, gateway):
    from plugin.panel import WorkerBridge
    from plugin.qimage import to_pixels
    from plugin.studio.window import StudioWindow

    client = WorkerClient(endpoint=gateway.endpoint, token=gateway.token, spawn=False)
    try:
        win = StudioWindow(WorkerBridge(client))
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.panel.bridge.state == "ready", timeout=WAIT)
        qtbot.waitUntil(lambda: win.panel.form.model.currentText() == "builtin",
                        timeout=WAIT)
        events: list = []
        win.panel.bridge.event.connect(events.append)
        form = win.panel.form
        form.prompt.clear()
        qtbot.keyClicks(form.prompt, "a red apple")
        form.steps.setValue(6)
        form.count.setValue(2)
        form.size.setCurrentIndex(form.size.findData(64))
        qtbot.mouseClick(win.panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: win.panel.job is None and any(e.is_terminal for e in events),
                        timeout=WAIT)
        result = events[-1]
        assert result.type == "result", result.body
        assert events[0].type == "queued" and any(e.type == "progress" for e in events)
        assert len(win.doc.layers) == 2
        layer = win.doc.layers[1]
        assert to_pixels(layer.image).data == bytes(result.images[0].data)
        assert layer.provenance["prompt"] == "a red apple" and layer.provenance["steps"] == 6
        assert result.body["cluster"]["node"].startswith("t2i-node-")
    finally:
        client.close(stop_worker=False)
