"""Runs INSIDE a full Blender with a window (under Xvfb, ``--enable-event-simulate``): Live.

A driver timer turns Live on, starts "Type live" over the Image Editor, and types five
characters as real key events (``Window.event_simulate``: they go through Blender's event
queue into the add-on's modal operator), then Enter. It records every state of the one
live image datablock (its address and update count), then writes ``live_run.json`` and the
final pixels, and quits. Every check is asserted by tests/hosts/blender/test_blender_live.py.
"""

import json
import os
import sys
import time
import traceback
from array import array
from pathlib import Path

import addon_utils
import bpy

cfg = json.loads(Path(os.environ["T2I_BLENDER_TEST_CONFIG"]).read_text())
out = Path(cfg["out_dir"])
MODULE = "t2i_studio"
report = {"errors": [], "pointers": [], "updates_seen": [], "typed": [], "phase_log": []}
t_start = time.monotonic()

assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import addon, live, panels, state  # noqa: E402

prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.mode, prefs.python, prefs.worker_args = "start", cfg["python"], cfg["worker_args"]
KEYS = {" ": "SPACE"}


def finish():
    report["elapsed_s"] = time.monotonic() - t_start
    (out / "live_run.json").write_text(json.dumps(report, indent=1, default=str))
    addon.close_session()
    bpy.ops.wm.quit_blender()


def image_editor_override():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "IMAGE_EDITOR")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return {"window": window, "screen": window.screen, "area": area, "region": region}


def watch_image():
    img = bpy.data.images.get(live.LIVE_IMAGE)
    if img is None:
        return
    n = int(img.get("t2i_live_updates", 0))
    if not report["updates_seen"] or report["updates_seen"][-1][0] != n:
        report["updates_seen"].append([n, img.get("t2i_live_prompt", "")])
        report["pointers"].append(img.as_pointer())


phase = {"name": "setup", "deadline": time.monotonic() + cfg["timeout"], "i": 0}


def driver():
    try:
        return step()
    except Exception:  # noqa: BLE001
        report["errors"].append(traceback.format_exc())
        finish()
        return None


def step():
    if time.monotonic() > phase["deadline"]:
        report["errors"].append(f"stalled in phase {phase['name']}")
        finish()
        return None
    watch_image()
    name = phase["name"]
    if name == "setup":
        window = bpy.context.window_manager.windows[0]
        area = next(a for a in window.screen.areas if a.type == "DOPESHEET_EDITOR")
        area.type = "IMAGE_EDITOR"
        area.spaces.active.show_region_ui = True
        s = bpy.context.scene.t2i
        s.seed, s.size, s.prompt = cfg["seed"], str(cfg["size"]), ""
        with bpy.context.temp_override(**image_editor_override()):
            s.live = True  # the toggle: connects, starts the live timer
        report["live_on"] = bool(s.live)
        report["live_timer"] = bpy.app.timers.is_registered(live.live_tick)
        phase["name"] = "connect"
        return 0.1
    if name == "connect":
        if state.session is None or not state.session.connected:
            return 0.1
        report["models"] = [m.id for m in state.session.models]
        with bpy.context.temp_override(**image_editor_override()):
            report["type_returned"] = sorted(bpy.ops.t2i.live_type("INVOKE_DEFAULT"))
        phase["name"] = "type"
        return 0.2
    if name == "type":
        window = bpy.context.window_manager.windows[0]
        text = cfg["typed"]
        i = phase["i"]
        if i < len(text):
            ch = text[i]
            key = KEYS.get(ch, ch.upper())
            window.event_simulate(type=key, value="PRESS", unicode=ch, x=400, y=300)
            window.event_simulate(type=key, value="RELEASE", x=400, y=300)
            phase["i"] = i + 1
            report["typed"].append([round(time.monotonic() - t_start, 3), ch])
            return cfg["key_interval"]
        window.event_simulate(type="RET", value="PRESS", x=400, y=300)
        window.event_simulate(type="RET", value="RELEASE", x=400, y=300)
        phase["name"], phase["since"] = "settle", time.monotonic()
        return 0.1
    if name == "settle":
        c = live.controller
        img = bpy.data.images.get(live.LIVE_IMAGE)
        done = c is not None and not c.busy and img is not None \
            and img.get("t2i_live_prompt") == cfg["typed"]
        if not done:
            return 0.05
        time.sleep(0.3)  # nothing else may arrive: a late stale result must not land
        return_after = time.monotonic()
        phase["name"], phase["until"] = "record", return_after + 0.5
        return 0.1
    if name == "record":
        if time.monotonic() < phase["until"]:
            return 0.05
        s = bpy.context.scene.t2i
        c = live.controller
        img = bpy.data.images[live.LIVE_IMAGE]
        report["prompt"] = s.prompt
        report["typing_ended"] = not live.typing["active"]
        report["sent_prompts"] = [p.prompt for p in c.sent]
        report["sent_models"] = sorted({p.model for p in c.sent})
        report["cancelled"] = c.cancelled
        report["ignored_events"] = c.ignored_events
        report["live_error"] = c.error
        report["image_names"] = [im.name for im in bpy.data.images
                                 if im.name.startswith("T2I Live")]
        report["size"] = list(img.size)
        report["provenance"] = json.loads(img.get("t2i_live_provenance", "{}"))
        shown = image_editor_override()["area"].spaces.active.image
        report["image_editor_shows"] = shown.name if shown else None
        values = array("f", bytes(4 * len(img.pixels)))
        img.pixels.foreach_get(values)
        (out / "live_pixels.f32").write_bytes(values.tobytes())
        # the sidebar panel drawn 300 px wide (15 UI units of 20 px), Live on, for a person
        # to look at (a sidebar's width cannot be set from Python in Blender 3.4)
        def draw(popover, context):
            try:
                panels.draw_panel(popover.layout, context)
                report["narrow_draws"] = report.get("narrow_draws", 0) + 1
            except Exception:  # noqa: BLE001
                report["errors"].append(traceback.format_exc())
        with bpy.context.temp_override(**image_editor_override()):
            bpy.context.window_manager.popover(draw, ui_units_x=15, keymap=None)
        phase["name"], phase["until"] = "shot", time.monotonic() + 1.0
        return 0.1
    if name == "shot":
        if time.monotonic() < phase["until"]:
            return 0.1
        s = bpy.context.scene.t2i
        with bpy.context.temp_override(**image_editor_override()):
            bpy.ops.screen.screenshot(filepath=str(out / "live.png"))
        s.live = False
        report["image_after_off"] = live.LIVE_IMAGE in bpy.data.images
        report["timer_after_off"] = bpy.app.timers.is_registered(live.live_tick)
        finish()
        return None
    report["errors"].append(f"unknown phase {name}")
    finish()
    return None


bpy.app.timers.register(driver, first_interval=0.5)
print("[t2i-test] live driver registered", file=sys.stderr, flush=True)
