"""The issue-16 recipe: weight 0 is the base model, the weight is a dial, the folder's images
never become neighbours or the starting point, prior preservation and automatic captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from finetune_helpers import quick

from t2i_core.backends.base import GenerateRequest, LoraRef
from t2i_core.backends.builtin import _draw_below, retrieval_style
from t2i_core.backends.builtin_trainer import BuiltinTrainable
from t2i_core.errors import T2IError
from t2i_core.finetune.adapters import StyleRef
from t2i_core.finetune.dataset import hash_tree, load_folder
from t2i_core.finetune.job import train
from t2i_core.finetune.request import TrainRequest

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _gen(backend, weight: float | None, prompt: str = "a circle, teal style") -> np.ndarray:
    loras = [] if weight is None else [LoraRef("teal", weight)]
    req = GenerateRequest(prompt=prompt, seed=5, count=2, width=32, height=32, steps=4,
                          loras=loras)
    return np.stack(backend.generate(req).images).astype(np.float64)


@pytest.fixture()
def trained(backend, style_folder: Path):
    before = hash_tree(style_folder)
    # a strong learning rate so the tiny model's adapter moves its output visibly
    train(backend, quick(style_folder, trigger="teal style", steps=16, learning_rate=2e-2))
    assert hash_tree(style_folder) == before  # the folder, byte for byte
    return backend


def test_weight_zero_is_the_base_model_exactly(trained):
    base = _gen(trained, None)
    assert np.array_equal(_gen(trained, 0.0), base)
    assert not np.array_equal(_gen(trained, 1.0), base)


def test_the_weight_is_a_dial(trained):
    """The merged weights move along one line, and the pictures move away from the base
    model step by step as the weight grows (a prompt that names its kind of picture, so
    retrieval is the same at every weight and only the LoRA's share changes)."""
    m = trained.model
    params = [trained.adapters.apply([LoraRef("teal", w)], m.denoiser).params for w in WEIGHTS]
    name = "blocks.0.ada.weight"
    base_w = dict(m.denoiser.named_parameters())[name]
    steps = [float((p[name] - base_w).norm()) if p else 0.0 for p in params]
    np.testing.assert_allclose(steps, [w * steps[-1] for w in WEIGHTS], rtol=1e-4, atol=1e-6)
    prompt = "a circle emoji, teal style"
    base = _gen(trained, None, prompt)
    moved = [float(np.abs(_gen(trained, w, prompt) - base).mean()) for w in WEIGHTS]
    assert moved[0] == 0.0
    assert all(a < b for a, b in zip(moved, moved[1:], strict=False)), moved


def test_the_share_of_images_drawn_from_the_adapters_kind_grows_with_the_weight():
    """Each seed switches to the adapter's kind of picture at one weight and stays there."""
    seeds = range(400)
    shares = []
    previous = set()
    for w in WEIGHTS:
        switched = {s for s in seeds if _draw_below(s, w)}
        assert previous <= switched
        previous = switched
        shares.append(len(switched) / len(seeds))
    assert shares[0] == 0.0 and shares[-1] == 1.0
    np.testing.assert_allclose(shares, WEIGHTS, atol=0.08)


def test_the_trigger_is_not_read_as_a_style_request():
    assert retrieval_style("a cat, papirus icon", []) == ("icon", "icon")
    ref = StyleRef("color", "papirus icon", 1.0)
    assert retrieval_style("a cat, papirus icon", [ref]) == (None, "color")
    assert retrieval_style("a cat emoji, papirus icon", [ref]) == ("emoji", "emoji")


def test_neighbours_and_start_come_from_the_base_memory(trained, monkeypatch):
    """With an adapter the sampler's neighbours are base-memory entries: every latent handed
    to the denoiser as a neighbour is one of the base memory's."""
    m = trained.model
    seen = []
    real = m.index.query

    def spy(*a, **kw):
        nb = real(*a, **kw)
        seen.append(nb)
        return nb

    monkeypatch.setattr(m.index, "query", spy)
    _gen(trained, 1.0)
    assert seen
    for nb in seen:
        assert torch.equal(nb.latents, m.index.latent(nb.indices))


def test_prior_preservation_and_automatic_captions(backend, style_folder: Path):
    data = load_folder(style_folder, "teal style")
    req = TrainRequest(folder=str(style_folder), name="x", trigger="teal style", batch=8)
    t = BuiltinTrainable(backend, req)
    t.prepare(data, req)
    assert t.style in ("emoji", "color", "icon")
    assert t.caption_source.count("txt") == 1
    assert t.caption_source.count("filename+auto") == len(data) - 1
    plain = BuiltinTrainable(backend, TrainRequest(**{**req.__dict__, "auto_captions": False}))
    plain.prepare(data, plain.request)
    changed = (t.canonical - plain.canonical).norm(dim=1) > 1e-4
    manual = torch.tensor([s == "txt" for s in data.caption_source])
    assert changed[~manual].all() and not changed[manual].any()  # a .txt caption is kept
    assert len(t.prior_items) > 0 and t.prior_nb.shape[0] == len(t.prior_items)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    assert torch.isfinite(t.loss(rng))
    none = BuiltinTrainable(backend, TrainRequest(**{**req.__dict__, "prior": 0.0}))
    none.prepare(data, none.request)
    assert torch.isfinite(none.loss(np.random.default_rng(0)))


def test_bad_recipe_values_are_refused(backend, style_folder: Path):
    for kw, code in (({"prior": 0.95}, "bad_prior"), ({"layers": "qkv"}, "bad_layers"),
                     ({"auto_captions": "yes"}, "bad_auto_captions")):
        with pytest.raises(T2IError) as e:
            train(backend, quick(style_folder, **kw))
        assert e.value.code == code
