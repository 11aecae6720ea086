"""One frozen MiniLM per worker process: the built-in and live backends read prompts with the
same instance (t2i_core.text_encoder.shared_text_encoder), built once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from t2i_core.backends.base import GenerateRequest
from t2i_core.text_encoder import shared_text_encoder
from worker.models import ModelCache


def test_builtin_and_live_share_one_text_encoder_in_one_worker(tiny_live_weights: Path):
    opts = {"weights_dir": tiny_live_weights}
    cache = ModelCache(["builtin", "live"], {"builtin": opts, "live": opts})  # the worker's
    cache.load()
    assert not cache.load_error
    builtin, live = cache.backends["builtin"], cache.backends["live"]
    assert builtin.model.encoder is live.model.encoder is shared_text_encoder()
    # and both still draw with it
    for backend, model_id in ((builtin, "builtin"), (live, "live")):
        out = backend.generate(GenerateRequest(prompt="a red apple", seed=1, width=64,
                                               height=64, steps=4, model=model_id))
        assert out.images[0].shape == (64, 64, 4) and out.images[0].dtype == np.uint8


def test_a_quantized_live_model_keeps_its_own_encoder(tiny_live_weights: Path):
    from t2i_core.backends.live import LiveBackend

    live = LiveBackend(tiny_live_weights, quantize=True)
    import torch

    def plain_linears(encoder) -> int:
        return sum(type(m) is torch.nn.Linear for m in encoder.model.modules())

    assert live.model.encoder is not shared_text_encoder()  # int8: never the shared one
    assert plain_linears(live.model.encoder) == 0  # its own copy was quantized ...
    assert plain_linears(shared_text_encoder()) > 0  # ... and the shared one was not
