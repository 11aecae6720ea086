"""The ``upscale`` request through a real worker subprocess (real sockets, real model)."""

from __future__ import annotations

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
        assert np.abs(out[..., :3].astype(int) - 200).max() <= 2
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
