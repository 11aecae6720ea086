"""The worker is killed (-9) during a run: the panel says so, the client restarts the worker,
the panel comes back to ready and the next generation works."""

from __future__ import annotations

import os
import signal

from panel_helpers import WAIT, spawn_env
from qtpy.QtCore import Qt

from worker.client import WorkerClient


def test_worker_killed_during_a_run_shows_lost_then_recovers(qtbot, tmp_path, tiny_weights):
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    client = WorkerClient(
        worker_args=["--weights-dir", str(tiny_weights), "--threads", "1",
                     "--log-level", "WARNING"],
        env=spawn_env(tmp_path), connection_file=tmp_path / "no-advertised-worker.json")
    try:
        window = StudioWindow(WorkerBridge(client))
        qtbot.addWidget(window)
        window.show()
        panel = window.panel
        assert panel.state_history[0] == "starting"
        assert "Starting" in panel.status.text()
        qtbot.waitUntil(lambda: panel.state_history[-1] == "ready", timeout=WAIT)
        assert "Ready" in panel.status.text()
        first_pid = client.proc.pid

        events: list = []
        panel.bridge.event.connect(events.append)
        form = panel.form
        form.prompt.setPlainText("a long job")
        form.steps.setValue(200)
        form.count.setValue(16)
        form.size.setCurrentIndex(form.size.findData(512))
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any(e.type == "progress" for e in events), timeout=WAIT)
        os.kill(first_pid, signal.SIGKILL)

        qtbot.waitUntil(lambda: panel.job is None and any(e.is_terminal for e in events),
                        timeout=WAIT)
        assert [e.error_code for e in events if e.is_terminal] == ["worker_lost"]
        assert "stopped while working on this" in panel.message.text()
        qtbot.waitUntil(lambda: "lost" in panel.state_history, timeout=WAIT)
        # the panel's own record, not bridge.state: each receiver of the client's state
        # signal gets its own queued call, so the bridge may know "ready" a moment earlier
        qtbot.waitUntil(lambda: panel.state_history[-1] == "ready", timeout=WAIT)
        seen = panel.state_history
        lost = seen.index("lost")
        assert seen[lost + 1] == "restarting" and seen[-1] == "ready", seen
        assert client.proc is not None and client.proc.pid != first_pid
        assert "Ready" in panel.status.text()

        # the new worker serves the next generation
        form.steps.setValue(2)
        form.count.setValue(1)
        form.size.setCurrentIndex(form.size.findData(32))
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(window.doc.layers) == 2, timeout=WAIT)
        assert window.doc.layers[1].provenance["prompt"] == "a long job"
    finally:
        client.close()
