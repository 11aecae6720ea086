"""The ``upscale`` request through a real worker subprocess (real sockets, real model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from worker_helpers import Raw, start_worker

from t2i_core.enhance.upscale import Enhancer
from worker import protocol as P
from worker.client import WorkerClient


def ring_icon(size: int = 32) -> np.ndarray:
    """A black ring with soft (antialiased) edges on transparency, like a rendered icon."""
    yy, xx = np.mgrid[:size, :size] + 0.5
    r = np.hypot(yy - size / 2, xx - size / 2)
    alpha = np.clip(np.minimum(r - size * 0.22, size * 0.38 - r) + 0.5, 0, 1)
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 3] = (alpha * 255 + 0.5).astype(np.uint8)
    return img


def test_upscale_request_returns_the_learned_result(raw, builtin_worker):
    icon = ring_icon()
    rid = raw.send("upscale", body={"scale": 4}, images=[P.Image.from_numpy(icon, "image")])
    events = raw.until_terminal(rid)
    assert [e.type for e in events] == ["queued", "result"]
    result = events[-1]
    (out,) = result.images
    assert out.name == "image" and out.shape == (128, 128, 4)
    assert result.body["method"] == "learned" and result.body["notice"] == ""
    assert (result.body["width"], result.body["height"], result.body["scale"]) == (128, 128, 4)
    pixels = out.to_numpy()
    # the same bytes as the library call in this process (one model, one code path)
    assert np.array_equal(pixels, Enhancer().upscale(icon, 4))
    a = pixels[..., 3]
    assert a[64, 64] == 0 and a[64, 64 + 38] == 255 and a[0, 0] == 0  # hole, ring, outside
    soft = ((a > 12) & (a < 243)).mean()
    assert soft < 0.06, f"edges should stay crisp at 4x, {soft:.3f} of pixels are soft"


def test_upscale_scales_and_client_helper(builtin_worker):
    client = WorkerClient(builtin_worker.endpoint, builtin_worker.token, spawn=False)
    try:
        for scale in (2, 8, 16):
            res = client.submit_upscale(ring_icon(16), scale).result(60)
            assert res.images[0].shape == (16 * scale, 16 * scale, 4)
            assert res.body["method"] == "learned"
        rgb = np.full((10, 12, 3), 200, np.uint8)  # RGB is taken as opaque
        out = client.submit_upscale(rgb, 4).result(60).images[0].to_numpy()
        assert out.shape == (40, 48, 4) and (out[..., 3] == 255).all()
        err = np.abs(out[..., :3].astype(int) - 200)  # a flat layer stays flat (the border
        assert err.max() <= 6 and err.mean() <= 1  # pixels move by a few levels at most)
    finally:
        client.close(stop_worker=False)


@pytest.mark.parametrize(("body", "frames", "code", "words"), [
    ({"scale": 3}, True, "bad_scale", "2, 4, 8, 16"),
    ({"scale": "4"}, True, "bad_message", "whole number"),
    ({"scale": 4}, False, "bad_frames", "'image'"),
    ({"scale": 16}, "big", "image_too_large", "smaller scale"),
])
def test_bad_upscale_requests_get_clear_errors(raw, body, frames, code, words):
    images = []
    if frames == "big":
        images = [P.Image.from_numpy(np.zeros((300, 300, 4), np.uint8), "image")]
    elif frames:
        images = [P.Image.from_numpy(ring_icon(), "image")]
    reply = raw.call("upscale", body=body, images=images)
    assert reply.type == "error" and reply.body["code"] == code, reply.body
    assert words in reply.body["message"]
    assert raw.call("hello").type == "result"  # the worker keeps serving


def test_without_weights_it_resamples_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("T2I_UPSCALER_WEIGHTS", str(tmp_path / "absent.safetensors"))
    wp = start_worker(tmp_path / "w", "--backend", "synthetic")
    raw = Raw(wp.endpoint, wp.token)
    try:
        reply = raw.call("upscale", body={"scale": 4},
                         images=[P.Image.from_numpy(ring_icon(), "image")], timeout=120)
        assert reply.type == "result", (reply.body, wp.log_tail())
        assert reply.body["method"] == "resampling"
        assert "missing" in reply.body["notice"] and "t2i upscaler train" in reply.body["notice"]
        assert reply.images[0].shape == (128, 128, 4)
    finally:
        raw.close()
        wp.stop()


def tiny_x4_upscaler(dest: Path) -> Path:
    """A tiny random StableDiffusionUpscalePipeline (the x4 upscaler's structure), saved as a
    diffusers folder with safetensors weights."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel

    from t2i_core.backends.diffusers_backend.clip_tokenizer import write_clip_tokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(write_clip_tokenizer(dest.parent / "tok")))
    te = CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=1, max_position_embeddings=77,
                                      vocab_size=49408))
    vae = AutoencoderKL(down_block_types=["DownEncoderBlock2D"] * 3,
                        up_block_types=["UpDecoderBlock2D"] * 3, block_out_channels=[32] * 3,
                        layers_per_block=1, latent_channels=4, norm_num_groups=32,
                        sample_size=64, scaling_factor=0.08333)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=7, out_channels=4, layers_per_block=1,
        block_out_channels=[32, 64], down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
        up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], cross_attention_dim=32,
        norm_num_groups=32, num_class_embeds=1000, attention_head_dim=8)
    pipe = StableDiffusionUpscalePipeline(
        vae=vae, text_encoder=te, tokenizer=tok, unet=unet, low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"), max_noise_level=350)
    pipe.save_pretrained(str(dest), safe_serialization=True)
    return dest


def test_a_users_diffusers_upscaler_is_offered_and_runs(tmp_path, monkeypatch):
    models = tmp_path / "models"
    tiny_x4_upscaler(models / "x4-upscaler")
    monkeypatch.setenv("T2I_MODELS_DIR", str(models))
    wp = start_worker(tmp_path / "w", "--backend", "synthetic")
    raw = Raw(wp.endpoint, wp.token)
    try:
        hello = raw.call("hello", timeout=120).body
        ids = {u["id"]: u for u in hello["upscalers"]}
        assert ids["builtin"]["scales"] == [2, 4, 8, 16]
        assert ids["x4-upscaler"] == {"id": "x4-upscaler", "kind": "diffusers",
                                      "pipeline": "StableDiffusionUpscalePipeline",
                                      "scales": [4]}
        photo = np.random.default_rng(0).integers(0, 256, (16, 16, 4), dtype=np.uint8)
        photo[..., 3] = 255
        frame = [P.Image.from_numpy(photo, "image")]
        reply = raw.call("upscale", body=P.UpscaleParams(4, "x4-upscaler", "a photo",
                                                         steps=2).to_body(),
                         images=frame, timeout=300)
        assert reply.type == "result", (reply.body, wp.log_tail())
        assert reply.body["method"] == "diffusers" and reply.body["model"] == "x4-upscaler"
        out = reply.images[0].to_numpy()
        assert out.shape == (64, 64, 4) and (out[..., 3] == 255).all()
        assert out[..., :3].std() > 0  # the model drew something, not a blank frame
        wrong = raw.call("upscale", body={"scale": 2, "model": "x4-upscaler"}, images=frame)
        assert wrong.body["code"] == "bad_scale" and "4x only" in wrong.body["message"]
        missing = raw.call("upscale", body={"scale": 4, "model": "nope"}, images=frame)
        assert missing.body["code"] == "model_not_found"
        assert "x4-upscaler" in missing.body["message"]
    finally:
        raw.close()
        wp.stop()


def test_the_diffusers_backend_refuses_an_upscaler_as_a_generator(tmp_path):
    from t2i_core.backends.diffusers_backend.detect import detect_folder
    from t2i_core.errors import T2IError

    with pytest.raises(T2IError) as e:
        detect_folder(tmp_path / "x4", {"_class_name": "StableDiffusionUpscalePipeline"}, None)
    assert e.value.code == "upscaler_model" and "Upscale" in e.value.message


def test_cli_runs_a_users_diffusers_upscaler(tmp_path):
    import os
    import subprocess
    import sys

    from PIL import Image
    from worker_helpers import REPO

    tiny_x4_upscaler(tmp_path / "models" / "x4")
    src, out = tmp_path / "photo.png", tmp_path / "big.png"
    photo = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(photo, "RGB").save(src)
    cmd = [sys.executable, "-m", "worker.commands", "upscale", str(src), "-o", str(out), "--scale",
           "4", "--model", "x4", "--models-dir", str(tmp_path / "models")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "diffusers upscaler x4" in proc.stdout
    with Image.open(out) as im:
        assert im.size == (64, 64) and '"diffusers"' in im.info["t2i-upscale"]
    wrong = subprocess.run([*cmd[:-4], "--model", "nope", "--models-dir",
                            str(tmp_path / "models")], capture_output=True, text=True,
                           cwd=REPO, env=env, timeout=600)
    assert wrong.returncode == 2 and "not found" in wrong.stderr and "x4" in wrong.stderr
