"""Training the live model: L_G = L_CLIP + λ·L_GAN + μ·L_distill, resumable and exact.

One step, on a batch of (caption embedding, real latent, anchor latent) from live.data:

1. alignment model (models/live_clip.py): symmetric InfoNCE on real pairs;
2. discriminator (models/live_discriminator.py), hinge loss on DiffAugment-ed latents:
   real+matching caption -> real; generated -> fake; real+mismatched caption -> fake
   (matching-aware); lazy R1 on real every ``r1_every`` steps;
3. generator: ``L_CLIP`` (InfoNCE of its images against the batch's captions under the
   alignment model, ramped in over ``clip_warmup`` steps while that model learns), ``λ·L_GAN``
   (hinge generator loss through the augmented D) and, every ``distill_every`` steps, ``μ`` x
   MSE to the built-in multi-step model's sample for the same text, noise and neighbours.

All three networks share one Adam (a param group each; a step only moves the group whose loss
was just back-propagated), so t2i_core/checkpoint.py saves them as one model + one
optimizer + the generator's EMA + the torch RNG. To keep checkpoints small the EMA is stored
as float16 and the Adam moments as bfloat16 (t2i_core/checkpoint.py: slim_checkpoint); the
in-memory state is rounded the same way at every checkpoint, so a resumed run continues
bit-for-bit like the uninterrupted one (tests/live/test_live_train.py checks this).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from t2i_core.checkpoint import load_checkpoint, save_checkpoint, slim_checkpoint
from t2i_core.live.augment import diff_augment
from t2i_core.live.data import LiveData, live_data, load_builtin_parts
from t2i_core.live.teacher import FlowTeacher
from t2i_core.live.weights import export_live
from t2i_core.models.live_clip import LiveClip, LiveClipConfig, contrastive_loss
from t2i_core.models.live_discriminator import LiveDiscriminator, LiveDiscriminatorConfig
from t2i_core.models.live_generator import LiveGenerator, LiveGeneratorConfig

CHECKPOINT = "live.ckpt.safetensors"
LOG = "log.jsonl"


@dataclass
class LiveTrainConfig:
    batch: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_clip: float = 1e-3
    gan_weight: float = 0.5  # λ
    distill_weight: float = 1.0  # μ
    distill_every: int = 4  # 0 disables distillation
    distill_batch: int = 8
    teacher_steps: int = 8
    clip_warmup: int = 500  # steps over which L_CLIP's weight ramps 0 -> 1
    r1_gamma: float = 1.0
    r1_every: int = 16
    ema_decay: float = 0.999
    anchors_k: int = 8
    checkpoint_every: int = 200  # steps; plus one at the end
    log_every: int = 50
    data_limit: int | None = None  # use only the first N memory items (tests)
    generator: LiveGeneratorConfig = field(default_factory=LiveGeneratorConfig)
    discriminator: LiveDiscriminatorConfig = field(default_factory=LiveDiscriminatorConfig)
    clip: LiveClipConfig = field(default_factory=LiveClipConfig)

    @classmethod
    def from_dict(cls, d: dict) -> LiveTrainConfig:
        d = dict(d)
        d["generator"] = LiveGeneratorConfig.from_dict(d["generator"])
        d["discriminator"] = LiveDiscriminatorConfig.from_dict(d["discriminator"])
        d["clip"] = LiveClipConfig.from_dict(d["clip"])
        return cls(**d)


class LiveModules(nn.Module):
    """The three trained networks as one module, so one checkpoint holds them all."""

    def __init__(self, cfg: LiveTrainConfig) -> None:
        super().__init__()
        self.g = LiveGenerator(cfg.generator)
        self.d = LiveDiscriminator(cfg.discriminator)
        self.clip = LiveClip(cfg.clip)


def make_optimizer(m: LiveModules, cfg: LiveTrainConfig) -> torch.optim.Adam:
    return torch.optim.Adam([
        {"params": list(m.g.parameters()), "lr": cfg.lr_g, "betas": (0.0, 0.99)},
        {"params": list(m.d.parameters()), "lr": cfg.lr_d, "betas": (0.0, 0.99)},
        {"params": list(m.clip.parameters()), "lr": cfg.lr_clip, "betas": (0.9, 0.98)}])


def _step_only(opt: torch.optim.Optimizer, module: nn.Module) -> None:
    """Apply the gradients of ``module`` alone (others' grads are dropped, not applied)."""
    mine = {id(p) for p in module.parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            if id(p) not in mine:
                p.grad = None
    opt.step()
    opt.zero_grad(set_to_none=True)


def _round_like_checkpoint(opt: torch.optim.Optimizer, ema: nn.Module) -> None:
    """Round the live state exactly as slim_checkpoint stores it (see module docstring)."""
    with torch.no_grad():
        for state in opt.state.values():
            for k, v in state.items():
                if torch.is_tensor(v) and v.is_floating_point() and v.dim() > 0:
                    state[k] = v.bfloat16().float()
        for p in ema.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.half().float())


def train_step(step: int, m: LiveModules, ema: LiveGenerator, opt: torch.optim.Optimizer,
               data: LiveData, cfg: LiveTrainConfig, teacher: FlowTeacher | None) -> dict:
    b = data.batch(cfg.batch)
    text, real, anchor = b["text"], b["latent"], b["anchor"]
    same = (text @ text.T) > 0.995  # same caption: neither a negative nor a mismatch
    aug = lambda z: diff_augment(z, data.background)  # noqa: E731 - same policy everywhere
    logs: dict[str, float] = {}

    # 1. the alignment model learns on real pairs
    loss_clip_model = contrastive_loss(m.clip.logits(aug(real), text), same)
    loss_clip_model.backward()
    _step_only(opt, m.clip)
    logs["clip_model"] = loss_clip_model.item()

    # 2. discriminator: real/matching vs generated vs real/mismatched caption
    noise = torch.randn_like(real)
    fake = m.g(noise, text, anchor)  # one forward serves both the D and the G step
    perm = torch.randperm(len(text))
    mismatch_ok = ~same[torch.arange(len(text)), perm]
    d_real = m.d(aug(real), text)
    d_fake = m.d(aug(fake.detach()), text)
    d_wrong = m.d(aug(real), text[perm])
    loss_d = (F.relu(1 - d_real).mean() + 0.5 * F.relu(1 + d_fake).mean()
              + 0.5 * (F.relu(1 + d_wrong) * mismatch_ok).sum() / mismatch_ok.sum().clamp(min=1))
    if cfg.r1_gamma > 0 and cfg.r1_every > 0 and step % cfg.r1_every == 0:
        r = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(m.d(r, text).sum(), r, create_graph=True)
        loss_d = loss_d + 0.5 * cfg.r1_gamma * cfg.r1_every * grad.pow(2).sum(dim=(1, 2, 3)).mean()
    loss_d.backward()
    _step_only(opt, m.d)
    logs["d"] = loss_d.item()
    logs["d_real"], logs["d_fake"] = d_real.mean().item(), d_fake.mean().item()

    # 3. generator: L_CLIP + λ·L_GAN (+ μ·L_distill), through the just-updated D
    loss_gan = -m.d(aug(fake), text).mean()
    loss_align = contrastive_loss(m.clip.logits(fake, text), same)
    ramp = min(1.0, step / cfg.clip_warmup) if cfg.clip_warmup > 0 else 1.0
    loss_g = ramp * loss_align + cfg.gan_weight * loss_gan
    if teacher is not None and cfg.distill_every > 0 and step % cfg.distill_every == 0:
        n = min(cfg.distill_batch, len(text))
        target = teacher(noise[:n], text[:n], b["neighbours"][:n])
        loss_distill = F.mse_loss(fake[:n], target)
        loss_g = loss_g + cfg.distill_weight * loss_distill
        logs["distill"] = loss_distill.item()
    loss_g.backward()
    _step_only(opt, m.g)
    logs["g_gan"], logs["g_clip"] = loss_gan.item(), loss_align.item()
    # EMA with warm-up: early on, average only the recent steps (a fixed 0.999 would still
    # weigh the random init at 0.999**step, i.e. 37 % after 1000 steps)
    decay = min(cfg.ema_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), m.g.parameters(), strict=True):
            pe.lerp_(p, 1 - decay)
    return logs


