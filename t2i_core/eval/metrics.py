"""Metrics of the model card: R-precision and distance to the nearest training image."""

from __future__ import annotations

import numpy as np
import torch


def candidate_sets(n_prompts: int, candidates: int = 100, seed: int = 0) -> np.ndarray:
    """For each prompt i: i followed by ``candidates - 1`` other prompts (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_prompts, candidates), dtype=np.int64)
    for i in range(n_prompts):
        others = rng.choice(np.delete(np.arange(n_prompts), i), candidates - 1, replace=False)
        out[i] = np.concatenate([[i], others])
    return out


def r_precision(image_emb: torch.Tensor, prompt_of_image: np.ndarray, text_emb: torch.Tensor,
                sets: np.ndarray) -> float:
    """Fraction of images whose own prompt scores highest among its candidate set (R=1)."""
    if len(image_emb) == 0:
        return float("nan")
    sims = image_emb @ text_emb.T  # (images, prompts)
    hits = 0
    for row, p in enumerate(prompt_of_image):
        cand = torch.from_numpy(sets[p])
        hits += int(torch.argmax(sims[row, cand]).item() == 0)
    return hits / len(image_emb)


def premultiplied(rgba_u8: np.ndarray) -> torch.Tensor:
    """(N,32,32,4) uint8 -> (N, 4096) float premultiplied RGBA in [0, 1]."""
    x = torch.from_numpy(np.asarray(rgba_u8)).float() / 255.0
    x = torch.cat([x[..., :3] * x[..., 3:], x[..., 3:]], dim=-1)
    return x.reshape(len(x), -1)


def nearest_distances(queries: np.ndarray, bank: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """L2 distance from each query image to its nearest image in ``bank`` (premultiplied)."""
    q = premultiplied(queries)
    best = torch.full((len(q),), float("inf"))
    for i in range(0, len(bank), chunk):
        b = premultiplied(bank[i:i + chunk])
        best = torch.minimum(best, torch.cdist(q, b).min(dim=1).values)
    return best.numpy()


def typical_distance(bank: np.ndarray, pairs: int = 4000, seed: int = 0) -> float:
    """Median L2 distance between two random images of the bank: the scale of 'different'."""
    rng = np.random.default_rng(seed)
    a = premultiplied(bank[np.sort(rng.choice(len(bank), pairs))])
    b = premultiplied(bank[np.sort(rng.choice(len(bank), pairs))])
    return float(torch.median((a - b).norm(dim=1)))
