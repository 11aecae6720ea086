"""Runs INSIDE Blender (``blender -b --factory-startup --python-exit-code 1 --python``).

Installs and enables the add-on zip; builds a known plan geometry with the add-on's
``plan.build_plan``; plans from text through the worker the add-on starts (operator
``t2i.plan``); edits the programme text and re-solves (``t2i.plan_resolve``); renders the
plan with Cycles; saves the .blend, opens it again and writes what it saw to
``out_dir/plan_run.json``. Any exception fails the run (exit code 1).
"""

import json
import math
import os
import sys
import time
from pathlib import Path

import addon_utils
import bpy
from mathutils import Vector

cfg = json.loads(Path(os.environ["T2I_BLENDER_TEST_CONFIG"]).read_text())
out = Path(cfg["out_dir"])
MODULE = "t2i_studio"
report = {}

assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import addon, plan, state  # noqa: E402

for obj in list(bpy.data.objects):  # the factory cube, camera and light
    bpy.data.objects.remove(obj, do_unlink=True)


def describe(collection):
    objs = {}
    for obj in collection.objects:
        xs = [(obj.matrix_world @ v.co) for v in obj.data.vertices]
        objs[obj.name] = {
            "part": obj.get("t2i_part"), "room": obj.get("t2i_room"),
            "kind": obj.get("t2i_kind"), "faces": len(obj.data.polygons),
            "min": [min(p[i] for p in xs) for i in range(3)],
            "max": [max(p[i] for p in xs) for i in range(3)]}
    return {"name": collection.name, "objects": objs, "data": plan.plan_data(collection)}


def wall_hits(obj, points):
    """For each (x, y, z): is it inside the walls mesh? (a ray straight up through the
    point crosses an odd number of faces when it starts inside a closed box)."""
    inv = obj.matrix_world.inverted()
    hits = []
    for x, y, z in points:
        origin = inv @ Vector((x, y, z))
        count, start = 0, origin.copy()
        for _ in range(20):
            ok, loc, _normal, _index = obj.ray_cast(start, Vector((0, 0, 1)))
            if not ok:
                break
            count += 1
            start = loc + Vector((0, 0, 1e-4))
        hits.append(count % 2 == 1)
    return hits


# --- 1. a known geometry, built directly ---------------------------------------------------
geometry = json.loads(Path(cfg["geometry"]).read_text())
collection = plan.build_plan(geometry, "Known plan", {"programme": geometry["programme"]}, 2.7)
walls = next(o for o in collection.objects if o.get("t2i_part") == "walls")
bpy.context.view_layer.update()
door = next(d for d in geometry["doors"] if not d["entrance"])
dx = sum(p[0] for p in door["opening"]) / 4
dy = sum(p[1] for p in door["opening"]) / 4
win = geometry["windows"][0]
wx = sum(p[0] for p in win["opening"]) / 4
wy = sum(p[1] for p in win["opening"]) / 4
box = geometry["wall_boxes"][0]
bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
report["known"] = describe(collection)
report["known_hits"] = {
    "door_low": wall_hits(walls, [(dx, dy, 1.0)])[0],     # the door opening: no wall
    "door_high": wall_hits(walls, [(dx, dy, 2.4)])[0],    # above the door head: wall
    "window_mid": wall_hits(walls, [(wx, wy, 1.5)])[0],   # the window: no wall
    "window_low": wall_hits(walls, [(wx, wy, 0.5)])[0],   # below the sill: wall
    "wall_mid": wall_hits(walls, [(bx, by, 1.3)])[0]}     # a plain wall: wall
bpy.data.collections.remove(collection)

# --- 2. plan from text through the worker the add-on starts ---------------------------------
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


def run(op):
    assert op() == {"FINISHED"}, state.plan_message
    job = state.session.plan_job
    while job.active:
        assert time.monotonic() < deadline, f"plan job still {job.state}"
        addon.tick()
        time.sleep(0.05)
    addon.tick()
    assert job.state == "done", (job.state, job.error)
    return job


settings.plan_prompt = cfg["prompt"]
settings.plan_wall_height = 3.0
run(bpy.ops.t2i.plan)
made = plan.plan_collections()
assert len(made) == 1, made
report["planned"] = describe(made[0])
report["message"] = state.plan_message

# --- 3. edit the programme text, re-solve: the same collection is rebuilt -------------------
text = bpy.data.texts[made[0]["t2i_programme_text"]]
prog = json.loads(text.as_string())
prog["rooms"] = [r for r in prog["rooms"] if r["kind"] != "hall"]
for r in prog["rooms"]:
    if r["kind"] == "living":
        r["area"] = 18.0
text.clear()
text.write(json.dumps(prog))
bpy.context.view_layer.objects.active = made[0].objects[0]
run(bpy.ops.t2i.plan_resolve)
report["resolved"] = describe(made[0])
report["collections_after_resolve"] = [c.name for c in plan.plan_collections()]

# --- 4. a render of the extruded plan (Cycles on the CPU: no GPU needed headless) ----------
scene = bpy.context.scene
lay = report["resolved"]["data"]["layout"]
W, D = lay["width"], lay["depth"]
cam_data = bpy.data.cameras.new("plan camera")
cam = bpy.data.objects.new("plan camera", cam_data)
scene.collection.objects.link(cam)
cam.location = (W * 0.5 - 0.9 * max(W, D), -0.95 * max(W, D), 1.25 * max(W, D))
direction = Vector((W / 2, D / 2, 0)) - cam.location
cam.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
scene.camera = cam
sun_data = bpy.data.lights.new("sun", "SUN")
sun_data.energy = 4.0
sun = bpy.data.objects.new("sun", sun_data)
sun.rotation_euler = (math.radians(40), math.radians(15), math.radians(30))
scene.collection.objects.link(sun)
world = scene.world or bpy.data.worlds.new("World")
scene.world = world
world.use_nodes = True
world.node_tree.nodes["Background"].inputs[0].default_value = (0.85, 0.88, 0.92, 1)
world.node_tree.nodes["Background"].inputs[1].default_value = 0.6
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = cfg.get("samples", 24)
scene.cycles.use_denoising = False  # Debian's Blender has no OpenImageDenoise
scene.render.resolution_x, scene.render.resolution_y = 960, 640
scene.render.filepath = str(out / "plan_render.png")
t0 = time.monotonic()
bpy.ops.render.render(write_still=True)
report["render_s"] = round(time.monotonic() - t0, 1)

# --- 5. save, reopen: the plan and its programme are still there ---------------------------
blend = str(out / "plan.blend")
addon.close_session()
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.wm.open_mainfile(filepath=blend)
report["reopened"] = [describe(c) for c in plan.plan_collections()]
report["reopened_texts"] = [t.name for t in bpy.data.texts]
(out / "plan_run.json").write_text(json.dumps(report, indent=1, default=str))
print("[t2i-test] plan run done", flush=True)
sys.stdout.flush()
