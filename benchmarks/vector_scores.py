"""Scoring a vector result against the true drawing, and the generator-like degradation
(benchmarks/bench_vector.py).

A raster (the SVG rendered back, or a resized raster) is composited on white and on black
and compared with the truth: PSNR, SSIM, alpha IoU (alpha >= 0.5) and the count of
semi-transparent pixels, whose ratio to the truth's is the blur ratio. The degraded inputs
are the clean icons blurred (premultiplied Gaussian) until their share of semi-transparent
pixels matches the generator's own samples.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

SIZE = 512  # results are scored at this size


# --- degradation calibrated on the generator ------------------------------------------------

def semi_share(images: np.ndarray) -> float:
    a = images[..., 3].astype(np.float32) / 255
    return float(((a > 0.1) & (a < 0.9)).sum() / max(1, (a > 0.1).sum()))


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    f = image.astype(np.float32) / 255
    pre = np.concatenate([f[..., :3] * f[..., 3:], f[..., 3:]], -1)
    pre = np.stack([ndimage.gaussian_filter(pre[..., c], sigma) for c in range(4)], -1)
    a = pre[..., 3:]
    rgb = np.where(a > 1e-3, pre[..., :3] / np.maximum(a, 1e-3), 0)
    return (np.clip(np.concatenate([rgb, a], -1), 0, 1) * 255 + 0.5).astype(np.uint8)


def calibrate(clean: np.ndarray, generated: np.ndarray) -> tuple[float, float, float]:
    target = semi_share(generated)
    sigmas = np.arange(0.0, 1.6, 0.05)
    shares = [semi_share(np.stack([blur(x, s) for x in clean])) for s in sigmas]
    best = int(np.argmin([abs(s - target) for s in shares]))
    return float(sigmas[best]), target, shares[best]



# --- scoring ------------------------------------------------------------------------------

def on(bg: float, rgba: np.ndarray) -> np.ndarray:
    f = rgba.astype(np.float32) / 255
    return (f[..., :3] * f[..., 3:] + bg * (1 - f[..., 3:])) * 255


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def semi(rgba: np.ndarray) -> int:
    a = rgba[..., 3]
    return int(((a > 12) & (a < 243)).sum())


def score(out: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    s = {}
    for name, bg in (("white", 1.0), ("black", 0.0)):
        x, y = on(bg, out), on(bg, truth)
        s[f"psnr_{name}"] = psnr(x, y)
        s[f"ssim_{name}"] = float(structural_similarity(x, y, channel_axis=-1,
                                                        data_range=255))
    ao, at = out[..., 3] >= 128, truth[..., 3] >= 128
    s["alpha_iou"] = float((ao & at).sum() / max(1, (ao | at).sum()))
    s["semi"], s["semi_truth"] = semi(out), semi(truth)
    return s


def summarize(rows: list[dict]) -> dict:
    out = {}
    for k in rows[0]:
        vals = [r[k] for r in rows]
        out[k] = round(float(np.median(vals) if k in ("bytes", "paths") else np.mean(vals)), 4)
    if "semi" in out:  # blur ratio over the whole set: pixel-aligned truths have ~0 of them
        out["blur_ratio"] = round(sum(r["semi"] for r in rows)
                                  / max(1, sum(r["semi_truth"] for r in rows)), 3)
        del out["semi"], out["semi_truth"]
    return out
