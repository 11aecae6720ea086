"""`t2i builtin train`: the whole built-in model from nothing, in one resumable command.

data set -> caption embeddings -> autoencoder -> latent flow generator -> export
(t2i_core/weights/builtin.safetensors) -> evaluation encoder (eval_encoder.safetensors).
Every stage caches its output or checkpoints in ``run_dir``; running the command again after
an interruption continues where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from t2i_core.data.build import build_dataset
from t2i_core.text_encoder import shared_text_encoder
from t2i_core.training.captions import embed_captions

COMMITTED = Path(__file__).resolve().parents[2] / "checkpoints" / "builtin"


def seed_from_committed_checkpoint(run_dir: Path) -> None:
    """Copy the committed run's checkpoints (checkpoints/builtin/) into a new ``run_dir`` so
    `t2i builtin train --continue-committed` carries training over across machines and
    sessions (the committed files are only read)."""
    import shutil

    for name in ("autoencoder.safetensors", "autoencoder.ckpt.safetensors",
                 "denoiser.ckpt.safetensors"):
        if (COMMITTED / name).exists() and not (run_dir / name).exists():
            shutil.copy(COMMITTED / name, run_dir / name)


def train_builtin(data_dir: Path, run_dir: Path, out_dir: Path, ae_minutes: float = 25,
                  generator_minutes: float = 90, eval_minutes: float = 60,
                  threads: int | None = None, continue_committed: bool = False,
                  generator_steps: int = 4000) -> dict:
    from t2i_core.eval.clip_encoder import train_eval_encoder
    from t2i_core.training.export import export_builtin
    from t2i_core.training.train_autoencoder import train_autoencoder
    from t2i_core.training.train_generator import train_generator

    if threads:
        torch.set_num_threads(threads)
    if not (data_dir / "meta.jsonl").exists():
        build_dataset(data_dir)
    encoder = shared_text_encoder()
    embed_captions(data_dir, encoder=encoder)
    empty_text = encoder.encode([""]).embeddings[0]
    run_dir.mkdir(parents=True, exist_ok=True)
    if continue_committed:
        seed_from_committed_checkpoint(run_dir)
    report: dict = {}
    if not (run_dir / "autoencoder.safetensors").exists():
        report["autoencoder"] = train_autoencoder(data_dir, run_dir, minutes=ae_minutes)
    report["generator"] = train_generator(data_dir, run_dir, empty_text,
                                          minutes=generator_minutes,
                                          total_steps=generator_steps)
    # anchor_strength 0.7: chosen on the validation prompts (docs/MODEL_CARD.md)
    export_builtin(data_dir, run_dir, out_dir / "builtin.safetensors", empty_text,
                   extra={"generator": report["generator"],
                          "sampling": {"anchor_strength": 0.7}})
    # the model card's evaluator: 2,000 steps with colour jitter (docs/MODEL_CARD.md, "The
    # evaluator"); the step budget, not the minutes, should end it (~40 min on 2 cores)
    report["eval_encoder"] = train_eval_encoder(data_dir, out_dir / "eval_encoder.safetensors",
                                                minutes=eval_minutes, total_steps=2000,
                                                colour_share=0.8, checkpoint_every=100)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report
