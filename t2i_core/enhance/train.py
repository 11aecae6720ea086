"""`t2i upscaler train`: train the 4x icon upscaler on exact SVG pairs (pairs.py).

Recipe (decisions and measurements in docs/upscale.md):
- input: a random 24x24 crop of the 32 px render (crops that hold an edge), flipped/rotated,
  colour channels permuted, mono icons sometimes recoloured; half of the inputs degraded like
  the generator's own 32 px output (Gaussian blur on premultiplied RGBA + a little noise,
  strength calibrated on real samples: ``DEGRADE_SIGMA``);
- target: the same crop of the 128 px render;
- loss: L1 + RMSE on the composite over white *and* over black (what the benchmark scores;
  two backgrounds make colour and alpha both count; RMSE is what PSNR measures) plus an L1
  on the alpha gradients, which rewards edges where the truth has them instead of blur;
- Adam, cosine learning rate, EMA of the weights; a checkpoint (model, EMA, optimizer, RNG,
  step) every ``save_every`` steps, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from t2i_core.checkpoint import load_checkpoint, save_checkpoint
from t2i_core.enhance.weights import export_upscaler
from t2i_core.models.upscaler import Upscaler, UpscalerConfig, to_premultiplied

# Blur (in 32 px pixels) of the generator's own output, measured on real samples (see
# docs/upscale.md, "Degradation"); training draws sigma from [0.5, 1.5] x this.
DEGRADE_SIGMA = 0.6


@dataclass
class TrainConfig:
    steps: int = 3000
    batch: int = 16
    crop: int = 24  # low-resolution crop side
    lr: float = 1e-3
    ema: float = 0.995
    degrade_p: float = 0.5
    degrade_sigma: float = DEGRADE_SIGMA
    recolour_p: float = 0.3
    # Share of the batch drawn from colour icons (None: as they come, half and half). Colour
    # was the kind furthest from the bar after the first runs (docs/upscale.md).
    colour_share: float | None = None
    edge_weight: float = 0.5
    rmse_weight: float = 1.0  # RMSE of the composites: what PSNR scores (L1 alone is median-sharp)
    save_every: int = 100
    val_every: int = 500
    val_icons: int = 128  # the last icons of the train pairs, never trained on


def gaussian_blur(pre: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur of (B,C,H,W) with sigmas (B,), 5x5 kernel, zero padding."""
    r = torch.arange(-2, 3, dtype=pre.dtype)
    k1 = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    k1 = k1 / k1.sum(1, keepdim=True)
    k2 = k1[:, :, None] * k1[:, None, :]  # (B,5,5)
    b, c, h, w = pre.shape
    weight = k2[:, None].repeat_interleave(c, 0)  # (B*C,1,5,5)
    out = F.conv2d(pre.reshape(1, b * c, h, w), weight, padding=2, groups=b * c)
    return out.reshape(b, c, h, w)


def degrade(pre: torch.Tensor, sigma: torch.Tensor, noise: float,
            gen: torch.Generator) -> torch.Tensor:
    """Blur + noise like the generator's output, kept valid premultiplied RGBA."""
    out = gaussian_blur(pre, sigma)
    out = out + noise * torch.randn(out.shape, generator=gen)
    a = out[:, 3:].clamp(0, 1)
    return torch.cat([torch.minimum(out[:, :3].clamp_min(0), a), a], dim=1)


def composites(pre: torch.Tensor) -> torch.Tensor:
    """Premultiplied RGBA -> RGB over black and RGB over white, stacked on channels."""
    return torch.cat([pre[:, :3], pre[:, :3] + (1 - pre[:, 3:])], dim=1)


def alpha_gradients(pre: torch.Tensor) -> torch.Tensor:
    a = pre[:, 3:]
    return torch.cat([a[..., 1:, :-1] - a[..., :-1, :-1], a[..., :-1, 1:] - a[..., :-1, :-1]],
                     dim=1)


def upscaler_loss(pred: torch.Tensor, true: torch.Tensor, edge_weight: float,
                  rmse_weight: float = 0.0) -> torch.Tensor:
    diff = composites(pred) - composites(true)
    loss = diff.abs().mean() + rmse_weight * diff.square().mean().clamp_min(1e-12).sqrt()
    return loss + edge_weight * (alpha_gradients(pred) - alpha_gradients(true)).abs().mean()


