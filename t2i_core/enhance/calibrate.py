"""Calibrate the training/benchmark degradation on the generator's real 32 px output.

Blur is measured as semi-transparent pixels (alpha in (0.1, 0.9)) per pixel of the alpha-0.5
outline: a clean render has about one soft pixel per outline pixel, a blurry one more. The
blur sigma at which clean renders match the generator's samples is the degradation used in
training (train.DEGRADE_SIGMA) and in benchmarks/bench_upscale.py.
"""

from __future__ import annotations

import numpy as np
import torch

from t2i_core.enhance.train import degrade

# Measured on 60 samples of the built-in model (prompts: test captions) against the 600 test
# renders: softness 1.10 vs 0.74 clean; sigma 0.4 -> 0.88, 0.5 -> 1.33 (docs/upscale.md).
CALIBRATED_SIGMA = 0.45


def softness(rgba: np.ndarray) -> float:
    """Median over images of (semi-transparent pixels) / (outline pixels); (N,H,W,4) uint8."""
    a = rgba[..., 3].astype(np.float32) / 255
    semi = ((a > 0.1) & (a < 0.9)).sum(axis=(1, 2))
    inside = a >= 0.5
    outline = np.zeros_like(inside)
    outline[:, 1:] |= inside[:, 1:] != inside[:, :-1]
    outline[:, :, 1:] |= inside[:, :, 1:] != inside[:, :, :-1]
    keep = outline.sum(axis=(1, 2)) > 0
    return float(np.median(semi[keep] / outline.sum(axis=(1, 2))[keep]))


def blurred(rgba: np.ndarray, sigma: float) -> np.ndarray:
    from t2i_core.models.upscaler import to_premultiplied, to_straight

    x = to_premultiplied(torch.from_numpy(rgba).permute(0, 3, 1, 2).float() / 255)
    if sigma > 0:
        x = degrade(x, torch.full((len(x),), sigma), 0.0, torch.Generator())
    return (to_straight(x).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


def match_sigma(clean: np.ndarray, samples: np.ndarray,
                sigmas: tuple[float, ...] = tuple(np.arange(0, 1.55, 0.1))) -> dict:
    """The sigma whose blurred clean renders are as soft as the samples."""
    target = softness(samples)
    table = {round(float(s), 2): round(softness(blurred(clean, float(s))), 3) for s in sigmas}
    best = min(table, key=lambda s: abs(table[s] - target))
    return {"samples_softness": round(target, 3), "clean_softness": table[0.0],
            "by_sigma": table, "sigma": best}
