"""The editor renders offscreen after a real generation with the shipped built-in model
(the same code that made docs/studio.png), and `t2i studio` is a command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from studio_screenshot import render, render_live

from worker.commands import build_parser


@pytest.mark.slow
def test_screenshot_after_a_real_generation(qtbot, tmp_path):
    out = tmp_path / "studio.png"
    info = render(out, prompt="a house", state_dir=tmp_path)
    assert info["layers"] == 2 and info["results"] == 4 and info["status"] == "ready"
    with Image.open(out) as im:
        assert im.size == info["size"]
        canvas = im.convert("RGB").crop((500, 200, 1000, 700))  # the middle of the canvas
        colours = canvas.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # a picture, not a blank window


@pytest.mark.slow
def test_live_screenshot_shows_a_sharp_vector_preview(qtbot, tmp_path):
    """docs/live_panel.png's code path: Live with Vector on gives a traced preview, and the
    canvas shows it with hard edges: little grey between ink and paper. Grey pixels per ink
    pixel in this crop: 0.05 for the vector preview, 0.10 for the raster preview through
    the resampler (bicubic + alpha contrast), 1.6 in the old picture (a Lanczos blow-up)."""
    out = tmp_path / "live.png"
    info = render_live(out, prompts=("a bicycle",))
    assert info["vector_preview"] and "Live preview" in info["layers"]
    with Image.open(out) as im:
        canvas = np.asarray(im.convert("L").crop((500, 200, 1000, 700))).astype(int)
    ink, grey = int((canvas < 60).sum()), int(((canvas >= 60) & (canvas <= 200)).sum())
    assert ink > 5000  # a drawing, not an empty canvas
    assert grey < 0.075 * ink


def test_studio_command_is_registered():
    args = build_parser().parse_args(["studio", "--endpoint", "tcp://127.0.0.1:5555",
                                      "--no-spawn", "scene.ora"])
    assert args.endpoint == "tcp://127.0.0.1:5555" and args.no_spawn
    assert str(args.file) == "scene.ora"
    out = subprocess.run([sys.executable, "-m", "worker.commands", "studio", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--endpoint" in out.stdout


def test_studio_app_connects_opens_a_file_and_quits(tmp_path, panel_worker):
    """`t2i studio --endpoint E file.ora`, in a process of its own (studio_app_driver.py):
    the window connects to the running worker and shows the file; then the window is closed
    and the app's event loop ends with exit code 0."""
    import json
    import os
    from pathlib import Path

    from plugin.studio import ora
    from plugin.studio.document import Document

    path = tmp_path / "start.ora"
    doc = Document(64, 48)
    doc.layers[0].name = "paper"
    ora.save_ora(doc, path)
    env = {**os.environ, "T2I_WORKER_TOKEN": panel_worker.token, "QT_QPA_PLATFORM": "offscreen"}
    driver = Path(__file__).with_name("studio_app_driver.py")
    repo = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(driver), panel_worker.endpoint, str(path)],
                          env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["exit_code"] == 0
    assert seen["state"] == "ready" and seen["title"].startswith("start.ora")
    assert seen["layers"] == ["paper"] and seen["size"] == [64, 48]
