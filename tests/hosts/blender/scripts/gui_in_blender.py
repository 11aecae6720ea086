"""Runs INSIDE a full Blender with a window (under Xvfb): the add-on with Blender's real
event loop. A driver timer plays the user: it presses Generate in an Image Editor, watches
the add-on's own timer bring the result in while the UI keeps running, draws the panel,
starts a long generation and presses Cancel, then writes ``gui_run.json`` and quits.

Exceptions inside timers do not stop Blender, so every check is recorded in the JSON and
asserted by the test; a watchdog quits if the run stalls.
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
report = {"errors": [], "draw_errors": [], "draws": 0, "ticks": 0, "ticks_while_busy": 0,
          "phase_log": []}
t_start = time.monotonic()


def fail(msg):
    report["errors"].append(msg)


def finish():
    report["elapsed_s"] = time.monotonic() - t_start
    (out / "gui_run.json").write_text(json.dumps(report, indent=1, default=str))
    bpy.ops.wm.quit_blender()


assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import addon, panels, state  # noqa: E402

prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.mode, prefs.python, prefs.worker_args = "start", cfg["python"], cfg["worker_args"]


def image_editor_override():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "IMAGE_EDITOR")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return {"window": window, "screen": window.screen, "area": area, "region": region}


def draw_panel_now(draw_function=None, counter="draws"):
    """Build the panel's layout for real, in a popup (a sidebar tab cannot be chosen from
    Python in Blender 3.4)."""
    def draw(menu, context):
        try:
            (draw_function or panels.draw_panel)(menu.layout, context)
            report[counter] = report.get(counter, 0) + 1
        except Exception:  # noqa: BLE001
            report["draw_errors"].append(traceback.format_exc())
    with bpy.context.temp_override(**image_editor_override()):
        bpy.context.window_manager.popup_menu(draw, title="T2I")


phase = {"name": "setup", "job": None, "deadline": time.monotonic() + cfg["timeout"]}


def driver():
    try:
        return step()
    except Exception:  # noqa: BLE001
        fail(traceback.format_exc())
        finish()
        return None


def step():
    report["ticks"] += 1
    if time.monotonic() > phase["deadline"]:
        fail(f"stalled in phase {phase['name']} ({phase['job'] and phase['job'].state})")
        finish()
        return None
    name = phase["name"]
    if name == "setup":
        window = bpy.context.window_manager.windows[0]
        area = next(a for a in window.screen.areas if a.type == "DOPESHEET_EDITOR")
        area.type = "IMAGE_EDITOR"
        area.spaces.active.show_region_ui = True
        s = bpy.context.scene.t2i
        s.prompt, s.seed, s.steps, s.count = cfg["prompt"], cfg["seed"], cfg["steps"], 1
        phase["name"] = "generate"
        return 0.1
    if name == "generate":
        with bpy.context.temp_override(**image_editor_override()):
            result = bpy.ops.t2i.generate()
        report["generate_returned"] = sorted(result)
        phase["job"] = state.session.jobs[-1]
        report["timer_registered"] = bpy.app.timers.is_registered(addon.tick)
        phase["name"] = "wait"
        return 0.1
    job = phase["job"]
    if name == "wait":
        if job.active:
            report["ticks_while_busy"] += 1
            if job.state == "running" and not report["draws"]:
                draw_panel_now()
            return 0.1
        report["job_state"], report["job_error"] = job.state, job.error
        report["outputs"] = list(job.outputs)
        override = image_editor_override()
        shown = override["area"].spaces.active.image
        report["image_editor_shows"] = shown.name if shown else None
        draw_panel_now()
        if job.outputs:
            img = bpy.data.images[job.outputs[0]]
            report["history"] = img.get("t2i_history")
            report["size"] = list(img.size)
            from array import array
            values = array("f", bytes(4 * len(img.pixels)))
            img.pixels.foreach_get(values)
            (out / "gui_pixels.f32").write_bytes(values.tobytes())
        with bpy.context.temp_override(**override):
            bpy.ops.screen.screenshot(filepath=str(out / "gui.png"))
        bpy.context.scene.t2i.steps = 200
        with bpy.context.temp_override(**override):
            report["use_as_init_returned"] = sorted(bpy.ops.t2i.use_as_init())
            init = bpy.context.scene.t2i.init_image
            report["init_image"] = init.name if init else None
            bpy.ops.t2i.generate()
        phase["job"], phase["name"] = state.session.jobs[-1], "cancel"
        return 0.1
    if name == "cancel":
        shown = image_editor_override()["area"].spaces.active.image
        if shown is not None and shown.name == "T2I Preview":
            report["preview_seen_at_step"] = report.get("preview_seen_at_step", job.step)
        if job.state == "running" and ("preview_seen_at_step" in report or job.step >= 100):
            with bpy.context.temp_override(**image_editor_override()):
                report["cancel_returned"] = sorted(bpy.ops.t2i.cancel())
            phase["name"] = "cancelled"
        elif not job.active:
            fail(f"the long job ended before it could be cancelled: {job.state} {job.error}")
            finish()
            return None
        return 0.1
    if name == "cancelled":
        if job.active:
            return 0.1
        report["cancel_state"], report["cancel_step"] = job.state, job.step
        report["preview_left"] = "T2I Preview" in bpy.data.images
        report["last_info"], report["last_error"] = state.last_info, state.last_error
        if cfg.get("train_folder"):  # the Train sub-panel, pressed and drawn for real
            s = bpy.context.scene.t2i
            s.train_folder, s.train_name = cfg["train_folder"], "gui tiles"
            s.train_steps, s.train_sample_prompt = cfg["train_steps"], "a circle"
            draw_panel_now(panels.draw_train_panel, "train_draws")  # the form alone
            with bpy.context.temp_override(**image_editor_override()):
                report["train_returned"] = sorted(bpy.ops.t2i.train())
            phase["job"], phase["name"] = state.session.train_job, "train"
            return 0.1
        phase["name"] = "before_prefs"
        return 0.1
    if name == "train":
        if job.active:
            report["ticks_while_training"] = report.get("ticks_while_training", 0) + 1
            if job.state == "running" and not report.get("train_draws_busy"):
                draw_panel_now(panels.draw_train_panel, "train_draws_busy")
            return 0.1
        report["train_state"], report["train_error"] = job.state, job.error
        report["train_name"] = job.result.name if job.result else None
        report["train_last_info"] = state.last_info
        draw_panel_now(panels.draw_train_panel, "train_draws_done")
        phase["name"], phase["until"] = "train_drawn", time.monotonic() + 1
        return 0.2
    if name == "train_drawn":
        if time.monotonic() < phase["until"]:
            return 0.2  # let Blender draw the popup
        with bpy.context.temp_override(**image_editor_override()):
            bpy.ops.screen.screenshot(filepath=str(out / "train.png"))
        phase["name"] = "before_prefs"
        return 0.1
    if name == "before_prefs":
        # The add-on's preferences, drawn by Blender in the Preferences window (its draw
        # errors would show as tracebacks in the log, which the test checks).
        bpy.context.preferences.active_section = "ADDONS"
        bpy.context.window_manager.addon_search = "T2I"
        bpy.ops.preferences.addon_expand(module=MODULE)
        with bpy.context.temp_override(**image_editor_override()):
            bpy.ops.screen.userpref_show()
        phase["name"], phase["until"] = "prefs", time.monotonic() + 3
        return 0.2
    if name == "prefs":
        if time.monotonic() < phase["until"]:
            return 0.2  # let Blender draw the Preferences window a few times
        windows = bpy.context.window_manager.windows
        report["windows"] = len(windows)
        with bpy.context.temp_override(window=windows[-1], screen=windows[-1].screen):
            bpy.ops.screen.screenshot(filepath=str(out / "prefs.png"))
        addon.close_session()
        finish()
        return None
    fail(f"unknown phase {name}")
    finish()
    return None


bpy.app.timers.register(driver, first_interval=0.5)
print("[t2i-test] driver registered", file=sys.stderr, flush=True)
