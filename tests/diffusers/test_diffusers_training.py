"""Fine-tuning SD-family models (issue 7): the real worker's ``train`` request on the tiny SD 1.x
model writes a kohya-named adapter with ``ss_*``/ModelSpec metadata that the worker lists and
uses at once, and that diffusers' own kohya loader reads back to the same image; cancel and
resume are exact; SDXL and SD3 train in-process; inpainting models are refused clearly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from diffusers_helpers import PROMPT, Zoo, reference_image

from worker import protocol as P

KOHYA_KEY = re.compile(r"lora_unet_[a-z0-9_]+\.(lora_down\.weight|lora_up\.weight|alpha)")
COMMON = {"model": "tiny-sd1", "prompt": PROMPT, "seed": 5, "steps": 4, "guidance": 5.0,
          "width": 64, "height": 64}


@pytest.fixture(scope="module")
def squares(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small folder: coloured squares on white, with same-name captions."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("squares")
    for i, (name, rgb) in enumerate([("red", (230, 20, 20)), ("blue", (20, 20, 230)),
                                     ("red", (200, 0, 0)), ("blue", (0, 0, 200))]):
        a = np.full((48, 48, 3), 255, np.uint8)
        a[8:40, 8:40] = rgb
        Image.fromarray(a).save(folder / f"{name}_{i}.png")
        (folder / f"{name}_{i}.txt").write_text(f"a {name} square")
    return folder


def train_body(folder: Path, name: str, **kw) -> dict:
    base = {"folder": str(folder), "name": name, "model": "tiny-sd1", "steps": 8, "batch": 2,
            "rank": 4, "alpha": 4.0, "learning_rate": 1e-2, "sample_every": 0,
            "checkpoint_every": 100}
    return P.TrainParams(**{**base, **kw}).to_body()


def image(raw, **kw) -> np.ndarray:
    body = P.GenerateParams(**{**COMMON, **kw}).to_body()
    res = raw.until_terminal(raw.send("generate", body=body), 120)[-1]
    assert res.type == "result", res.body
    return res.images[0].to_numpy()[..., :3].astype(int)


def test_worker_trains_sd1_adapter_in_kohya_naming_and_uses_it(raw, zoo: Zoo, squares):
    from t2i_core.finetune.dataset import hash_tree

    before = hash_tree(squares)
    base = image(raw)
    events = raw.until_terminal(raw.send("train", body=train_body(
        squares, "sd-squares", sample_prompts=["a red square"], sample_every=4)), 300)
    res = events[-1]
    assert res.type == "result", res.body
    progress = [e for e in events if e.type == "progress"]
    assert [e.body["step"] for e in progress if e.body["phase"] == "training"] == list(
        range(1, 9))
    assert all(np.isfinite(e.body["loss"]) for e in progress if e.body["phase"] == "training")
    samples = [e for e in progress if e.images]
    assert samples and samples[0].images[0].name == "sample"
    assert samples[0].images[0].shape == (64, 64, 4)  # the model's resolution
    assert res.body["name"] == "sd-squares" and res.body["images"] == 4
    path = Path(res.body["path"])
    assert path == zoo.models / "loras" / "sd-squares.safetensors"
    assert "sd-squares" in res.body["loras"] and "sd-squares" in raw.call("hello").body["loras"]
    assert hash_tree(squares) == before  # the user's folder is only read

    # the worker uses it at once: weight 1 changes the image, weight 0 is the base model
    on = image(raw, loras=[P.LoraParam("sd-squares", 1.0)])
    zero = image(raw, loras=[P.LoraParam("sd-squares", 0.0)])
    assert np.abs(zero - base).max() <= 2
    assert np.abs(on - base).max() > 4
    assert np.abs(image(raw) - base).max() <= 2  # and training left the base model as it was
    # the run's last preview is the finished adapter's: what generating with it gives
    final = samples[-1].images[0].to_numpy()[..., :3].astype(int)
    same = image(raw, seed=0, steps=20, guidance=7.0, loras=[P.LoraParam("sd-squares", 1.0)])
    assert np.abs(final - same).max() <= 2
    assert np.abs(final - image(raw, seed=0, steps=20, guidance=7.0)).max() > 4

    # kohya naming and kohya's / ModelSpec metadata
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
        alphas = {float(f.get_tensor(k)) for k in keys if k.endswith(".alpha")}
    assert keys and all(KOHYA_KEY.fullmatch(k) for k in keys), keys[:5]
    for proj in ("to_q", "to_k", "to_v", "to_out_0"):
        assert f"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_{proj}" \
               ".lora_down.weight" in keys
    assert alphas == {4.0}
    expected = {"ss_network_module": "networks.lora", "ss_network_dim": "4",
                "ss_network_alpha": "4.0", "ss_base_model_version": "sd_v1",
                "ss_output_name": "sd-squares", "ss_steps": "8", "ss_max_train_steps": "8",
                "ss_num_train_images": "4", "modelspec.sai_model_spec": "1.0.0",
                "modelspec.architecture": "stable-diffusion-v1/lora",
                "modelspec.implementation": "diffusers", "modelspec.title": "sd-squares",
                "modelspec.resolution": "64x64", "modelspec.prediction_type": "epsilon"}
    assert {k: meta.get(k) for k in expected} == expected
    import json

    assert json.loads(meta["ss_tag_frequency"]) == {squares.name: {"a red square": 2,
                                                                   "a blue square": 2}}
    assert float(meta["ss_training_started_at"]) > 1.7e9
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", meta["modelspec.date"])
    folder_model = next(m for m in raw.call("hello").body["models"] if m["id"] == "tiny-sd1")
    assert meta["ss_new_sd_model_hash"] == folder_model["hash"]

    # diffusers' kohya loader reads the file back: the same image as the worker's
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(zoo.models / "tiny-sd1"),
                                                   local_files_only=True,
                                                   dtype=torch.float32)
    pipe.load_lora_weights(str(path))
    again = reference_image(pipe, PROMPT, 5, 4, 5.0, 64).astype(int)
    assert np.abs(again - on).max() <= 2


def test_cancelled_training_resumes_exactly(raw, zoo: Zoo, squares):
    """Cancel mid-run; the same request again continues from the checkpoint written at the
    cancel and ends with the very adapter an uninterrupted run makes."""
    body = train_body(squares, "resume-me", steps=16)
    rid = raw.send("train", body=body)
    while True:
        ev = raw.recv(120)
        assert ev is not None and ev.id == rid and ev.type != "result", ev
        if ev.type == "progress" and ev.body.get("phase") == "training" \
                and ev.body["step"] >= 2:
            break
    cid = raw.send("cancel", body={"target": rid})
    got = raw.collect([rid, cid], timeout=120)
    assert got[rid][-1].type == "cancelled", got[rid][-1].body
    assert "resume-me" not in raw.call("hello").body["loras"]
    resumed = raw.until_terminal(raw.send("train", body=body), 300)[-1]
    assert resumed.type == "result", resumed.body
    assert resumed.body["name"] == "resume-me"
    assert 2 <= resumed.body["resumed_from"] < 16 and resumed.body["steps"] == 16
    whole = raw.until_terminal(raw.send("train", body=train_body(
        squares, "no-break", steps=16)), 300)[-1]
    assert whole.type == "result" and whole.body["resumed_from"] == 0

    from safetensors.torch import load_file

    a, b = load_file(resumed.body["path"]), load_file(whole.body["path"])
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_bad_train_requests_are_clear_errors(raw, squares, tmp_path):
    missing = raw.call("train", body=train_body(squares, "x", model="nope"))
    assert missing.type == "error" and missing.body["code"] == "model_not_found"
    assert "tiny-sd1" in missing.body["message"]
    empty = raw.call("train", body=train_body(tmp_path, "x"))
    assert empty.type == "error" and empty.body["code"] == "folder_empty", empty.body
    # the look (render_steps, layers "none") is the built-in model's: refused, not ignored
    listed = {m["id"]: m for m in raw.call("list_models").body["models"]}
    assert listed["tiny-sd1"]["train_look"] is False  # so the panel does not offer it
    shading = raw.call("train", body=train_body(squares, "x", render_steps=400))
    assert shading.type == "error" and shading.body["code"] == "bad_render_steps"
    assert "trains no look" in shading.body["message"], shading.body
    no_lora = raw.call("train", body=train_body(squares, "x", layers="none"))
    assert no_lora.type == "error" and no_lora.body["code"] == "bad_layers", no_lora.body
    assert image(raw).shape == (64, 64, 3)  # and it keeps serving


def test_inpainting_models_are_not_trainable(zoo: Zoo, tmp_path):
    import tiny_models as tm
    from diffusers import UNet2DConditionModel

    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.errors import T2IError
    from t2i_core.finetune.request import TrainRequest

    pipe = tm.build("sd1", tmp_path / "tok")
    pipe.unet = UNet2DConditionModel(**{**pipe.unet.config, "in_channels": 9})
    tm.save_folder(pipe, tmp_path / "models" / "tiny-inpaint")
    backend = DiffusersBackend(models_dir=tmp_path / "models", cache_dir=zoo.cache,
                               device="cpu")
    with pytest.raises(T2IError) as e:
        backend.check_trainable("tiny-inpaint")
    assert e.value.code == "not_trainable" and "train its base model" in e.value.message
    with pytest.raises(T2IError):
        backend.trainer(TrainRequest(folder=str(tmp_path), name="x", model="tiny-inpaint"))
    # and the model list says so, so the panel's Train tab does not offer it
    assert {m.id: m.train_defaults for m in backend.models()}["tiny-inpaint"] is None


def test_the_trainer_refuses_the_looks_settings_in_process_too(tmp_path, zoo: Zoo):
    """Not only the worker edge (accept.py): ``train()`` called in-process with an SD model
    and the built-in model's look settings is a clear error, not settings silently skipped."""
    import tiny_models as tm

    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.errors import T2IError
    from t2i_core.finetune.request import TrainRequest

    tm.save_folder(tm.build("sd1", tmp_path / "tok"), tmp_path / "models" / "tiny-sd1")
    backend = DiffusersBackend(models_dir=tmp_path / "models", cache_dir=zoo.cache,
                               device="cpu")
    for settings, code in (({"render_steps": 400}, "bad_render_steps"),
                           ({"layers": "none"}, "bad_layers")):
        with pytest.raises(T2IError) as e:
            backend.trainer(TrainRequest(folder=str(tmp_path), name="x", model="tiny-sd1",
                                         **settings))
        assert e.value.code == code and "trains no look" in e.value.message


