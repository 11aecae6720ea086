"""Runs INSIDE a full Blender with a window (Xvfb, 1280 x 720, ``--enable-event-simulate``):
the add-on's panel in a real sidebar, as a user on a small laptop screen sees it.

Blender 3.4 cannot choose a sidebar tab from Python, so this script does what the user does:
it clicks down the sidebar's tab strip until the "T2I" tab is the one drawn. The sidebar
keeps Blender's own default width (229 px at 1280 x 720, UI scale 1: narrower than the
300 px the panel is designed for; simulated drags of its edge do not resize it in 3.4). It
records every draw of the panel (region size, the order of what the panel lays out) and a
screenshot, writes ``sidebar_run.json`` and quits. The test asserts on the JSON.
"""

import json
import os
import sys
import time
import traceback
from pathlib import Path

import addon_utils
import bpy

cfg = json.loads(Path(os.environ["T2I_BLENDER_TEST_CONFIG"]).read_text())
out = Path(cfg["out_dir"])
MODULE = "t2i_studio"
report = {"errors": [], "draw_errors": [], "draws": [], "clicks": 0, "phase_log": []}
t_start = time.monotonic()

assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import panels  # noqa: E402


class RecordingLayout:
    """Forwards to Blender's real UILayout and notes, in drawing order, each property and
    operator the panel lays out (nested rows and columns included)."""

    def __init__(self, real, log):
        self._real, self._log = real, log

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._real, name, value)

    def _nested(self, name, *a, **k):
        return RecordingLayout(getattr(self._real, name)(*a, **k), self._log)

    def row(self, *a, **k):
        return self._nested("row", *a, **k)

    def column(self, *a, **k):
        return self._nested("column", *a, **k)

    def box(self, *a, **k):
        return self._nested("box", *a, **k)

    def split(self, *a, **k):
        return self._nested("split", *a, **k)

    def prop(self, data, name, *a, **k):
        self._log.append(f"prop:{name}")
        return self._real.prop(data, name, *a, **k)

    def operator(self, idname, *a, **k):
        self._log.append(f"op:{idname}")
        return self._real.operator(idname, *a, **k)


real_draw_panel = panels.draw_panel


def recording_draw_panel(layout, context):
    log = []
    try:
        real_draw_panel(RecordingLayout(layout, log), context)
    except Exception:  # noqa: BLE001
        report["draw_errors"].append(traceback.format_exc())
    region = context.region
    report["draws"].append({"region": region.type, "width": region.width,
                            "height": region.height, "space": context.space_data.type,
                            "laid_out": log})


# The Image Editor's panel draws through the recorder (Blender looks ``draw`` up on the
# registered class at each redraw)
panel_class = next(c for c in panels.CLASSES if c.bl_idname == "T2I_PT_image_editor")
panel_class.draw = lambda self, context: recording_draw_panel(self.layout, context)
state = {"phase": "setup", "ticks": 0, "k": 0, "deadline": time.monotonic() + cfg["timeout"]}


def finish():
    report["elapsed_s"] = time.monotonic() - t_start
    (out / "sidebar_run.json").write_text(json.dumps(report, indent=1, default=str))
    bpy.ops.wm.quit_blender()


def sidebar():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "IMAGE_EDITOR")
    return window, area, next(r for r in area.regions if r.type == "UI")


def drawn_in_sidebar() -> bool:
    return any(d["region"] == "UI" for d in report["draws"])


def step():
    state["ticks"] += 1
    if time.monotonic() > state["deadline"]:
        report["errors"].append(f"stalled in phase {state['phase']}")
        finish()
        return None
    phase = state["phase"]
    if phase == "setup":  # the biggest area becomes an Image Editor with its sidebar open
        window = bpy.context.window_manager.windows[0]
        area = max(window.screen.areas, key=lambda a: a.width * a.height)
        area.type = "IMAGE_EDITOR"
        area.spaces.active.show_region_ui = True
        state["phase"] = "find_tab"
        return 0.3
    window, area, region = sidebar()
    if phase == "find_tab":  # click down the vertical tab strip at the sidebar's right edge
        if drawn_in_sidebar():
            report["draws"].clear()  # from here on: the draws once the tab is shown
            area.tag_redraw()
            state["phase"] = "settle"
            return 0.2
        if state["k"] > 2 * 40:
            report["errors"].append("the T2I tab was not found in the sidebar's tab strip")
            finish()
            return None
        x, y = region.x + region.width - 8, region.y + region.height - 10 - 15 * (state["k"] // 2)
        if state["k"] % 2 == 0:
            window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x, y=y)
        else:
            window.event_simulate(type="LEFTMOUSE", value="PRESS", x=x, y=y)
            window.event_simulate(type="LEFTMOUSE", value="RELEASE", x=x, y=y)
            report["clicks"] += 1
        state["k"] += 1
        return 0.2
    if phase == "settle":
        if not drawn_in_sidebar():
            area.tag_redraw()
            return 0.3
        report["width"], report["height"] = region.width, region.height
        report["screen"] = [window.width, window.height]
        with bpy.context.temp_override(window=window, area=area, region=region):
            bpy.ops.screen.screenshot_area(filepath=str(out / "sidebar.png"))
        finish()
        return None
    return 0.2


def driver():
    try:
        return step()
    except Exception:  # noqa: BLE001
        report["errors"].append(traceback.format_exc())
        finish()
        return None


bpy.app.timers.register(driver, first_interval=1.0)
sys.stdout.flush()
