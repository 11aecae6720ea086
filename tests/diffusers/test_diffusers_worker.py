"""The real worker (``python -m worker --backend diffusers``) on a folder of tiny random models:
every family in both layouts, modes, seeds, schedulers, progress/previews, cancel, errors and
LoRA adapters in both namings (one trained here with peft and saved in the kohya naming)."""

from __future__ import annotations

import numpy as np
import pytest
from diffusers_helpers import FAMILIES, PROMPT, Zoo

from worker import protocol as P

FAST = {"width": 64, "height": 64, "steps": 3, "guidance": 5.0}


def gen(raw, images=None, timeout: float = 120, **kw):
    body = P.GenerateParams(**{"prompt": "a red apple", **FAST, **kw}).to_body()
    return raw.until_terminal(raw.send("generate", body=body, images=images), timeout)


def pixels(msg) -> list[np.ndarray]:
    assert msg.type == "result", msg.body
    return [im.to_numpy() for im in msg.images]


def test_hello_lists_every_model_with_hash_and_the_adapters(raw):
    caps = raw.call("hello").body
    assert caps["backends"] == ["diffusers"] and caps["load_error"] == ""
    models = {m["id"]: m for m in caps["models"]}
    assert sorted(models) == sorted([f"tiny-{f}" for f in FAMILIES]
                                    + [f"tiny-{f}-file" for f in FAMILIES])
    assert all(len(m["hash"]) == 64 and 512 in m["sizes"] for m in models.values())
    assert "Stable Diffusion XL" in models["tiny-sdxl"]["description"]
    # the pickle adapter is not offered (adapters trained by other tests may be listed too)
    assert {"squares", "squares-peft"} <= set(caps["loras"])
    assert "old-adapter" not in caps["loras"]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_generates_the_same_image_from_folder_and_single_file(raw, family):
    folder = gen(raw, model=f"tiny-{family}", seed=7, count=2)
    single = gen(raw, model=f"tiny-{family}-file", seed=7, count=2)
    a, b = pixels(folder[-1]), pixels(single[-1])
    assert [im.shape for im in a] == [(64, 64, 4)] * 2
    assert not np.array_equal(a[0], a[1])  # seeds 7 and 8
    for x, y in zip(a, b, strict=True):
        assert np.abs(x.astype(int) - y.astype(int)).max() <= 1
    prov = single[-1].body["provenance"][0]
    assert (prov["backend"], prov["model"], prov["seed"]) == ("diffusers",
                                                              f"tiny-{family}-file", 7)
    assert len(prov["model_hash"]) == 64
    assert prov["scheduler"] == ("flow_euler" if family == "sd3" else "euler")
    progress = [e for e in folder if e.type == "progress"]
    assert [e.body["step"] for e in progress] == [1, 2, 3]
    assert all(e.images and e.images[0].name == "preview" for e in progress)
    assert progress[-1].images[0].shape == (8, 8, 4)  # latent-sized, no VAE decode


def close(a: np.ndarray, b: np.ndarray, tol: int = 2) -> bool:
    """Equal up to float rounding (a batch of 3 and a batch of 1 round differently)."""
    return int(np.abs(a.astype(int) - b.astype(int)).max()) <= tol


def test_seeds_are_reproducible_per_image(raw):
    batch = pixels(gen(raw, model="tiny-sd1", seed=100, count=3)[-1])
    alone = pixels(gen(raw, model="tiny-sd1", seed=101, count=1)[-1])
    assert close(batch[1], alone[0]) and not close(batch[0], batch[1])
    again = pixels(gen(raw, model="tiny-sd1", seed=100, count=3)[-1])
    assert all(np.array_equal(x, y) for x, y in zip(batch, again, strict=True))


def test_schedulers_are_selectable_and_checked(raw):
    base = pixels(gen(raw, model="tiny-sd1", seed=3)[-1])[0]
    res = gen(raw, model="tiny-sd1", seed=3, scheduler="dpm++2m")[-1]
    assert res.body["provenance"][0]["scheduler"] == "dpm++2m"
    assert not np.array_equal(pixels(res)[0], base)
    bad = gen(raw, model="tiny-sd1", scheduler="flow_euler")[-1]
    assert bad.type == "error" and bad.body["code"] == "bad_scheduler"
    assert "dpm++2m" in bad.body["message"]
    sd3 = gen(raw, model="tiny-sd3", scheduler="flow_heun", steps=2)[-1]
    assert sd3.type == "result", sd3.body


@pytest.mark.parametrize("model", ["tiny-sd1", "tiny-sdxl-file", "tiny-sd3"])
def test_img2img_and_inpaint(raw, model):
    init = np.zeros((64, 64, 4), np.uint8)
    init[..., 0], init[..., 3] = 220, 255
    init[40:, :, 3] = 128  # half-transparent rows must come back unchanged outside the mask
    mask = np.zeros((64, 64), np.uint8)
    mask[:24] = 255
    i2i = gen(raw, [P.Image.from_numpy(init, "init_image")], model=model, strength=0.5)[-1]
    assert i2i.body["provenance"][0]["mode"] == "img2img"
    steps = [e.body["step"] for e in gen(raw, [P.Image.from_numpy(init, "init_image")],
                                         model=model, strength=0.5, steps=4)
             if e.type == "progress"]
    assert steps[-1] == 2  # strength 0.5 of 4 steps
    assert pixels(i2i)[0].shape == (64, 64, 4)
    res = gen(raw, [P.Image.from_numpy(init, "init_image"), P.Image.from_numpy(mask, "mask")],
              model=model, strength=0.9)[-1]
    out = pixels(res)[0]
    assert res.body["provenance"][0]["mode"] == "inpaint"
    assert np.array_equal(out[24:], init[24:])  # outside the mask: the user's pixels, exactly
    assert not np.array_equal(out[:24], init[:24])


