"""Training the live model: a few real steps, small checkpoints, exact resume, export."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import torch
from live_helpers import tiny_config
from safetensors.torch import load_file

from t2i_core.live.train import CHECKPOINT, LOG, train_live
from t2i_core.live.weights import load_live


def test_tiny_run_trains_logs_checkpoints_and_exports(tiny_live_weights: Path):
    run = tiny_live_weights / "run"
    ckpt = load_file(str(run / CHECKPOINT))
    assert any(k.startswith("model.g.") for k in ckpt)
    assert any(k.startswith("model.d.") for k in ckpt)
    assert any(k.startswith("ema.") for k in ckpt)
    # small checkpoints: EMA in float16, Adam moments in bfloat16
    assert {v.dtype for k, v in ckpt.items() if k.startswith("ema.")} == {torch.float16}
    moments = [v for k, v in ckpt.items() if k.startswith("opt.") and v.dim() > 0]
    assert moments and all(v.dtype == torch.bfloat16 for v in moments)
    rows = [__import__("json").loads(line) for line in (run / LOG).read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        for key in ("clip_model", "d", "g_gan", "g_clip"):
            assert math.isfinite(r[key])
    assert any("distill" in r for r in rows)  # the teacher ran
    gen, decoder, meta = load_live(tiny_live_weights / "live.safetensors")
    assert meta["step"] == 4 and decoder
    out = gen(torch.randn(2, 8, 8, 8), torch.nn.functional.normalize(torch.randn(2, 384), dim=-1),
              torch.randn(2, 8, 8, 8))
    assert out.shape == (2, 8, 8, 8)


def test_resume_is_exact(tiny_weights: Path, tmp_path: Path):
    builtin = tmp_path / "builtin.safetensors"
    shutil.copy(tiny_weights / "builtin.safetensors", builtin)
    cfg = tiny_config(checkpoint_every=3)
    straight = train_live(builtin, tmp_path / "a", None, cfg, steps=6, progress=False)
    assert straight["step"] == 6
    crashed = train_live(builtin, tmp_path / "b", None, cfg, steps=6, stop_after=3,
                         progress=False)
    assert crashed["step"] == 3 and crashed["stopped"] == "stop_after"
    resumed = train_live(builtin, tmp_path / "b", None, None, steps=6, progress=False)
    assert resumed["step"] == 6
    a = load_file(str(tmp_path / "a" / CHECKPOINT))
    b = load_file(str(tmp_path / "b" / CHECKPOINT))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra = [r for r in straight["history"]]
    rb = [r for r in resumed["history"]]
    assert [r["g_clip"] for r in ra] == [r["g_clip"] for r in rb]
