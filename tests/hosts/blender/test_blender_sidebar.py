"""The panel in a real Blender sidebar on a 1280 x 720 screen (Xvfb): the user clicks the
T2I tab, and the prompt, Live and Generate are drawn at the top of a sidebar no wider than
300 px, inside the visible height, with everything else folded below."""

from __future__ import annotations

import json

import pytest
from blender_host import build_addon, run_blender_window
from host_tools import refresh_doc_picture

pytestmark = pytest.mark.slow  # a Blender with a window under Xvfb: ~20 s

SCREEN = (1280, 720)
ROW_PX = 30  # a generous upper bound of one UI row at UI scale 1 (Blender's is 20 px + gaps)
HEADER_PX = 30  # the panel's header ("Text to Image")


@pytest.fixture(scope="module")
def sidebar_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("blender_sidebar")
    zip_path = build_addon(tmp / "addon.zip")
    out = tmp / "out"
    out.mkdir()
    (tmp / "config.json").write_text(json.dumps({"zip": str(zip_path), "out_dir": str(out),
                                                 "timeout": 120}))
    report, log = run_blender_window(tmp, "sidebar_in_blender.py", out / "sidebar_run.json",
                                     "--enable-event-simulate",
                                     screen=f"{SCREEN[0]}x{SCREEN[1]}")
    shot = out / "sidebar.png"
    refresh_doc_picture(shot, "blender_sidebar.png")  # T2I_UPDATE_DOCS=1
    return {"report": report, "out": out, "log": log}


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
