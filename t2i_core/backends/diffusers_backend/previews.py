"""Cheap previews: latents -> RGB by a per-family linear map (no VAE decode).

A VAE decode costs about as much as several denoising steps at full size; a (C x 3) matrix
product over an 8x smaller latent costs next to nothing, which is what lets previews go out
at every progress event without slowing generation (benchmarks/bench_diffusers.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from t2i_core.backends.diffusers_backend.families import Family


def latent_preview(latents: Any, family: Family) -> np.ndarray | None:
    """The first image of a (B, C, h, w) latent batch as (h, w, 4) uint8 RGBA."""
    import torch

    if latents is None or latents.ndim != 4:
        return None
    with torch.no_grad():
        x = latents[0].detach().float().cpu()
        c = x.shape[0]
        if c == len(family.rgb_factors):
            m = torch.tensor(family.rgb_factors)  # (C, 3)
            rgb = torch.einsum("chw,cr->hwr", x, m) + torch.tensor(family.rgb_bias)
            rgb = (rgb + 1.0) / 2.0
        else:  # an unusual latent space: show the first three channels, normalised
            rgb = x[:3].permute(1, 2, 0) if c >= 3 else x[:1].permute(1, 2, 0).expand(-1, -1, 3)
            lo, hi = rgb.amin(), rgb.amax()
            rgb = (rgb - lo) / (hi - lo + 1e-6)
        out = np.empty((*rgb.shape[:2], 4), np.uint8)
        out[..., :3] = (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        out[..., 3] = 255
    return out
