"""Train the latent autoencoder (stage 1 of the built-in model).

Recipe: L1 + 0.5*MSE on premultiplied RGBA, colour images (emoji, multicolour icons) sampled
as often as monochrome ones (they are a quarter of the data but most of the colour error),
small Gaussian noise on the latents so the decoder tolerates imperfect generated latents.
Time-boxed (``minutes``) and resumable from ``runs/<name>/autoencoder.ckpt.safetensors``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from t2i_core.checkpoint import export_weights, load_checkpoint, save_checkpoint
from t2i_core.data.meta import load_meta
from t2i_core.models.autoencoder import Autoencoder, AutoencoderConfig, to_model_space


def style_balanced_weights(meta: list[dict], idx: np.ndarray) -> np.ndarray:
    styles = np.array([meta[i]["style"] for i in idx])
    w = np.where(styles == "icon", 1.0, 0.0)
    colour = styles != "icon"
    w[colour] = (~colour).sum() / max(colour.sum(), 1)  # colour half as likely as mono total
    return w / w.sum()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = F.mse_loss((a.clamp(-1, 1) + 1) / 2, (b + 1) / 2).item()
    return 10 * math.log10(1 / max(mse, 1e-10))


def train_autoencoder(data_dir: Path, run_dir: Path, minutes: float = 10.0, batch: int = 64,
                      lr: float = 2e-3, total_steps: int = 12000, seed: int = 0,
                      cfg: AutoencoderConfig | None = None) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = np.load(data_dir / "images32.npy", mmap_mode="r")
    meta = load_meta(data_dir)
    train_idx = np.array([i for i, m in enumerate(meta) if m["split"] == "train"], dtype=np.int64)
    val_idx = np.array([i for i, m in enumerate(meta) if m["split"] == "val"], dtype=np.int64)
    val_idx = val_idx[:512] if len(val_idx) else train_idx[:64]  # tiny sets may lack a val split
    probs = style_balanced_weights(meta, train_idx)
    cfg = cfg or AutoencoderConfig()
    model = Autoencoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    ckpt = run_dir / "autoencoder.ckpt.safetensors"
    step = 0
    if ckpt.exists():
        step, _ = load_checkpoint(ckpt, model, opt)
        rng = np.random.default_rng(seed + step)
    val = to_model_space(torch.from_numpy(np.array(images[val_idx])))
    deadline = time.time() + minutes * 60
    bar = tqdm(total=total_steps, initial=step, desc="autoencoder", unit="step")
    model.train()
    while step < total_steps and time.time() < deadline:
        idx = np.sort(rng.choice(train_idx, size=batch, p=probs))
        x = to_model_space(torch.from_numpy(np.array(images[idx])))
        if rng.random() < 0.5:
            x = x.flip(3)
        for g in opt.param_groups:  # cosine decay with a short warm-up
            g["lr"] = lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(
                math.pi * min(step / total_steps, 1.0)))
        z = model.encoder(x)
        z = z + 0.05 * z.detach().std() * torch.randn_like(z)
        rec = model.decoder(z)
        loss = F.l1_loss(rec, x) + 0.5 * F.mse_loss(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % 100 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % 1000 == 0:
            save_checkpoint(ckpt, model, opt, step, {"config": cfg.to_dict()})
    save_checkpoint(ckpt, model, opt, step, {"config": cfg.to_dict()})
    bar.close()
    model.eval()
    with torch.no_grad():
        val_psnr = psnr(model(val), val)
        # Per-channel latent statistics over a sample of the training split.
        sample = rng.choice(train_idx, size=min(4096, len(train_idx)), replace=False)
        zs = torch.cat([model.encoder(to_model_space(torch.from_numpy(
            np.array(images[np.sort(sample[i:i + 512])])))) for i in range(0, len(sample), 512)])
    cfg.latent_mean = tuple(zs.mean(dim=(0, 2, 3)).tolist())
    cfg.latent_std = tuple(zs.std(dim=(0, 2, 3)).tolist())
    final = Autoencoder(cfg)
    final.encoder.load_state_dict(model.encoder.state_dict())
    final.decoder.load_state_dict(model.decoder.state_dict())
    stats = {"steps": step, "val_psnr_db": round(val_psnr, 2),
             "params": sum(p.numel() for p in final.parameters())}
    export_weights(run_dir / "autoencoder.safetensors", final.state_dict(),
                   {"config": json.dumps(cfg.to_dict()), "stats": json.dumps(stats)})
    return stats
