"""Turn a training run into the single file the built-in backend loads.

The retrieval memory is a subset of the training split so that the committed weights stay
small (~30 MB of the ~60 MB budget): every emoji and colour icon, then monochrome icons with
everyday concepts first, up to ``memory_size`` entries.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from t2i_core.backends.builtin import save_builtin
from t2i_core.checkpoint import load_checkpoint
from t2i_core.models.denoiser import DenoiserConfig, RetrievalDenoiser
from t2i_core.retrieval import RetrievalIndex
from t2i_core.training.train_generator import load_autoencoder, prepare_run


def memory_subset(meta: list[dict], train: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    colour = [i for i in train if meta[i]["style"] != "icon"]
    mono = np.array([i for i in train if meta[i]["style"] == "icon"])
    rng.shuffle(mono)
    picked = np.array(sorted(colour + list(mono[: max(0, size - len(colour))])))
    return picked[:size]


def export_builtin(data_dir: Path, run_dir: Path, out_path: Path, empty_text: torch.Tensor,
                   memory_size: int = 32000, extra: dict | None = None) -> Path:
    d = prepare_run(data_dir, run_dir)
    ae = load_autoencoder(run_dir / "autoencoder.safetensors")
    ckpt = run_dir / "denoiser.ckpt.safetensors"
    from safetensors import safe_open

    with safe_open(str(ckpt), framework="pt") as f:
        cfg = DenoiserConfig.from_dict(json.loads(f.metadata()["meta"])["config"])
    model, ema = RetrievalDenoiser(cfg), RetrievalDenoiser(cfg)
    step, meta = load_checkpoint(ckpt, model, None, ema)
    keep = memory_subset(d["meta"], d["train"], memory_size)
    index = RetrievalIndex.build(torch.from_numpy(d["canonical"][keep].astype(np.float32)),
                                 torch.from_numpy(d["latents"][keep].astype(np.float32)),
                                 [d["meta"][i]["style"] for i in keep])
    info = {"train_steps": step, "memory_items": len(keep), **(extra or {})}
    return save_builtin(out_path, ae, ema.eval(), index, empty_text, info)
