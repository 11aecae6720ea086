"""The live backend in-process and through a real worker subprocess."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from t2i_core.backends.base import GenerateRequest
from t2i_core.backends.live import LiveBackend, LiveModel
from t2i_core.errors import T2IError
from worker import protocol as P

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
from worker_helpers import Raw, start_worker  # noqa: E402


@pytest.fixture(scope="module")
def live_backend(tiny_live_weights: Path, text_encoder) -> LiveBackend:
    backend = LiveBackend(tiny_live_weights)
    backend._model = LiveModel(backend.live_path, backend.builtin_path,
                               text_encoder=text_encoder)
    return backend


def test_generates_one_step_images_with_provenance(live_backend: LiveBackend):
    info = live_backend.models()[0]
    assert info.id == "live" and info.backend == "live" and len(info.hash) == 64
    res = live_backend.generate(GenerateRequest(prompt="a red apple", model="live", seed=5,
                                                count=2, width=64, height=64,
                                                negative_prompt="blurry"))
    assert [im.shape for im in res.images] == [(64, 64, 4)] * 2
    assert all(im.dtype == np.uint8 for im in res.images)
    assert not np.array_equal(res.images[0], res.images[1])  # seeds 5 and 6 differ
    p = res.provenance[0]
    assert (p.model, p.backend, p.steps, p.seed, p.scheduler) == ("live", "live", 1, 5,
                                                                  "one-step")
    assert any("negative prompt" in w for w in res.warnings)
    again = live_backend.generate(GenerateRequest(prompt="a red apple", model="live", seed=5,
                                                  width=64, height=64))
    assert np.array_equal(again.images[0], res.images[0])  # same seed, same image


def test_refuses_what_one_step_cannot_do(live_backend: LiveBackend):
    init = np.zeros((64, 64, 4), np.uint8)
    with pytest.raises(T2IError, match="builtin") as e:
        live_backend.generate(GenerateRequest(prompt="x", model="live", width=64, height=64,
                                              init_image=init))
    assert e.value.code == "unsupported"
    with pytest.raises(T2IError, match="installed: live"):
        live_backend.generate(GenerateRequest(prompt="x", model="other"))
    with pytest.raises(T2IError, match="size 100x100"):
        live_backend.generate(GenerateRequest(prompt="x", model="live", width=100, height=100))


def test_missing_or_mismatched_weights_say_what_to_do(tiny_live_weights: Path, tmp_path: Path):
    with pytest.raises(T2IError, match="t2i live train"):
        LiveBackend(tmp_path).models()
    # a live model trained against another built-in autoencoder is refused, not misdrawn
    from t2i_core.backends.builtin import make_random_weights

    make_random_weights(tmp_path, seed=1)
    shutil.copy(tiny_live_weights / "live.safetensors", tmp_path / "live.safetensors")
    with pytest.raises(T2IError, match="another built-in autoencoder") as e:
        LiveBackend(tmp_path).models()
    assert e.value.code == "weights_mismatch"


def test_worker_serves_live_and_builtin_side_by_side(tiny_live_weights: Path, tmp_path: Path):
    wp = start_worker(tmp_path / "w", "--weights-dir", str(tiny_live_weights), "--backend",
                      "builtin", "--backend", "live", "--backend-option",
                      f"live.weights_dir={tiny_live_weights}")
    raw = Raw(wp.endpoint, wp.token)
    try:
        models = raw.call("list_models", timeout=120)
        assert models.type == "result", wp.log_tail()
        ids = {m["id"] for m in models.body["models"]}
        assert {"live", "builtin"} <= ids, models.body
        rid = raw.send("generate", body={"prompt": "a cat icon", "model": "live", "seed": 3,
                                         "width": 32, "height": 32, "count": 1})
        events = raw.until_terminal(rid, timeout=120)
        assert events[-1].type == "result", (events[-1].body, wp.log_tail())
        assert events[-1].images[0].shape == (32, 32, 4)
        assert events[-1].body["provenance"][0]["model"] == "live"
        rid = raw.send("generate", body={"prompt": "a cat", "model": "live", "width": 32,
                                         "height": 32, "strength": 0.5},
                       images=[P.Image.from_numpy(np.zeros((32, 32, 4), np.uint8),
                                                          "init_image")])
        bad = raw.until_terminal(rid, timeout=120)[-1]
        assert bad.type == "error" and bad.body["code"] == "unsupported", bad.body
        assert "builtin" in bad.body["message"]
        assert raw.call("hello", timeout=30).type == "result"  # still serving
    finally:
        raw.close()
        wp.stop()


def test_int8_and_anchor_only_variants_generate(tiny_live_weights: Path,
                                                live_backend: LiveBackend, text_encoder):
    req = dict(prompt="a red apple", model="live", seed=2, width=32, height=32)
    q = LiveBackend(tiny_live_weights, quantize=True)  # its own int8 MiniLM
    got = q.generate(GenerateRequest(**req)).images[0]
    assert got.shape == (32, 32, 4)
    assert "quantized" in type(q.model.generator.text_mlp[0]).__module__
    ablation = LiveBackend(tiny_live_weights, anchor_only=True)
    ablation._model = live_backend.model
    anchor = ablation.generate(GenerateRequest(**req)).images[0]
    full = live_backend.generate(GenerateRequest(**req)).images[0]
    assert not np.array_equal(anchor, full)  # the generator changes the retrieved anchor


def test_a_cancelled_request_draws_nothing(live_backend: LiveBackend):
    import threading

    from t2i_core.errors import Cancelled

    flag = threading.Event()
    flag.set()
    with pytest.raises(Cancelled):
        live_backend.generate(GenerateRequest(prompt="x", model="live", width=32, height=32),
                              cancel=flag)


def test_colour_words_draw_glyph_anchors(live_backend: LiveBackend, monkeypatch):
    """With a colour word and no style named, the anchors come from glyphs ("icon"), which
    take the colour whole; a style the prompt names still wins; plain prompts draw from all."""
    from t2i_core.retrieval import STYLES

    index = live_backend.model.index
    assert {int(s) for s in index.style_ids} >= {STYLES.index("icon"),
                                                  STYLES.index("emoji")}
    seen: list[set[int]] = []
    draw = index._draw

    def spy(scores, allowed, *args, **kwargs):
        seen.append({int(s) for s in index.style_ids[allowed]})
        return draw(scores, allowed, *args, **kwargs)

    monkeypatch.setattr(index, "_draw", spy)
    for prompt in ("a red apple", "a #ff8800 car", "a red apple emoji", "an apple"):
        live_backend.generate(GenerateRequest(prompt=prompt, model="live", seed=3,
                                              width=32, height=32))
    assert seen[0] == seen[1] == {STYLES.index("icon")}
    assert seen[2] == {STYLES.index("emoji")}
    assert len(seen[3]) > 1  # no colour, no style: every style may anchor