def test_cancel_between_steps(raw):
    body = P.GenerateParams(prompt="a cat", model="tiny-sd1", width=64, height=64,
                            steps=200, count=4).to_body()
    rid = raw.send("generate", body=body)
    first = None
    while first is None or first.type != "progress":
        first = raw.recv(60)
        assert first is not None and first.id == rid
    cid = raw.send("cancel", body={"target": rid})
    got = raw.collect([rid, cid], timeout=60)
    final, ack = got[rid][-1], got[cid][-1]
    assert final.type == "cancelled"
    assert final.body["step"] - ack.body["at_step"] <= 1 and final.body["step"] < 200
    assert gen(raw, model="tiny-sd1")[-1].type == "result"  # and it keeps serving


def test_errors_name_the_problem_and_the_worker_keeps_serving(raw):
    old = gen(raw, model="old-model")[-1]
    assert old.type == "error" and "pickle" in old.body["message"]
    missing = gen(raw, model="nope")[-1]
    assert missing.body["code"] == "model_not_found" and "tiny-sd1" in missing.body["message"]
    bad_size = gen(raw, model="tiny-sd1", width=100)[-1]
    assert bad_size.body["code"] == "bad_size"
    lora = gen(raw, model="tiny-sd1", loras=[P.LoraParam("nope", 1.0)])[-1]
    assert lora.body["code"] == "lora_not_found" and "squares" in lora.body["message"]
    wrong = gen(raw, model="tiny-sdxl", loras=[P.LoraParam("squares", 1.0)])[-1]
    assert wrong.body["code"] == "lora_incompatible", wrong.body
    init = [P.Image.from_numpy(np.full((64, 64, 4), 200, np.uint8), "init_image")]
    none_left = gen(raw, init, model="tiny-sd1", steps=3, strength=0.2)[-1]  # 0 steps to run
    assert none_left.body["code"] == "bad_strength", none_left.body
    assert "raise the strength or the steps" in none_left.body["message"]
    assert gen(raw, model="tiny-sdxl")[-1].type == "result"


def test_trained_kohya_lora_round_trip_changes_the_output_accordingly(raw, zoo: Zoo):
    """Trained with peft in the fixture, saved in the kohya naming, loaded by the worker: at
    weight 1 the image is what the trained pipeline made, at 0 the base model's."""
    common = {"model": "tiny-sd1", "prompt": PROMPT, "seed": 5, "steps": 4, "guidance": 5.0}
    ref_lora, ref_base = zoo.lora_reference["lora"], zoo.lora_reference["base"]
    assert np.abs(ref_lora.astype(int) - ref_base.astype(int)).max() > 8  # training did bite
    for name in ("squares", "squares-peft"):
        on = pixels(gen(raw, loras=[P.LoraParam(name, 1.0)], **common)[-1])[0]
        assert np.abs(on[..., :3].astype(int) - ref_lora.astype(int)).max() <= 2, name
    half = pixels(gen(raw, loras=[P.LoraParam("squares", 0.5)], **common)[-1])[0]
    zero = pixels(gen(raw, loras=[P.LoraParam("squares", 0.0)], **common)[-1])[0]
    off = gen(raw, **common)[-1]
    assert np.abs(zero[..., :3].astype(int) - ref_base.astype(int)).max() <= 2
    assert np.abs(pixels(off)[0][..., :3].astype(int) - ref_base.astype(int)).max() <= 2
    d_half = np.abs(half[..., :3].astype(int) - ref_base.astype(int)).mean()
    d_full = np.abs(ref_lora.astype(int) - ref_base.astype(int)).mean()
    assert 0 < d_half < d_full
    # several at once, each with its weight: the same adapter in both namings at 0.5 + 0.5
    both = pixels(gen(raw, loras=[P.LoraParam("squares", 0.5),
                                  P.LoraParam("squares-peft", 0.5)], **common)[-1])[0]
    assert np.abs(both[..., :3].astype(int) - ref_lora.astype(int)).max() <= 2
    prov = gen(raw, loras=[P.LoraParam("squares", 0.7)], **common)[-1].body["provenance"][0]
    assert prov["loras"] == [{"name": "squares", "weight": 0.7}]


def test_kohya_file_names_and_metadata(zoo: Zoo):
    from safetensors import safe_open

    with safe_open(str(zoo.models / "loras" / "squares.safetensors"), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
        alpha = f.get_tensor(next(k for k in keys if k.endswith(".alpha")))
    assert any(k.startswith("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_"
                            "to_q.lora_down") for k in keys)
    assert any(k.startswith("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up")
               for k in keys)
    assert all(k.split(".")[-2] in ("lora_down", "lora_up") or k.endswith(".alpha")
               for k in keys)
    assert float(alpha) == 8.0 and meta["ss_network_dim"] == "4"
    assert meta["ss_network_alpha"] == "8.0" and meta["ss_base_model_version"] == "sd_v1"
    assert meta["modelspec.architecture"] == "stable-diffusion-v1/lora"
    assert meta["modelspec.title"] == "squares" and meta["modelspec.resolution"] == "64x64"
