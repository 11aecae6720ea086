"""Image augmentation for fine-tuning: random crops, horizontal flips, mild colour jitter.

Images arrive as ``STORE`` px squares (dataset.py); the model sees 32 px.

- crop: a random square of 85-100 % of the side at a random place, resized to 32 px
  (small shifts and zooms: a 20-image folder then never shows the exact same pixels twice);
- flip: left-right with probability 1/2;
- colour jitter: brightness and contrast within +-``jitter`` (default 5 %). Hue is never
  jittered, and the default is small, because for a *style* adapter the palette is often the
  style itself: a strong jitter teaches the model that colour does not matter
  ("where the data allow", docs/finetune.md).

Everything draws from the job's ``numpy.random.Generator``, whose state is checkpointed, so a
resumed run sees the same augmented batches as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

NATIVE = 32


def centre(images: np.ndarray) -> torch.Tensor:
    """(B,S,S,4) uint8 -> (B,4,32,32) premultiplied in [-1, 1], the whole image."""
    return _to_model(torch.from_numpy(np.ascontiguousarray(images)), None, None, None)


def augment(images: np.ndarray, rng: np.random.Generator, min_crop: float = 0.85,
            flip: bool = True, jitter: float = 0.05) -> torch.Tensor:
    """(B,S,S,4) uint8 -> (B,4,32,32) premultiplied in [-1, 1], randomly cropped/flipped."""
    b, s = images.shape[0], images.shape[1]
    sizes = np.maximum(NATIVE // 2, (s * rng.uniform(min_crop, 1.0, size=b)).astype(int))
    sizes = np.minimum(sizes, s)
    tops = (rng.random(b) * (s - sizes + 1)).astype(int)
    lefts = (rng.random(b) * (s - sizes + 1)).astype(int)
    flips = rng.random(b) < 0.5 if flip else np.zeros(b, bool)
    gains = 1 + rng.uniform(-jitter, jitter, size=b) if jitter > 0 else np.ones(b)
    contrast = 1 + rng.uniform(-jitter, jitter, size=b) if jitter > 0 else np.ones(b)
    crops = (sizes, tops, lefts)
    return _to_model(torch.from_numpy(np.ascontiguousarray(images)), crops, flips,
                     (gains, contrast))


def _to_model(x: torch.Tensor, crops, flips, colour) -> torch.Tensor:
    f = x.float().permute(0, 3, 1, 2) / 255.0
    rgb, a = f[:, :3], f[:, 3:]
    if colour is not None:
        gains, contrast = (torch.from_numpy(c).float().view(-1, 1, 1, 1) for c in colour)
        mean = (rgb * a).sum((2, 3), keepdim=True) / a.sum((2, 3), keepdim=True).clamp(min=1e-3)
        rgb = ((rgb - mean) * contrast + mean) * gains
        rgb = rgb.clamp(0, 1)
    pre = torch.cat([rgb * a, a], dim=1)  # resample premultiplied: no dark fringes
    if crops is None:
        out = F.interpolate(pre, size=(NATIVE, NATIVE), mode="area")
    else:
        sizes, tops, lefts = crops
        out = torch.stack([
            F.interpolate(pre[i:i + 1, :, t:t + sz, le:le + sz], size=(NATIVE, NATIVE),
                          mode="area")[0]
            for i, (sz, t, le) in enumerate(zip(sizes, tops, lefts, strict=True))])
        if flips is not None and flips.any():
            idx = torch.from_numpy(np.flatnonzero(flips))
            out[idx] = out[idx].flip(3)
    return out * 2 - 1
