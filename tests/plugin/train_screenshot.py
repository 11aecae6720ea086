"""Render the standalone editor's Train tab after a finished run with the real built-in model.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/plugin/train_screenshot.py \
        docs/finetune_panel.png

The folder is the benchmark's "riso tiles" (benchmarks/style_folder.py, drawn locally, plus
two non-image files so the result lists skipped files), trained with the Look "Colours +
learned shading" (the renderer's 400 steps beside the LoRA); the adapter library is a
temporary folder, so nothing of the user's is touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from studio_screenshot import wait_until  # noqa: E402


def render(out: Path, steps: int = 120) -> dict:
    from qtpy.QtWidgets import QApplication
    from style_folder import build_style_folder

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow
    from worker.client import WorkerClient

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="t2i-train-shot-") as tmp:
        state = Path(tmp)
        folder = build_style_folder(state / "riso tiles")
        (folder / "notes.txt.bak").write_text("not an image")
        (folder / "thumbs.db").write_bytes(b"\x00" * 16)
        env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", "T2I_HISTORY_DIR": str(state / "history"),
               "T2I_ADAPTER_DIR": str(state / "adapters")}
        client = WorkerClient(worker_args=["--log-level", "WARNING"], env=env,
                              connection_file=state / "no-advertised-worker.json")
        try:
            window = StudioWindow(WorkerBridge(client))
            window.resize(1360, 860)
            window.show()
            wait_until(lambda: window.panel.bridge.state == "ready"
                       and window.panel.form.size.count() > 0)
            tp = window.train_panel
            window.tabs.setCurrentIndex(1)  # Train
            tp.set_folder(str(folder))
            tp.name.setText("riso")
            tp.trigger.setText("riso print")
            tp.sample_prompts.setPlainText("a star, riso print\na house, riso print\n"
                                           "a cat, riso print\na fish, riso print")
            tp.advanced_toggle.setChecked(True)
            tp.steps.setValue(steps)
            tp.sample_every.setValue(max(1, steps // 2))
            tp.look.setCurrentIndex(tp.look.findText("Colours + learned shading (slower)"))
            tp.train()
            wait_until(lambda: tp.job_id is None, timeout=900)
            if tp.last_result is None:
                raise RuntimeError(tp.message.text())
            wait_until(lambda: "riso" in [window.panel.form.adapters.item(r, 0).text()
                                          for r in range(window.panel.form.adapters.rowCount())])
            wait_until(lambda: window.panel.bridge.state == "ready")
            out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(out), "PNG"):
                raise OSError(f"could not write {out}")
            return {"message": tp.message.text(), "info": tp.info.text(),
                    "samples": tp.visible_samples(), "seconds": tp.last_result.seconds,
                    "images_per_s": tp.last_result.images_per_s,
                    "settings": tp.last_result.metadata.get("settings")}
        finally:
            client.close()


if __name__ == "__main__":
    print(render(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/finetune_panel.png")))