def train_live(builtin_path: Path, run_dir: Path, export_path: Path | None = None,
               cfg: LiveTrainConfig | None = None, steps: int = 100_000,
               minutes: float | None = None, seed: int = 0,
               stop_after: int | None = None, progress: bool = True) -> dict:
    """Train (or resume from ``run_dir``) until ``steps``, the time box, or SIGINT/SIGTERM;
    always ends with a consistent checkpoint (and an export when ``export_path`` is given).
    ``stop_after`` ends at that step as a crash would after a checkpoint (tests)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / CHECKPOINT
    step = 0
    if ckpt.exists():  # the run's own config wins over the caller's when resuming
        from safetensors import safe_open

        with safe_open(str(ckpt), framework="pt") as f:
            cfg = LiveTrainConfig.from_dict(json.loads(f.metadata()["meta"])["config"])
    cfg = cfg or LiveTrainConfig()
    torch.manual_seed(seed)
    parts = load_builtin_parts(builtin_path)
    data = live_data(parts, k=cfg.anchors_k, limit=cfg.data_limit,
                     cache=run_dir / "anchors.safetensors")
    teacher = FlowTeacher(parts.denoiser, parts.empty_text, steps=cfg.teacher_steps) \
        if cfg.distill_every > 0 else None
    m = LiveModules(cfg)
    ema = copy.deepcopy(m.g).requires_grad_(False)
    opt = make_optimizer(m, cfg)
    history: list[dict] = []
    if ckpt.exists():
        step, meta = load_checkpoint(ckpt, m, opt, ema)
        history = meta.get("history", [])
    stop = {"flag": False}
    old = {s: signal.signal(s, lambda *_: stop.update(flag=True))
           for s in (signal.SIGINT, signal.SIGTERM)}
    deadline = time.monotonic() + minutes * 60 if minutes else None
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    t0, seen0 = time.monotonic(), step
    bar = tqdm(total=steps, initial=step, desc="live", unit="step", disable=not progress)

    def save() -> None:
        _round_like_checkpoint(opt, ema)
        meta = {"config": asdict(cfg), "history": history[-400:], "seed": seed,
                "data_items": len(data)}
        full = run_dir / "live.full.tmp.safetensors"
        save_checkpoint(full, m, opt, step, meta, ema=ema)
        slim_checkpoint(full, run_dir / "live.slim.tmp.safetensors")
        os.replace(run_dir / "live.slim.tmp.safetensors", ckpt)
        full.unlink()
        if export_path is not None:
            export_live(export_path, ema, parts.ae, step, parts.meta)

    try:
        m.train()
        while step < steps and not stop["flag"]:
            if deadline is not None and time.monotonic() > deadline:
                break
            logs = train_step(step, m, ema, opt, data, cfg, teacher)
            step += 1
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
            if step % cfg.log_every == 0:
                rate = (step - seen0) * cfg.batch / max(time.monotonic() - t0, 1e-6)
                row = {"step": step, "images_per_s": round(rate, 1),
                       **{k: round(sums[k] / counts[k], 4) for k in sums}}
                history.append(row)
                with open(run_dir / LOG, "a") as f:
                    f.write(json.dumps(row) + "\n")
                bar.set_postfix(g_clip=row.get("g_clip"), d=row.get("d"))
                sums, counts = {}, {}
            bar.update(1)
            if step % cfg.checkpoint_every == 0 or step == stop_after:
                save()
            if stop_after is not None and step >= stop_after:
                return {"step": step, "history": history, "stopped": "stop_after"}
        save()
    finally:
        bar.close()
        for s, h in old.items():
            signal.signal(s, h)
    return {"step": step, "history": history, "stopped": "signal" if stop["flag"] else "done"}
