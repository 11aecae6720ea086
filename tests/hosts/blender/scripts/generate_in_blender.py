"""Runs INSIDE Blender (``blender -b --factory-startup --python-exit-code 1 --python``).

Installs and enables the add-on zip, points it at a Python that runs the worker, drives a
text-to-image and an image-to-image generation through the add-on's operators, uses the
result as the Cube's base color and as an image plane, saves the .blend and writes what it
saw to ``out_dir/blender_run.json`` (+ raw float pixels) for the test to compare.

Background Blender has no event loop, so ``bpy.app.timers`` never fire on their own: this
script plays the event loop and calls the add-on's registered timer callback itself.
Any exception fails the run (exit code 1).
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


def log(*a):
    print("[t2i-test]", *a, flush=True)


def dump_pixels(img, path):
    values = array("f", bytes(4 * len(img.pixels)))
    img.pixels.foreach_get(values)
    path.write_bytes(values.tobytes())


def pump_until_done(addon, job, timeout):
    deadline = time.monotonic() + timeout
    while job.active:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job.id} still {job.state} after {timeout} s")
        assert bpy.app.timers.is_registered(addon.tick), "the add-on's timer is not registered"
        if addon.tick() is None:  # what Blender's event loop does; None: the timer stopped
            break
        time.sleep(0.05)
    addon.tick()


# --- install and enable, as Preferences ▸ Add-ons ▸ Install does -------------------------
assert bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True) == {"FINISHED"}
addon_utils.modules_refresh()
assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
mod = sys.modules[MODULE]
installed_at = Path(mod.__file__).parent
log("enabled", installed_at)
assert str(installed_at).startswith(os.environ["BLENDER_USER_SCRIPTS"]), installed_at
from t2i_studio import addon, state  # noqa: E402  (exists only once enabled)

prefs = bpy.context.preferences.addons[MODULE].preferences
scene = bpy.context.scene
settings = scene.t2i

# --- a clear error before anything is configured --------------------------------------------
prefs.mode = "start"
settings.prompt = cfg["prompt"]
try:  # an operator that reports ERROR raises when called from Python
    bpy.ops.t2i.generate()
    raise SystemExit("generate without a Worker Python did not report an error")
except RuntimeError as e:
    unconfigured_error = str(e)
assert "Worker Python" in unconfigured_error and state.session is None, unconfigured_error

# --- an interpreter that cannot run the worker: the error reaches the user, no retry loop -----
prefs.python = "/bin/false"
assert bpy.ops.t2i.generate() == {"FINISHED"}  # valid settings: the failure comes later
broken = state.session.jobs[-1]
pump_until_done(addon, broken, 60)
assert broken.state == "error" and "could not start the worker" in broken.error, broken.error
assert state.session is None and "could not start the worker" in state.last_error
bad_python_error = broken.error

# --- text to image ---------------------------------------------------------------------------
prefs.python = cfg["python"]
prefs.worker_args = cfg["worker_args"]
assert bpy.ops.t2i.connect() == {"FINISHED"}  # the refresh button: start, load the lists
deadline = time.monotonic() + cfg["timeout"]
while not state.session.connected:
    assert time.monotonic() < deadline and not state.session.connect_error, \
        state.session.connect_error
    addon.tick()
    time.sleep(0.05)
props_mod = sys.modules[f"{MODULE}.properties"]  # the dynamic enums' item callbacks
model_items = [i[0] for i in props_mod.model_items(settings, bpy.context)]
size_items = [i[0] for i in props_mod.size_items(settings, bpy.context)]
settings.size = "256"  # RNA accepts an item the worker offers...
try:
    settings.size = "100"  # ...and refuses one it does not
    raise SystemExit("size 100 was accepted")
except TypeError:
    pass
settings.size = "128"
settings.seed, settings.steps, settings.count = cfg["seed"], cfg["steps"], cfg["count"]
settings.negative_prompt = cfg["negative_prompt"]
t0 = time.monotonic()
assert bpy.ops.t2i.generate() == {"FINISHED"}
submit_s = time.monotonic() - t0  # the operator returns at once; the worker starts meanwhile
session = state.session
job = session.jobs[-1]
pump_until_done(addon, job, cfg["timeout"])
log("txt2img", job.state, job.error, job.outputs, f"{time.monotonic() - t0:.1f}s")
assert job.state == "done", (job.state, job.error, state.last_error)
sizes = {m.id: m.sizes for m in session.models}
# the vendored client, not a `worker` package from anywhere else
client_module = type(session.client).__module__
assert client_module == f"{MODULE}._vendor.t2i_worker.client", client_module
txt_images = [bpy.data.images[n] for n in job.outputs]
assert settings.last_result == txt_images[0]

# --- image to image from the first result ----------------------------------------------------
settings.use_init_image = True
settings.init_image = txt_images[0]
settings.strength = 0.5
settings.count = 1
settings.seed = cfg["seed"] + 100
assert bpy.ops.t2i.generate() == {"FINISHED"}
job2 = session.jobs[-1]
pump_until_done(addon, job2, cfg["timeout"])
log("img2img", job2.state, job2.error, job2.outputs)
assert job2.state == "done", (job2.state, job2.error)
img2 = bpy.data.images[job2.outputs[0]]

# --- a big float image as init: scaled to the request, converted, left untouched ------------
big = bpy.data.images.new("user texture", 300, 200, alpha=True, float_buffer=True)
big.pixels.foreach_set(array("f", [0.2, 0.5, 0.8, 1.0] * (300 * 200)))
n_images = len(bpy.data.images)
settings.init_image, settings.steps, settings.seed = big, 4, cfg["seed"] + 200
assert bpy.ops.t2i.generate() == {"FINISHED"}
assert len(bpy.data.images) == n_images and tuple(big.size) == (300, 200)  # scratch copy gone
job3 = session.jobs[-1]
pump_until_done(addon, job3, cfg["timeout"])
assert job3.state == "done", (job3.state, job3.error)
big_px = array("f", bytes(4 * len(big.pixels)))
big.pixels.foreach_get(big_px)
assert big.is_float and tuple(big.size) == (300, 200)
assert [round(v, 4) for v in big_px[:4]] == [0.2, 0.5, 0.8, 1.0]  # the user's image unchanged
float_init = {"mode": job3.result.body["provenance"][0]["mode"], "outputs": job3.outputs}
for name in job3.outputs:  # not part of the saved file's checks
    bpy.data.images.remove(bpy.data.images[name])
bpy.data.images.remove(big)
settings.last_result = img2

# --- a model with generation defaults of its own: shown, and left out of the request --------
defaults = {}
if cfg.get("defaults_model"):
    settings.use_init_image, settings.count = False, 1
    settings.model = cfg["defaults_model"]  # its update shows the model's own values
    assert bpy.ops.t2i.model_defaults() == {"FINISHED"}  # forget the steps set above
    defaults["shown"] = [settings.steps, round(settings.guidance, 3), settings.size]
    assert bpy.ops.t2i.generate() == {"FINISHED"}
    djob = session.jobs[-1]
    pump_until_done(addon, djob, cfg["timeout"])
    assert djob.state == "done", (djob.state, djob.error)
    prov = djob.result.reply.provenance[0]
    defaults["sent"] = [djob.params.steps, djob.params.guidance, djob.params.width]
    defaults["used"] = [prov["model"], prov["steps"], prov["guidance"], prov["width"]]
    for name in djob.outputs:  # not part of the saved file's checks
        bpy.data.images.remove(bpy.data.images[name])
    settings.model = "builtin"  # the built-in model's own values are shown again
    defaults["builtin_shown"] = [settings.steps, round(settings.guidance, 3), settings.size]
    settings.last_result = img2

# --- the Train sub-panel: a bad folder is explained, a tiny folder becomes an adapter ----------
train = {}
if cfg.get("train_folder"):
    trainings = sys.modules[f"{MODULE}.training"]
    settings.train_folder = ""
    assert bpy.ops.t2i.train() == {"CANCELLED"}  # refused in the panel, never raised
    train["empty_field_error"] = state.train_error
    # A Blender-relative folder ("//..."): refused while the .blend is unsaved, then resolved
    # against the saved file's folder.
    relative = "//" + os.path.relpath(cfg["train_folder"], out)
    settings.train_folder = relative + "-missing"
    settings.train_name = cfg["train_name"]
    assert bpy.ops.t2i.train() == {"CANCELLED"}
    train["unsaved_relative_error"] = state.train_error
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "before_training.blend"))
    assert bpy.ops.t2i.train() == {"FINISHED"}  # the worker is the judge of its folders
    pump_until_done(addon, session.train_job, cfg["timeout"])
    train["missing_error"] = trainings.outcome_text(session.train_job)
    train["missing_code"] = session.train_job.error_code
    # the look left at its default: the request carries render_steps 0, as before the choice
    train["look_default"] = settings.train_look
    train["look_items"] = [i.identifier for i in
                           settings.bl_rna.properties["train_look"].enum_items]
    train["default_body"] = session.train_job.params.to_body()
    # the shading look: the measured 400 renderer steps; this run trains 6 of them (400 take
    # about a minute here), so the table the operator reads is set to 6 for it
    train["look_steps"] = dict(trainings.LOOK_RENDER_STEPS)
    trainings.LOOK_RENDER_STEPS["shading"] = 6
    settings.train_look = "shading"
    settings.train_folder = relative
    settings.train_trigger = cfg["train_trigger"]
    settings.train_steps = cfg["train_steps"]
    settings.train_sample_prompt = "a circle"
    train_items = [i[0] for i in props_mod.train_model_items(settings, bpy.context)]
    t0 = time.monotonic()
    assert bpy.ops.t2i.train() == {"FINISHED"}
    tjob = session.train_job
    assert tjob.active and not bpy.ops.t2i.train.poll()  # one training at a time
    phases = set()
    apply = tjob.apply

    def apply_and_look(ev):  # every event's phase (one tick may apply several events)
        apply(ev)
        phases.add(tjob.phase)

    tjob.apply = apply_and_look
    while tjob.active:  # the event loop
        assert time.monotonic() - t0 < cfg["timeout"], f"training still {tjob.state}"
        addon.tick()
        time.sleep(0.05)
    addon.tick()
    log("train", tjob.state, tjob.error, f"{time.monotonic() - t0:.1f}s")
    assert tjob.state == "done", (tjob.error_code, tjob.error)
    sample = bpy.data.images.get("T2I Training Sample")
    lora_items = [i[0] for i in props_mod.lora_items(settings, bpy.context)]
    name = tjob.result.name
    train["render_steps"] = tjob.params.render_steps  # what the operator sent
    train["settings"] = tjob.result.metadata.get("settings")  # what the worker ran
    train.update({"model_items": train_items, "phases": sorted(p for p in phases if p),
                  "outcome": trainings.outcome_text(tjob), "name": name,
                  "progress": settings.train_progress, "lora_items": lora_items,
                  "sample": None if sample is None else
                  {"name": sample.name, "size": list(sample.size),
                   "prompt": sample.get("t2i_sample_prompt"), "users": sample.users,
                   "packed": sample.packed_file is not None}})
    # generate with the new adapter at once, at a weight, no restart
    settings.use_init_image = False
    settings.lora, settings.lora_weight, settings.steps = name, 0.8, 4
    assert bpy.ops.t2i.generate() == {"FINISHED"}
    ljob = session.jobs[-1]
    pump_until_done(addon, ljob, cfg["timeout"])
    assert ljob.state == "done", (ljob.state, ljob.error)
    train["lora_generate"] = {"loras": ljob.result.body["provenance"][0]["loras"],
                              "props": json.loads(bpy.data.images[ljob.outputs[0]]["t2i_loras"])}
    for out_name in ljob.outputs:  # not part of the saved file's checks
        bpy.data.images.remove(bpy.data.images[out_name])
    settings.lora = "NONE"
    settings.last_result = img2

# --- the first result on the Cube's material, and as an image plane -------------------------
cube = bpy.data.objects["Cube"]
bpy.context.view_layer.objects.active = cube
assert bpy.ops.t2i.use_as_base_color() == {"FINISHED"}
assert bpy.ops.t2i.image_plane() == {"FINISHED"}
plane = bpy.context.view_layer.objects.active

records = []
for i, img in enumerate([*txt_images, img2]):
    dump_pixels(img, out / f"pixels_{i}.f32")
    records.append({"name": img.name, "size": list(img.size), "channels": img.channels,
                    "packed": img.packed_file is not None, "is_float": img.is_float,
                    "colorspace": img.colorspace_settings.name,
                    "props": dict(img.items()), "pixels": f"pixels_{i}.f32"})

addon.close_session()  # stops the worker this Blender started
blend = out / "result.blend"
bpy.ops.wm.save_as_mainfile(filepath=str(blend))
(out / "blender_run.json").write_text(json.dumps({
    "images": records, "unconfigured_error": unconfigured_error, "sizes": sizes,
    "bad_python_error": bad_python_error, "model_items": model_items, "float_init": float_init,
    "size_items": size_items, "train": train, "defaults": defaults,
    "submit_s": submit_s, "plane": plane.name, "blend": str(blend),
    "cube_material": cube.active_material.name,
}, indent=1))
log("saved", blend)
