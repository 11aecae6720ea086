"""Runs INSIDE Blender (``blender -b --factory-startup --python-exit-code 1 --python``).

Installs and enables the add-on zip, points its preferences at a studio's cluster gateway
with the artist's CURVE key files (mode "Connect to an endpoint", Gateway key, Your key),
generates one image through the add-on's operator and writes what it saw to
``out_dir/gateway_run.json`` (+ the raw float pixels). Background Blender has no event loop,
so this script calls the add-on's registered timer callback itself (as
tests/hosts/blender/scripts/generate_in_blender.py does). Any exception fails the run.
"""

import json
import os
import sys
import time
from array import array
from pathlib import Path

import addon_utils
import bpy

cfg = json.loads(Path(os.environ["T2I_BLENDER_TEST_CONFIG"]).read_text())
out = Path(cfg["out_dir"])
MODULE = "t2i_studio"

assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
from t2i_studio import addon, state  # noqa: E402  (exists only once enabled)

prefs = bpy.context.preferences.addons[MODULE].preferences
settings = bpy.context.scene.t2i
prefs.mode = "endpoint"
prefs.endpoint = cfg["endpoint"]
prefs.server_key = cfg["server_key"]
prefs.client_key = cfg["client_key"]
assert bpy.ops.t2i.connect() == {"FINISHED"}
deadline = time.monotonic() + cfg["timeout"]
while not state.session.connected:
    assert time.monotonic() < deadline and not state.session.connect_error, \
        state.session.connect_error
    addon.tick()
    time.sleep(0.05)
session = state.session
assert session.client.curve, "the key files were not used"
settings.prompt = cfg["prompt"]
settings.size = "64"
settings.seed, settings.steps, settings.count = cfg["seed"], cfg["steps"], 1
assert bpy.ops.t2i.generate() == {"FINISHED"}
job = session.jobs[-1]
while job.active:
    assert time.monotonic() < deadline, f"job {job.id} still {job.state}"
    addon.tick()
    time.sleep(0.05)
addon.tick()
assert job.state == "done", (job.state, job.error, state.last_error)
img = bpy.data.images[job.outputs[0]]
values = array("f", bytes(4 * len(img.pixels)))
img.pixels.foreach_get(values)
(out / "pixels.f32").write_bytes(values.tobytes())
(out / "gateway_run.json").write_text(json.dumps({
    "size": list(img.size), "cluster": job.result.body["cluster"],
    "provenance": job.result.body["provenance"][0],
    "client": type(session.client).__module__}))
print("[t2i-test] done", job.outputs, flush=True)
sys.stdout.flush()
