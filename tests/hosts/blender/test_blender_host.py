"""The add-on in a real Blender (Debian's blender 3.4, headless), with a real worker.

One Blender run installs the zip that ``t2i package blender`` builds, enables it, generates
through a worker it starts with the built-in model (the committed weights), and saves the
.blend; a second Blender opens that file without the add-on. The pixels are compared with
the PNGs the worker itself wrote to its history folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from blender_host import (
    REPO,
    SCRIPTS,
    blender_env,
    blender_or_fail,
    blender_rgba8,
    build_addon,
    run_blender,
)
from PIL import Image

sys.path.insert(0, str(REPO / "tests" / "finetune"))
from finetune_helpers import make_folder  # noqa: E402

pytestmark = pytest.mark.slow  # two Blender runs and a worker start: ~35 s

PROMPT = "a (red:1.2) apple"
SEED = 7


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    blender_or_fail()
    tmp = tmp_path_factory.mktemp("blender_host")
    zip_path = tmp / "t2i_studio-blender.zip"
    build_addon(zip_path)
    out = tmp / "out"
    out.mkdir()
    history = tmp / "history"
    train_folder = make_folder(tmp / "my tiles")  # the Train sub-panel's folder
    cfg = {"zip": str(zip_path), "python": sys.executable, "out_dir": str(out),
           "worker_args": f"--history-dir '{history}' --threads 1 --log-level WARNING "
                          f"--backend-option 'builtin.adapters_dir={tmp / 'adapters'}'",
           # a model whose generation defaults are unlike the built-in model's
           "defaults_model": "live",
           "prompt": PROMPT, "negative_prompt": "green", "seed": SEED, "steps": 12,
           "count": 2, "timeout": 180, "train_folder": str(train_folder),
           "train_name": "tiles", "train_trigger": "teal tile style", "train_steps": 4}
    (tmp / "config.json").write_text(json.dumps(cfg))
    env = blender_env(tmp, T2I_BLENDER_TEST_CONFIG=str(tmp / "config.json"))
    run_blender(["--python", str(SCRIPTS / "generate_in_blender.py")], env, tmp / "run1.log")
    first = json.loads((out / "blender_run.json").read_text())
    run_blender([first["blend"], "--python", str(SCRIPTS / "inspect_blend.py")],
                blender_env(tmp, T2I_BLENDER_TEST_OUT=str(out)), tmp / "run2.log", timeout=120)
    second = json.loads((out / "reopen.json").read_text())
    return {"first": first, "second": second, "out": out, "history": history,
            "adapters": tmp / "adapters", "train_folder": train_folder}


def history_png(record: dict) -> np.ndarray:
    path = Path(record["props"]["t2i_history"])
    assert path.is_file(), f"the worker's history PNG {path} is missing"
    return np.asarray(Image.open(path).convert("RGBA")).astype(np.int16)


def test_results_are_8bit_srgb_packed_images_named_from_the_prompt(runs):
    images = runs["first"]["images"]
    assert [im["name"] for im in images] == ["a red apple s7", "a red apple s8",
                                             "a red apple s107"]
    for im in images:
        assert im["packed"] and not im["is_float"] and im["colorspace"] == "sRGB"
        assert im["size"] == [128, 128]


def test_pixels_equal_the_workers_images(runs):
    for im in runs["first"]["images"]:
        worker = history_png(im)
        blender = blender_rgba8(runs["out"] / im["pixels"], *im["size"])
        assert blender.shape == worker.shape
        diff = np.abs(blender - worker)
        assert diff.max() <= 1, f"{im['name']}: {int((diff > 1).sum())} values differ by >1"
        assert (diff == 0).mean() > 0.999  # 8-bit round trip is exact in practice
    a, b = (blender_rgba8(runs["out"] / im["pixels"], 128, 128)
            for im in runs["first"]["images"][:2])
    assert np.abs(a - b).max() > 0, "seed 7 and seed 8 gave the same image"


def test_provenance_is_stored_as_custom_properties(runs):
    txt, _, img2img = runs["first"]["images"]
    prov = json.loads(txt["props"]["t2i_provenance"])
    sidecar = json.loads(Path(txt["props"]["t2i_history"]).with_suffix(".json").read_text())
    assert prov == sidecar["provenance"]
    assert prov["prompt"] == PROMPT and prov["negative_prompt"] == "green"
    assert prov["seed"] == SEED and prov["steps"] == 12 and prov["mode"] == "txt2img"
    assert txt["props"]["t2i_seed"] == SEED and txt["props"]["t2i_prompt"] == PROMPT
    assert len(txt["props"]["t2i_model_hash"]) == 64
    assert json.loads(txt["props"]["t2i_loras"]) == []
    p2 = json.loads(img2img["props"]["t2i_provenance"])
    assert p2["mode"] == "img2img" and p2["strength"] == 0.5 and p2["seed"] == SEED + 100


def test_provenance_and_pixels_survive_save_and_reopen(runs):
    before = {im["name"]: im for im in runs["first"]["images"]}
    after = {im["name"]: im for im in runs["second"]["images"]}
    assert set(after) == set(before)
    for name, im in after.items():
        assert im["packed"], f"{name} is not packed in the saved .blend"
        assert im["props"] == before[name]["props"]
        worker = history_png(im)
        diff = np.abs(blender_rgba8(runs["out"] / im["pixels"], *im["size"]) - worker)
        assert diff.max() <= 1, name


def test_result_is_the_cube_base_color_and_an_image_plane(runs):
    second = runs["second"]
    last_result = runs["first"]["images"][-1]["name"]  # the buttons act on the last result
    assert second["cube"] == {"image": last_result, "linked": ["T2I Base Color"]}
    plane = second["planes"][runs["first"]["plane"]]
    assert plane == {"image": last_result, "linked": ["T2I Base Color"]}


def test_a_large_float_image_works_as_init_image(runs):
    # 300x200 scene-linear float image, scaled by Blender to the 128 px request
    assert runs["first"]["float_init"] == {"mode": "img2img", "outputs": ["a red apple s207"]}


def test_model_and_size_lists_come_from_the_worker(runs):
    first = runs["first"]
    assert first["model_items"] == ["builtin", "live"]  # the worker's default backends
    assert first["size_items"] == [str(s) for s in first["sizes"]["builtin"]]
    assert "128" in first["size_items"]


def test_a_models_own_generation_defaults_are_shown_and_run(runs):
    d = runs["first"]["defaults"]
    # the live model's own (one step, no guidance), not the built-in model's 20 steps at 3
    assert d["shown"] == [1, 0.0, "128"]
    assert d["sent"] == [None, None, None]  # left out: the worker fills the model's own
    assert d["used"] == ["live", 1, 0.0, 128]  # the provenance records what ran
    assert d["builtin_shown"] == [20, 3.0, "128"]


def test_unconfigured_or_broken_python_gives_a_clear_error(runs):
    msg = runs["first"]["unconfigured_error"]
    assert "Worker Python" in msg and "Preferences" in msg and "t2i worker" in msg
    assert "could not start the worker (/bin/false -m worker)" in runs["first"]["bad_python_error"]


def test_train_panel_makes_an_adapter_that_generation_uses_at_once(runs):
    from safetensors import safe_open

    train = runs["first"]["train"]
    assert train["empty_field_error"].startswith("Pick the folder of images to train on")
    assert train["missing_code"] == "folder_not_found"
    assert train["unsaved_relative_error"].startswith("The folder //../my tiles-missing is "
                                                      "relative to the .blend file")
    assert train["missing_error"].startswith("The image folder was not found on the worker's")
    # the "//" path was resolved against the saved .blend's folder before it was sent
    assert f"{runs['train_folder']}-missing" in train["missing_error"]
    assert train["model_items"] == ["builtin"]  # only the worker's trainable models
    assert train["name"] == "tiles" and (runs["adapters"] / "tiles.safetensors").is_file()
    # the Look: "colours" by default, sending render_steps 0 (the request of before the
    # choice); "shading" reached the worker, which trained the renderer into the adapter
    assert train["look_items"] == ["colours", "shading"] and train["look_default"] == "colours"
    assert train["default_body"]["render_steps"] == 0
    assert train["look_steps"] == {"colours": 0, "shading": 400}
    assert train["render_steps"] == 6 and train["settings"]["render_steps"] == 6
    with safe_open(str(runs["adapters"] / "tiles.safetensors"), "np") as f:
        assert "look.render.config" in set(f.keys())
    assert train["outcome"].startswith("Adapter “tiles” is ready: trained on 7 images in 4 "
                                       "steps.")
    assert "Skipped " in train["outcome"]  # the folder's clutter, named
    assert {"loading", "training", "saving"} <= set(train["phases"]), train["phases"]
    assert train["progress"] == pytest.approx(100.0)
    # the latest sample preview is a scratch Blender image, not saved with the .blend
    assert train["sample"] == {"name": "T2I Training Sample", "size": [64, 64],
                               "prompt": "a circle", "users": 0, "packed": False}
    assert "T2I Training Sample" not in runs["second"]["all_images"]
    assert "tiles" in train["lora_items"]  # offered in the generation panel at once
    assert train["lora_generate"]["loras"] == [{"name": "tiles", "weight": 0.8}]
    assert train["lora_generate"]["props"] == [{"name": "tiles", "weight": 0.8}]
