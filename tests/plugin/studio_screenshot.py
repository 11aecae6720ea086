"""Render the standalone editor after a generation with the real built-in model, offscreen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/plugin/studio_screenshot.py docs/studio.png
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/plugin/studio_screenshot.py \
        docs/live_panel.png --live      # Vector on: the traced preview (--raster: off)
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/plugin/studio_screenshot.py \
        docs/studio_vector.png --vector

(tests/plugin/test_studio_screenshot.py runs the same function into a temporary folder.)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def wait_until(cond: Callable[[], bool], timeout: float = 300.0) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the editor did not get there in time")
        QApplication.processEvents()
        time.sleep(0.02)


def render(out: Path, prompt: str = "a house", state_dir: Path | None = None,
           vector: bool = False) -> dict:
    """Generate ``prompt`` (4 images, 512 px) with the real weights and save a screenshot;
    ``vector``: with the Vector option, so the layer is a vector layer (SVG)."""
    from qtpy.QtWidgets import QApplication

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow
    from worker.client import WorkerClient

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    # the worker's history and connection file go to a scratch folder, never next to `out`
    state = Path(state_dir or tempfile.mkdtemp(prefix="t2i-studio-shot-"))
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "T2I_HISTORY_DIR": str(state / "history")}
    client = WorkerClient(worker_args=["--log-level", "WARNING"], env=env,
                          connection_file=state / "no-advertised-worker.json")
    try:
        window = StudioWindow(WorkerBridge(client))
        window.resize(1360, 860)
        window.show()
        panel = window.panel
        wait_until(lambda: panel.bridge.state == "ready" and panel.form.size.count() > 0)
        form = panel.form
        form.prompt.setPlainText(prompt)
        form.seed.setValue(8)  # its first image is a clear house outline; the strip shows 4
        form.seed_lock.setChecked(True)
        form.count.setValue(4)
        form.size.setCurrentIndex(form.size.findData(512))
        form.vector.setChecked(vector)
        panel.generate()
        wait_until(lambda: panel.job is None)
        if panel.message.isVisible() and len(window.doc.layers) < 2:
            raise RuntimeError(panel.message.text())
        wait_until(lambda: panel.bridge.state == "ready")  # the heartbeat after the job
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out), "PNG"):
            raise OSError(f"could not write {out}")
        return {"layers": len(window.doc.layers), "results": panel.results.count(),
                "vector_layers": sum(la.svg is not None for la in window.doc.layers),
                "status": panel.bridge.state, "size": (window.width(), window.height())}
    finally:
        client.close()


def render_live(out: Path, prompts: tuple[str, ...] = ("a red apple", "a bicycle"),
                pin_first: bool = False, vector: bool = True) -> dict:
    """Live mode: type the prompts one after another (pinning the first preview if asked) and
    grab the window with its preview layer (the worker's defaults serve the committed live
    model). ``vector``: with the form's Vector option, so the preview is the traced drawing
    rendered at the canvas size (sharp); without it the 32 px preview is enlarged by the
    no-learning resampler (soft at 512 px)."""
    from qtpy.QtWidgets import QApplication

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow
    from worker.client import WorkerClient

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    state = Path(tempfile.mkdtemp(prefix="t2i-studio-shot-"))
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "T2I_HISTORY_DIR": str(state / "history")}
    client = WorkerClient(worker_args=["--log-level", "WARNING"], env=env,
                          connection_file=state / "no-advertised-worker.json")
    try:
        window = StudioWindow(WorkerBridge(client))
        window.resize(1360, 860)
        window.show()
        panel, live = window.panel, window.panel.live
        wait_until(lambda: panel.bridge.state == "ready" and live.available)
        panel.form.seed.setValue(3)
        panel.form.seed_lock.setChecked(True)
        panel.form.size.setCurrentIndex(panel.form.size.findData(512))
        panel.form.vector.setChecked(vector)
        panel.live_bar.toggle.setChecked(True)
        for i, prompt in enumerate(prompts):
            panel.form.prompt.setPlainText(prompt)
            wait_until(lambda p=prompt: live.current_id is None and not live.timer.isActive()
                       and live.last is not None and live.last[1].get("prompt") == p)
            if pin_first and i == 0:
                panel.live_bar.pin_button.click()
        if not window.grab().save(str(out), "PNG"):
            raise OSError(f"could not write {out}")
        return {"layers": [layer.name for layer in window.doc.layers],
                "vector_preview": live.last_svg is not None}
    finally:
        client.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/studio.png")
    print(render_live(target, vector="--raster" not in sys.argv) if "--live" in sys.argv
          else render(target, vector="--vector" in sys.argv))