class PairSampler:
    """Random augmented crops from the pair arrays (uint8 in memory, float on the fly)."""

    def __init__(self, pairs_dir: Path, cfg: TrainConfig, seed: int) -> None:
        self.lo = np.load(pairs_dir / "train32.npy", mmap_mode="r")
        self.hi = np.load(pairs_dir / "train128.npy", mmap_mode="r")
        meta = [json.loads(line) for line in (pairs_dir / "train.jsonl").open()]
        self.mono = np.array([m["kind"] == "mono" for m in meta])
        # The validation icons: a fixed stride through the arrays (both kinds), not trained on.
        n = len(self.lo)
        self.val_idx = np.arange(0, n, max(1, n // cfg.val_icons))[: cfg.val_icons]
        self.train_idx = np.setdiff1d(np.arange(n), self.val_idx)
        self.train_mono = self.train_idx[self.mono[self.train_idx]]
        self.train_colour = self.train_idx[~self.mono[self.train_idx]]
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, rng, c = self.cfg, self.rng, self.cfg.crop
        los, his = [], []
        while len(los) < cfg.batch:
            if cfg.colour_share is None:
                i = int(rng.choice(self.train_idx))
            else:
                pool = self.train_colour if rng.random() < cfg.colour_share else self.train_mono
                i = int(rng.choice(pool))
            y, x = (int(v) for v in rng.integers(0, 32 - c + 1, size=2))
            lo = self.lo[i, y:y + c, x:x + c]
            a = lo[..., 3]
            if not ((a > 8) & (a < 247)).any() and rng.random() < 0.9:  # mostly edge crops
                continue
            hi = self.hi[i, 4 * y:4 * (y + c), 4 * x:4 * (x + c)]
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            lo, hi = np.rot90(lo, k), np.rot90(hi, k)
            if flip:
                lo, hi = lo[:, ::-1], hi[:, ::-1]
            perm = np.append(rng.permutation(3), 3)
            lo, hi = lo[..., perm], hi[..., perm]
            if self.mono[i] and rng.random() < cfg.recolour_p:  # black ink -> any ink
                ink = rng.integers(0, 256, size=3).astype(np.uint8)
                lo, hi = lo.copy(), hi.copy()
                lo[..., :3], hi[..., :3] = ink, ink
            los.append(np.ascontiguousarray(lo))
            his.append(np.ascontiguousarray(hi))
        lo_t = to_premultiplied(torch.from_numpy(np.stack(los)).permute(0, 3, 1, 2).float() / 255)
        hi_t = to_premultiplied(torch.from_numpy(np.stack(his)).permute(0, 3, 1, 2).float() / 255)
        degraded = torch.rand(cfg.batch, generator=self.gen) < cfg.degrade_p
        if degraded.any():
            sig = cfg.degrade_sigma * (0.5 + torch.rand(cfg.batch, generator=self.gen))
            noise = 0.01 * float(torch.rand(1, generator=self.gen))
            lo_t = torch.where(degraded[:, None, None, None],
                               degrade(lo_t, sig, noise, self.gen), lo_t)
        return lo_t, hi_t

    def validation(self) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        lo = torch.from_numpy(np.asarray(self.lo[self.val_idx])).permute(0, 3, 1, 2).float()
        hi = torch.from_numpy(np.asarray(self.hi[self.val_idx])).permute(0, 3, 1, 2).float()
        return to_premultiplied(lo / 255), to_premultiplied(hi / 255), self.mono[self.val_idx]


def psnr_white(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR of the composite over white (the figure the issue's table uses)."""
    pw = pred[:, :3] + (1 - pred[:, 3:])
    tw = true[:, :3] + (1 - true[:, 3:])
    mse = ((pw - tw) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(1 / mse)


@torch.no_grad()
def validate(model: Upscaler, sampler: PairSampler) -> dict:
    lo, hi, mono = sampler.validation()
    sigma = torch.full((len(lo),), sampler.cfg.degrade_sigma)
    out = {}
    for cond, x in (("clean", lo), ("degraded", degrade(lo, sigma, 0.0, torch.Generator()))):
        ours = torch.cat([model(x[i:i + 32]) for i in range(0, len(x), 32)])
        ps = psnr_white(ours, hi)
        from t2i_core.models.upscaler import baseline_upscale

        pb = psnr_white(baseline_upscale(x, 4, model.cfg.alpha_contrast), hi)
        for kind, sel in (("mono", mono), ("colour", ~mono)):
            s = torch.from_numpy(sel)
            out[f"{cond}_{kind}"] = [round(float(ps[s].mean()), 2), round(float(pb[s].mean()), 2)]
    return out  # {cond_kind: [ours, baseline]}


def train_upscaler(pairs_dir: Path, run_dir: Path, out: Path, minutes: float | None,
                   cfg: TrainConfig | None = None, model_cfg: UpscalerConfig | None = None,
                   threads: int = 1, log=print) -> Path:
    """Train (resuming ``run_dir/upscaler.ckpt.safetensors`` if present) and export."""
    torch.set_num_threads(threads)
    ckpt = run_dir / "upscaler.ckpt.safetensors"
    meta_path = run_dir / "config.json"
    if ckpt.exists():  # a resumed run keeps its own configs
        saved = json.loads(meta_path.read_text())
        cfg = TrainConfig(**{**saved["train"], **({"steps": cfg.steps} if cfg else {})})
        model_cfg = UpscalerConfig.from_dict(saved["model"])
    cfg, model_cfg = cfg or TrainConfig(), model_cfg or UpscalerConfig()
    torch.manual_seed(0)
    model = Upscaler(model_cfg)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    if ckpt.exists():
        step, _ = load_checkpoint(ckpt, model, opt, ema)
        log(f"resumed at step {step}")
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps({"train": asdict(cfg), "model": model_cfg.to_dict()},
                                    indent=2))
    sampler = PairSampler(pairs_dir, cfg, seed=1000 + step)  # a resumed run draws new crops
    t_end = time.time() + minutes * 60 if minutes else math.inf
    log_file = (run_dir / "log.jsonl").open("a")
    t0, losses = time.time(), []
    while step < cfg.steps and time.time() < t_end:
        lr = cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        lo, hi = sampler.batch()
        loss = upscaler_loss(model(lo), hi, cfg.edge_weight, cfg.rmse_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - cfg.ema)
        step += 1
        losses.append(loss.item())
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_checkpoint(ckpt, model, opt, step, {"config": asdict(cfg)}, ema=ema)
            export_upscaler(out, ema, step)
            rec = {"step": step, "loss": round(float(np.mean(losses)), 5), "lr": lr,
                   "s": round(time.time() - t0, 1)}
            if step % cfg.val_every == 0 or step == cfg.steps:
                rec["val_psnr_white_ours_baseline"] = validate(ema, sampler)
            log_file.write(json.dumps(rec) + "\n")
            log_file.flush()
            log(json.dumps(rec))
            losses = []
    save_checkpoint(ckpt, model, opt, step, {"config": asdict(cfg)}, ema=ema)
    export_upscaler(out, ema, step)
    return out
