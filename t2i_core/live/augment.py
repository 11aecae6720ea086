"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for 8x8x8 latents.

The discriminator overfits a few tens of thousands of icons quickly; augmenting what it sees
(real and generated alike, with the same random policy, and differentiably so the generator's
gradient passes through) keeps it honest without leaking augmentations into the generator's
outputs. Pixel-space colour jitter has no meaning in a latent, so the policy is spatial:

- translation by up to ``shift`` latent cells (1 cell = 4 pixels), the uncovered border filled
  with the latent of an empty (transparent) image;
- cutout of a half-size square, filled the same way;
- a little Gaussian noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(z: torch.Tensor, background: torch.Tensor, shift: int = 1,
                 p_cutout: float = 0.5, noise: float = 0.05) -> torch.Tensor:
    """z (B,C,S,S); background (C,) the latent of a transparent cell. Uses the global RNG."""
    b, c, s, _ = z.shape
    bg = background.view(1, c, 1, 1).to(z)
    if shift > 0:
        padded = F.pad(z - bg, (shift, shift, shift, shift)) + bg  # border = background
        dx = torch.randint(0, 2 * shift + 1, (b,))
        dy = torch.randint(0, 2 * shift + 1, (b,))
        rows = (dy[:, None] + torch.arange(s)[None]).to(z.device)  # (B,S)
        cols = (dx[:, None] + torch.arange(s)[None]).to(z.device)
        idx_b = torch.arange(b, device=z.device)[:, None, None]
        z = padded.permute(0, 2, 3, 1)[idx_b, rows[:, :, None], cols[:, None, :]]
        z = z.permute(0, 3, 1, 2)
    if p_cutout > 0:
        half = s // 2
        ox = torch.randint(0, s - half + 1, (b, 1, 1))
        oy = torch.randint(0, s - half + 1, (b, 1, 1))
        grid = torch.arange(s)
        inside = ((grid.view(1, s, 1) >= oy) & (grid.view(1, s, 1) < oy + half)
                  & (grid.view(1, 1, s) >= ox) & (grid.view(1, 1, s) < ox + half))
        apply = torch.rand(b, 1, 1) < p_cutout
        mask = (inside & apply).unsqueeze(1).to(z)
        z = z * (1 - mask) + bg * mask
    if noise > 0:
        z = z + noise * torch.randn_like(z)
    return z
