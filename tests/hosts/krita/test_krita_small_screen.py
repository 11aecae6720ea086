"""The T2I docker in real Krita on a 1280 x 720 screen with Krita's default dockers open
(a fresh profile's workspace): the window fits the screen, and the Generate button and the
prompt lie inside the screen, before and after a generation. In the same Krita run: Live
follows the active document (the preview moves; the old document's preview layer goes).

    .venv/bin/python -m pytest tests/hosts/krita/test_krita_small_screen.py
    (the screenshot it takes: docs/krita_1280x720.png, copied from the test's out folder)
"""

from __future__ import annotations

import json
import sys

import pytest
from host_tools import refresh_doc_picture
from krita_host import build_zip, install_plugin, krita_or_fail, run_scenario

pytestmark = pytest.mark.slow  # Krita with a window under Xvfb

SCREEN = (1280, 720)


def _inside(rect: list[int], screen: list[int]) -> bool:
    x, y, w, h = rect
    sx, sy, sw, sh = screen
    return w > 0 and h > 0 and sx <= x and sy <= y and x + w <= sx + sw and y + h <= sy + sh


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> dict:
    krita_or_fail()
    tmp = tmp_path_factory.mktemp("krita-small")
    home = tmp / "home"
    home.mkdir()
    install_plugin(home, build_zip(tmp), {
        "mode": "start", "python": sys.executable,
        "worker_args": f"--threads 1 --history-dir {tmp / 'history'}"})
    out = tmp / "out"
    report, log = run_scenario(home, {
        "width": 256, "height": 256, "prompt": "a red apple", "seed": 7, "size": 128,
        "small_screen": True, "live_prompt": "a blue car", "out_dir": str(out),
        "screenshot": str(out / "small.png"),
        "timeout": 240}, timeout=300, screen=f"{SCREEN[0]}x{SCREEN[1]}x24")
    assert report["ok"], f"{report.get('error')}\n{json.dumps(report)[:3000]}\n{log[-4000:]}"
    return {"report": report, "out": out}


def test_generate_and_prompt_lie_inside_a_1280x720_screen(small_run):
    s = small_run["report"]["small_screen"]
    for when in ("before", "after"):
        m = s[when]
        assert m["screen"] == [0, 0, *SCREEN], m
        assert m["generate_visible"] and _inside(m["generate"], m["screen"]), m
        assert m["prompt_visible"] and _inside(m["prompt"], m["screen"]), m
        assert m["window_minimum"][1] <= SCREEN[1], m  # the docker does not stretch Krita
        assert _inside(m["window"], m["screen"]), m  # Krita took the screen's size
        assert m["advanced_folded"]
    # Krita's default dockers are open beside ours
    assert "T2I Studio" in s["before"]["dockers"] and len(s["before"]["dockers"]) >= 3, s
    assert s["results"] == 1, small_run["report"].get("message")


def test_screenshot_at_1280x720(small_run):
    from PIL import Image

    shot = small_run["out"] / "small.png"
    with Image.open(shot) as im:
        assert im.width <= SCREEN[0] and im.height <= SCREEN[1]
    refresh_doc_picture(shot, "krita_1280x720.png")  # T2I_UPDATE_DOCS=1


def test_live_follows_the_active_document(small_run):
    r = small_run["report"]["live_documents"]
    assert r["available"]
    assert r["a_first"] == [1, True]  # [previews in A, A shows the live result]
    assert r["b_active"] == [0, 1, True]  # A's preview layer removed, B shows the preview
    assert r["a_again"] == [1, 0, True]  # back in A, and B keeps no preview
    assert r["off"] == [0, 0]