PEFT_KEY = re.compile(r"transformer\.[a-z0-9_.]+\.lora_[AB]\.weight")


@pytest.mark.parametrize("family", ["sdxl", "sd3"])
def test_sdxl_and_sd3_train_in_process_and_leave_the_base_model_as_it_was(
        zoo: Zoo, squares, tmp_path, family):
    from safetensors import safe_open

    from t2i_core.backends.base import GenerateRequest, LoraRef
    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    backend = DiffusersBackend(models_dir=zoo.models, cache_dir=zoo.cache, device="cpu",
                               loras_dir=tmp_path / "loras")
    req = GenerateRequest(prompt=PROMPT, model=f"tiny-{family}", width=64, height=64, steps=3,
                          seed=2)
    base = backend.generate(req).images[0].astype(int)
    result = train(backend, TrainRequest(folder=str(squares), name="xl", model=f"tiny-{family}",
                                         steps=8, batch=2, rank=4, alpha=4.0,
                                         learning_rate=1e-2, sample_every=0))
    with safe_open(result.path, "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    if family == "sdxl":
        assert keys and all(KOHYA_KEY.fullmatch(k) for k in keys)
        assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
        assert meta["ss_base_model_version"] == "sdxl_base_v1-0"
        assert meta["modelspec.implementation"] == ("https://github.com/Stability-AI/"
                                                    "generative-models")
    else:  # MMDiT: the peft naming (ComfyUI reads it) with rank and alpha as JSON
        assert keys and all(PEFT_KEY.fullmatch(k) for k in keys), keys[:3]
        assert meta["modelspec.architecture"] == "stable-diffusion-3-medium/lora"
        assert '"transformer.lora_alpha": 4.0' in meta["lora_adapter_metadata"]
    assert np.abs(backend.generate(req).images[0].astype(int) - base).max() <= 2
    req.loras = [LoraRef("xl", 1.0)]
    assert backend.loras() == ["xl"]
    assert np.abs(backend.generate(req).images[0].astype(int) - base).max() > 4


def test_t2i_train_model_option_trains_through_a_diffusers_worker(diffusers_worker, zoo: Zoo,
                                                                  squares):
    """``t2i train --model tiny-sd1 --endpoint ...``: the command line's way to the same job."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1",
           "T2I_WORKER_TOKEN": diffusers_worker.token}
    out = subprocess.run([sys.executable, "-m", "worker.commands", "train", "--model", "tiny-sd1",
                          "--folder", str(squares), "--name", "from-cli", "--steps", "3",
                          "--batch", "1", "--endpoint", diffusers_worker.endpoint],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert str(zoo.models / "loras" / "from-cli.safetensors") in out.stdout
    local = subprocess.run([sys.executable, "-m", "worker.commands", "train", "--local", "--model",
                            "tiny-sd1", "--folder", str(squares), "--name", "x"], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=600)
    assert local.returncode == 2 and "t2i worker --backend diffusers" in local.stderr


def test_settings_left_out_come_from_the_model(raw, squares):
    """An SD model lists its own training settings; a request that leaves them out gets those
    (batch 2, learning rate 1e-4, rank 16), not the built-in model's batch 16 / lr 2e-3."""
    models = {m["id"]: m for m in raw.call("list_models").body["models"]}
    own = models["tiny-sd1"]["train_defaults"]
    assert own["batch"] < P.TRAIN_DEFAULTS["batch"]
    assert own["learning_rate"] < P.TRAIN_DEFAULTS["learning_rate"]
    body = P.TrainParams(folder=str(squares), name="sd-defaults", model="tiny-sd1", steps=2,
                         sample_every=0).to_body()
    assert "batch" not in body and "learning_rate" not in body and "rank" not in body
    res = raw.until_terminal(raw.send("train", body=body), 300)[-1]
    assert res.type == "result", res.body
    from safetensors import safe_open

    with safe_open(res.body["path"], "pt") as f:
        meta = f.metadata()
    assert meta["ss_batch_size_per_device"] == str(own["batch"])
    assert float(meta["ss_learning_rate"]) == own["learning_rate"]
    assert meta["ss_network_dim"] == str(own["rank"])
    assert meta["ss_max_train_steps"] == "2"  # the request's own value wins


def test_prior_preservation_draws_class_images_without_the_trigger(zoo: Zoo, squares,
                                                                   tmp_path):
    """DreamBooth's regularisation batch (issue 16): the base model draws one image per
    folder caption with the trigger taken out; each step mixes them in (``prior``)."""
    import torch

    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.backends.diffusers_backend.train_data import class_prompts
    from t2i_core.finetune.dataset import load_folder
    from t2i_core.finetune.request import TrainRequest

    assert class_prompts(["sq style, a red square", "a blue square", "sq style"],
                         "sq style") == ["a red square", "a blue square", "an image"]
    backend = DiffusersBackend(models_dir=zoo.models, cache_dir=zoo.cache, device="cpu",
                               loras_dir=tmp_path / "loras")
    req = TrainRequest(folder=str(squares), name="prior", model="tiny-sd1", trigger="sq style",
                       steps=2, batch=2, rank=4, alpha=4.0, learning_rate=1e-2, prior=0.5)
    trainable = backend.trainer(req)
    trainable.adapter_name = "prior"
    data = load_folder(squares, req.trigger)
    trainable.prepare(data, req)
    try:
        assert trainable.prior_captions == [c.split(", ", 1)[1] for c in data.captions]
        assert trainable.prior_mean.shape[:2] == (len(data), 1)
        assert trainable.prior_mean.shape[2:] == trainable.mean.shape[2:]
        assert torch.isfinite(trainable.loss(np.random.default_rng(0)))
    finally:
        from t2i_core.backends.diffusers_backend.trainer import release

        release(trainable.loaded)
