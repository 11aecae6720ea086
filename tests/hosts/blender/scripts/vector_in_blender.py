"""Runs INSIDE Blender (``blender -b --factory-startup --python-exit-code 1 --python``).

Installs and enables the add-on zip; imports a known SVG drawing as curves through the
add-on's ``vectors.import_svg_curves`` (Blender's own SVG importer); generates with Vector
on through a worker the add-on starts; saves the .blend, opens it again and writes what it
saw to ``out_dir/vector_run.json``. Any exception fails the run (exit code 1).
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


def curves_of(collection):
    objs = []
    for obj in collection.all_objects:
        mat = obj.active_material
        objs.append({"name": obj.name, "type": obj.type,
                     "splines": len(obj.data.splines) if obj.type == "CURVE" else 0,
                     "bezier_points": sum(len(s.bezier_points) for s in obj.data.splines)
                     if obj.type == "CURVE" else 0,
                     "colour": list(mat.diffuse_color)[:3] if mat else None,
                     "provenance": obj.get("t2i_provenance"), "image": obj.get("t2i_image")})
    return objs


assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import addon, state  # noqa: E402
from t2i_studio.vectors import import_svg_curves  # noqa: E402

# --- a known drawing, imported by the add-on through Blender's SVG importer ----------------
collection = import_svg_curves(bpy.context, cfg["svg"], "drawing", {"prompt": "a frame"})
report["drawing"] = {"collection": collection.name, "objects": curves_of(collection),
                     "provenance": collection.get("t2i_provenance")}

# --- a generation with Vector on, through the worker the add-on starts ----------------------
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.mode = "start"
prefs.python = cfg["python"]
prefs.worker_args = cfg["worker_args"]
settings = bpy.context.scene.t2i
assert bpy.ops.t2i.connect() == {"FINISHED"}
deadline = time.monotonic() + cfg["timeout"]
while not state.session.connected:
    assert time.monotonic() < deadline and not state.session.connect_error, \
        state.session.connect_error
    addon.tick()
    time.sleep(0.05)
settings.prompt, settings.seed, settings.steps = cfg["prompt"], cfg["seed"], cfg["steps"]
settings.size = "128"
settings.vector = True
assert bpy.ops.t2i.generate() == {"FINISHED"}
job = state.session.jobs[-1]
while job.active:
    assert time.monotonic() < deadline, f"job still {job.state}"
    addon.tick()
    time.sleep(0.05)
addon.tick()
assert job.state == "done", (job.state, job.error, state.last_error)
report["generated"] = {"images": list(job.outputs), "curves": list(job.curves),
                       "vector_param": job.params.vector,
                       "objects": [o for c in job.curves
                                   for o in curves_of(bpy.data.collections[c])]}
blend = str(out / "vector.blend")
addon.close_session()
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.wm.open_mainfile(filepath=blend)
report["reopened"] = {c.name: len([o for o in c.all_objects if o.type == "CURVE"])
                      for c in bpy.data.collections}
report["reopened_images"] = [im.name for im in bpy.data.images]
(out / "vector_run.json").write_text(json.dumps(report, indent=1))
print("[t2i-test] vector run done", flush=True)
sys.stdout.flush()
