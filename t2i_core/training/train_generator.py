"""Train the retrieval-augmented latent flow model (stage 2 of the built-in model).

Inputs, prepared once and cached in the run folder:
- the autoencoder's latents of every item (``latents.npy``);
- for every training item, its 16 nearest *other* captions of the same style
  (``neighbours.npy``): never itself and never an item with the same caption, so retrieval
  cannot hand the target image back and the model must draw, not copy.

Each step: a batch of training latents; text = the canonical or an augmented caption embedding;
4 neighbours drawn from the item's 16; with probability ``p_uncond`` text and neighbours are
dropped together (the unconditional branch for CFG), with ``p_no_neighbours`` only the
neighbours (robustness to a prompt nothing in memory matches). Loss: flow matching,
``|| v(x_t, t) - (noise - x0) ||^2`` with t drawn logit-normal. An EMA of the weights is
what gets exported. Time-boxed and resumable.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from t2i_core.checkpoint import load_checkpoint, save_checkpoint
from t2i_core.data.meta import load_meta
from t2i_core.models.autoencoder import Autoencoder, AutoencoderConfig, to_model_space
from t2i_core.models.denoiser import DenoiserConfig, RetrievalDenoiser


def load_autoencoder(path: Path) -> Autoencoder:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        cfg = AutoencoderConfig.from_dict(json.loads(f.metadata()["config"]))
        state = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118
    ae = Autoencoder(cfg)
    ae.load_state_dict(state)
    return ae.eval().requires_grad_(False)


def encode_latents(ae: Autoencoder, images: np.ndarray, batch: int = 512) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(images), batch), desc="encoding latents", unit="batch"):
            x = to_model_space(torch.from_numpy(np.array(images[i:i + batch])))
            out.append(ae.encode(x).half().numpy())
    return np.concatenate(out)


def nearest_captions(emb: np.ndarray, captions: list[str], styles: list[str], k: int = 16,
                     chunk: int = 1024) -> np.ndarray:
    """For each row, the k most similar rows of the same style with a different caption."""
    e = torch.from_numpy(emb.astype(np.float32))
    style_ids = torch.tensor([hash(s) % 1000 for s in styles])
    cap_ids = torch.tensor([hash(c) for c in captions])
    out = np.zeros((len(e), k), dtype=np.int32)
    for i in tqdm(range(0, len(e), chunk), desc="finding neighbours", unit="chunk"):
        s = e[i:i + chunk] @ e.T
        s[style_ids[i:i + chunk, None] != style_ids[None]] = -2
        s[cap_ids[i:i + chunk, None] == cap_ids[None]] = -3  # itself and same-caption items
        out[i:i + chunk] = torch.topk(s, k, dim=1).indices.numpy()
    return out


def prepare_run(data_dir: Path, run_dir: Path) -> dict:
    """Cache latents and neighbour tables in ``run_dir``; returns the arrays."""
    meta = load_meta(data_dir)
    train = np.array([i for i, m in enumerate(meta) if m["split"] == "train"])
    lat_path, nb_path = run_dir / "latents.npy", run_dir / "neighbours.npy"
    if not lat_path.exists():
        ae = load_autoencoder(run_dir / "autoencoder.safetensors")
        np.save(lat_path, encode_latents(ae, np.load(data_dir / "images32.npy", mmap_mode="r")))
    caps = np.load(data_dir / "captions.npz")
    if not nb_path.exists():
        nb = nearest_captions(caps["canonical"][train], [meta[i]["caption"] for i in train],
                              [meta[i]["style"] for i in train])
        np.save(nb_path, train[nb])  # store global item indices
    return {"meta": meta, "train": train, "latents": np.load(lat_path),
            "neighbours": np.load(nb_path), "canonical": caps["canonical"],
            "augmented": caps["augmented"]}


def train_generator(data_dir: Path, run_dir: Path, empty_text: torch.Tensor,
                    minutes: float = 60.0, batch: int = 64, lr: float = 5e-4,
                    total_steps: int = 6000, p_uncond: float = 0.1,
                    p_no_neighbours: float = 0.05, seed: int = 0,
                    cfg: DenoiserConfig | None = None, stop_after: int | None = None) -> dict:
    """Train (or resume) until ``total_steps`` or the time box; ``stop_after`` ends early at
    that step as a crash would (after a checkpoint), for tests of exact resume."""
    torch.manual_seed(seed)
    d = prepare_run(data_dir, run_dir)
    cfg = cfg or DenoiserConfig()
    model = RetrievalDenoiser(cfg)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    ckpt = run_dir / "denoiser.ckpt.safetensors"
    step = 0
    losses: list[float] = []
    rng = np.random.default_rng(seed)
    running = 0.0
    if ckpt.exists():
        step, meta = load_checkpoint(ckpt, model, opt, ema)
        losses = meta.get("losses", [])
        rng.bit_generator.state = meta["np_rng"]
        running = meta.get("running", 0.0)
    latents = torch.from_numpy(d["latents"].astype(np.float32))
    canonical = torch.from_numpy(d["canonical"].astype(np.float32))
    augmented = torch.from_numpy(d["augmented"].astype(np.float32))
    train, table = d["train"], d["neighbours"]
    deadline = time.time() + minutes * 60
    bar = tqdm(total=total_steps, initial=step, desc="generator", unit="step")

    def checkpoint() -> None:
        save_checkpoint(ckpt, model, opt, step, {"config": cfg.to_dict(), "losses": losses,
                                                 "np_rng": rng.bit_generator.state,
                                                 "running": running}, ema)

    while step < total_steps and time.time() < deadline and step != stop_after:
        rows = rng.integers(0, len(train), size=batch)
        items = train[rows]
        x0 = latents[items]
        use_aug = torch.from_numpy(rng.random(batch) < 0.5)
        variant = torch.from_numpy(rng.integers(0, augmented.shape[1], size=batch))
        text = torch.where(use_aug[:, None], augmented[items, variant], canonical[items])
        picks = np.stack([rng.choice(16, cfg.neighbours, replace=False) for _ in rows])
        nb = latents[table[rows[:, None], picks]]
        drop = torch.from_numpy(rng.random(batch) < p_uncond)
        drop_nb = drop | torch.from_numpy(rng.random(batch) < p_no_neighbours)
        text = torch.where(drop[:, None], empty_text.expand_as(text), text)
        nb = torch.where(drop_nb[:, None, None, None, None], torch.zeros_like(nb), nb)
        t = torch.sigmoid(torch.randn(batch))  # logit-normal times
        noise = torch.randn_like(x0)
        x_t = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * noise
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 300) * 0.5 * (1 + math.cos(
                math.pi * min(step / total_steps, 1.0)))
        loss = F.mse_loss(model(x_t, t, text, nb), noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - decay)
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if running else loss.item()
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{running:.4f}")
            losses.append(round(running, 5))
        if step % 500 == 0:
            checkpoint()
    checkpoint()
    bar.close()
    return {"steps": step, "loss": running, "images_seen": step * batch,
            "params": sum(p.numel() for p in model.parameters())}
