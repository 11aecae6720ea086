"""The plain pixel-space baseline: a conditional UNet over 32x32 RGBA, FiLM on the prompt.

This is the first recipe measured on our 2-core CPU (see ../shared/FACTS.md and
docs/MODEL_CARD.md): 7M parameters, flow matching directly on pixels folded 2x2 into
16x16x16, conditioned on the pooled MiniLM embedding. It drew the right *style* but no
recognizable objects after 25 minutes of training, and it is slower to sample than the latent
model. It stays in the tree as the baseline that benchmarks/bench_builtin.py times against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from t2i_core.models.denoiser import timestep_embedding


@dataclass
class PixelUNetConfig:
    channels: tuple[int, int, int] = (96, 192, 288)  # at 16, 8, 4 (after 2x2 folding)
    text_dim: int = 384
    in_channels: int = 16  # 4 RGBA channels x 2x2 fold


class FiLMBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(cond, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(c)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class PixelUNet(nn.Module):
    def __init__(self, cfg: PixelUNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or PixelUNetConfig()
        c0, c1, c2 = cfg.channels
        cond = c0 * 2
        self.cond = nn.Sequential(nn.Linear(256 + cfg.text_dim, cond), nn.SiLU(),
                                  nn.Linear(cond, cond))
        self.stem = nn.Conv2d(cfg.in_channels, c0, 3, padding=1)
        self.down1 = FiLMBlock(c0, c0, cond)
        self.down2 = FiLMBlock(c0, c1, cond)
        self.mid = FiLMBlock(c1, c2, cond)
        self.up2 = FiLMBlock(c2 + c1, c1, cond)
        self.up1 = FiLMBlock(c1 + c0, c0, cond)
        self.out = nn.Conv2d(c0, cfg.in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """x (B,4,32,32) premultiplied pixels -> velocity of the same shape."""
        c = self.cond(torch.cat([timestep_embedding(t), text], dim=-1))
        h0 = self.down1(self.stem(F.pixel_unshuffle(x, 2)), c)  # 16x16
        h1 = self.down2(F.avg_pool2d(h0, 2), c)  # 8x8
        m = self.mid(F.avg_pool2d(h1, 2), c)  # 4x4
        u1 = self.up2(torch.cat([F.interpolate(m, scale_factor=2.0), h1], 1), c)
        u0 = self.up1(torch.cat([F.interpolate(u1, scale_factor=2.0), h0], 1), c)
        return F.pixel_shuffle(self.out(u0), 2)
