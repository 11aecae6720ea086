"""Runs INSIDE Blender (``blender -b --factory-startup --python-exit-code 1 --python``).

Installs and enables the add-on zip; makes a 32 px image datablock from the test's pixels;
presses Upscale (``t2i.upscale``, 4x) through a worker the add-on starts; asks for an
impossible size (refused with a clear message); saves the .blend, opens it again and writes
what it saw to ``out_dir/upscale_run.json`` (the new image's pixels as raw floats beside it).
"""

import json
import os
import sys
import time
from pathlib import Path

import addon_utils
import bpy

cfg = json.loads(Path(os.environ["T2I_BLENDER_TEST_CONFIG"]).read_text())
out = Path(cfg["out_dir"])
MODULE = "t2i_studio"
report = {}

assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import addon, state  # noqa: E402

prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.mode = "start"
prefs.python = cfg["python"]
prefs.worker_args = cfg["worker_args"]
settings = bpy.context.scene.t2i

# the source: 8-bit sRGB, straight alpha, the test's pixels (bottom-up floats)
w, h = cfg["width"], cfg["height"]
src = bpy.data.images.new("drawn icon", w, h, alpha=True, float_buffer=False)
src.colorspace_settings.name = "sRGB"
src.alpha_mode = "STRAIGHT"
src.pixels.foreach_set(json.loads((out / "source.json").read_text()))
src["t2i_provenance"] = json.dumps({"prompt": "a red badge", "seed": 3})
src.pack()
before = list(src.pixels)
settings.last_result = src

# no Image Editor in the background: the operator takes the last result
assert bpy.ops.t2i.connect() == {"FINISHED"}
deadline = time.monotonic() + cfg["timeout"]
while not state.session.connected:
    assert time.monotonic() < deadline and not state.session.connect_error, \
        state.session.connect_error
    addon.tick()
    time.sleep(0.05)
settings.upscale_scale = "4"
assert bpy.ops.t2i.upscale() == {"FINISHED"}
job = state.session.upscale_job
while job.active:
    assert time.monotonic() < deadline, f"upscale still {job.state}"
    addon.tick()
    time.sleep(0.05)
addon.tick()
assert job.state == "done", (job.state, job.error)
img = bpy.data.images[job.output]
(out / "upscaled.f32").write_bytes(memoryview(__import__("array").array("f", img.pixels))
                                   .tobytes())
report["upscaled"] = {"name": img.name, "size": list(img.size), "packed": img.packed_file
                      is not None, "provenance": img.get("t2i_provenance"),
                      "from": img.get("t2i_upscaled_from"), "message": state.upscale_message,
                      "last_result": settings.last_result.name}
report["source_unchanged"] = list(src.pixels) == before and tuple(src.size) == (w, h)

# too large: refused before anything is sent, saying what to do
big = bpy.data.images.new("wide", 2048, 8, alpha=True)
settings.last_result = big
settings.upscale_scale = "16"
try:
    result = bpy.ops.t2i.upscale()
except RuntimeError as e:  # an ERROR report is raised back to a script's operator call
    result = str(e)
report["too_large"] = {"result": str(result), "message": state.upscale_message,
                       "images": sorted(i.name for i in bpy.data.images)}

blend = str(out / "upscale.blend")
addon.close_session()
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.wm.open_mainfile(filepath=blend)
again = bpy.data.images.get(report["upscaled"]["name"])
report["reopened"] = {"size": list(again.size) if again else None,
                      "provenance": again.get("t2i_provenance") if again else None}
(out / "upscale_run.json").write_text(json.dumps(report, indent=1))
print("[t2i-test] upscale run done", flush=True)
sys.stdout.flush()
