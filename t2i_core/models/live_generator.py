"""The live generator: text embedding + noise (+ one retrieved anchor) -> image, one forward pass.

Live mode redraws the preview as the user types, so one image must cost a few milliseconds on
a laptop CPU. This network therefore never iterates: it maps

    noise (8x8x8 latent, N(0, 1))  ┐
    anchor latent (8x8x8)          ├─> small conv net, FiLM-conditioned on the text ─> latent
    MiniLM text embedding (384)    ┘

and the built-in model's autoencoder decoder (frozen, shared) turns the latent into a 32x32
premultiplied RGBA icon. Working in the autoencoder's latent space rather than in pixels makes
the generator, the discriminator and the alignment model ~16x cheaper to train on a CPU.

The *anchor* is the latent of a training icon whose caption is near the prompt, drawn with the
image's seed from the built-in model's retrieval memory (t2i_core/retrieval.py). The multi-step
model measured that text alone does not make objects recognisable at this data scale and that
retrieved examples do; the anchor gives the one-step model the same hint. ``anchor=False`` in
the config makes it a pure text + noise generator.

Shapes follow nanoGPT/diffusers habits: a config dataclass, a module per block, a
``forward(noise, text, anchor) -> latent`` that works on batches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LiveGeneratorConfig:
    text_dim: int = 384  # MiniLM sentence embedding
    latent_channels: int = 8  # the built-in autoencoder's latent (8 x 8 x 8)
    latent_size: int = 8
    anchor: bool = True  # take a retrieved example's latent as a second input
    cond_dim: int = 256  # the text code every block is modulated by
    width: int = 64  # channels at 8x8
    inner_width: int = 128  # channels at 4x4, where most of the compute is
    inner_blocks: int = 3
    groups: int = 8  # GroupNorm groups

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LiveGeneratorConfig:
        return cls(**d)


class FiLMResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, twice, with the text code scaling and shifting each norm."""

    def __init__(self, ch: int, cond_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, ch, affine=False)
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, ch, affine=False)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.film = nn.Linear(cond_dim, 4 * ch)
        nn.init.zeros_(self.film.weight)  # start as an unconditioned res block
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s1, b1, s2, b2 = self.film(c)[:, :, None, None].chunk(4, dim=1)
        h = self.conv1(F.silu(self.norm1(x) * (1 + s1) + b1))
        h = self.conv2(F.silu(self.norm2(h) * (1 + s2) + b2))
        return x + h


class LiveGenerator(nn.Module):
    """8x8 (width) -> 4x4 (inner_width, ``inner_blocks`` blocks) -> 8x8 (width) -> latent."""

    def __init__(self, cfg: LiveGeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c_in = cfg.latent_channels * (2 if cfg.anchor else 1)
        w, wi = cfg.width, cfg.inner_width
        self.text_mlp = nn.Sequential(nn.Linear(cfg.text_dim, cfg.cond_dim), nn.SiLU(),
                                      nn.Linear(cfg.cond_dim, cfg.cond_dim), nn.SiLU())
        self.stem = nn.Conv2d(c_in, w, 3, padding=1)
        self.block_in = FiLMResBlock(w, cfg.cond_dim, cfg.groups)
        self.down = nn.Conv2d(w, wi, 4, stride=2, padding=1)
        self.inner = nn.ModuleList(FiLMResBlock(wi, cfg.cond_dim, cfg.groups)
                                   for _ in range(cfg.inner_blocks))
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                nn.Conv2d(wi, w, 3, padding=1))
        self.block_out = FiLMResBlock(2 * w, cfg.cond_dim, cfg.groups)  # after the skip concat
        self.norm_out = nn.GroupNorm(cfg.groups, 2 * w)
        self.out = nn.Conv2d(2 * w, cfg.latent_channels, 3, padding=1)

    def forward(self, noise: torch.Tensor, text: torch.Tensor,
                anchor: torch.Tensor | None = None) -> torch.Tensor:
        """noise (B,C,S,S), text (B,384) unit MiniLM, anchor (B,C,S,S) -> latent (B,C,S,S)."""
        if self.cfg.anchor:
            if anchor is None:
                raise ValueError("this live generator was built with anchor=True: pass the "
                                 "retrieved anchor latent")
            x = torch.cat([noise, anchor], dim=1)
        else:
            x = noise
        c = self.text_mlp(text)
        h0 = self.block_in(self.stem(x), c)
        h = self.down(h0)
        for block in self.inner:
            h = block(h, c)
        h = torch.cat([self.up(h), h0], dim=1)
        h = self.block_out(h, c)
        return self.out(F.silu(self.norm_out(h)))
