"""The panel in a real Blender sidebar on a 1280 x 720 screen (Xvfb): the user clicks the
T2I tab, and the prompt, Live and Generate are drawn at the top of a sidebar no wider than
300 px, inside the visible height, with everything else folded below."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from blender_host import REPO, SCRIPTS, blender_env, blender_or_fail
from test_blender_gui import xvfb_run_or_fail

pytestmark = pytest.mark.slow  # a Blender with a window under Xvfb: ~20 s

SCREEN = (1280, 720)
ROW_PX = 30  # a generous upper bound of one UI row at UI scale 1 (Blender's is 20 px + gaps)
HEADER_PX = 30  # the panel's header ("Text to Image")


@pytest.fixture(scope="module")
def sidebar_run(tmp_path_factory) -> dict:
    blender = blender_or_fail()
    xvfb = xvfb_run_or_fail()
    tmp = tmp_path_factory.mktemp("blender_sidebar")
    zip_path = tmp / "addon.zip"
    built = subprocess.run([sys.executable, "-m", "worker.cli", "package", "blender", "-o",
                            str(zip_path)], cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    out = tmp / "out"
    out.mkdir()
    (tmp / "config.json").write_text(json.dumps({"zip": str(zip_path), "out_dir": str(out),
                                                 "timeout": 120}))
    env = blender_env(tmp, T2I_BLENDER_TEST_CONFIG=str(tmp / "config.json"))
    cmd = [xvfb, "-a", "-s", f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24", "timeout", "200",
           blender, "--factory-startup", "--enable-event-simulate", "--python-exit-code", "1",
           "--python", str(SCRIPTS / "sidebar_in_blender.py")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=230, cwd=tmp)
    result = out / "sidebar_run.json"
    assert result.exists(), f"blender exited {proc.returncode} without a report:\n" \
                            f"{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(result.read_text())
    shot = out / "sidebar.png"
    if shot.exists():  # for people: docs/blender_sidebar.png
        shutil.copyfile(shot, REPO / "docs" / "blender_sidebar.png")
    return {"report": report, "out": out, "log": proc.stdout + proc.stderr}


def test_the_t2i_tab_is_found_and_the_panel_draws_in_the_sidebar(sidebar_run):
    r = sidebar_run["report"]
    assert r["errors"] == [] and r["draw_errors"] == [], (r["errors"], r["draw_errors"])
    assert r["screen"] == list(SCREEN)
    drawn = [d for d in r["draws"] if d["region"] == "UI"]
    assert drawn, "the panel never drew in the sidebar"
    assert all(d["space"] == "IMAGE_EDITOR" for d in drawn)
    assert 0 < r["width"] <= 300  # a sidebar no wider than the 300 px
    assert "Traceback" not in sidebar_run["log"], sidebar_run["log"][-3000:]


def test_prompt_live_and_generate_come_first_and_lie_inside_the_visible_height(sidebar_run):
    r = sidebar_run["report"]
    laid_out = [d for d in r["draws"] if d["region"] == "UI"][-1]["laid_out"]
    assert "op:t2i.generate" in laid_out, laid_out
    above = laid_out[: laid_out.index("op:t2i.generate")]
    # only the connection row, the prompt, the negative prompt and the Live row sit above
    # Generate: four rows; the model, size, steps and the rest are folded sub-panels below
    assert set(above) <= {"op:t2i.connect", "prop:prompt", "prop:negative_prompt",
                          "prop:live", "op:t2i.live_type", "op:t2i.live_pin"}, above
    assert {"prop:prompt", "prop:live"} <= set(above)
    rows_above = 4
    assert HEADER_PX + (rows_above + 1) * ROW_PX <= r["height"], r["height"]
    for folded in ("prop:model", "prop:steps", "prop:size", "prop:guidance"):
        assert folded not in laid_out  # advanced settings are not in the first panel


def test_the_screenshot_shows_the_sidebar(sidebar_run):
    shot = sidebar_run["out"] / "sidebar.png"
    assert shot.exists() and shot.stat().st_size > 10_000
