"""The live model's discriminator: does this latent look like a real icon *of this text*?

A projection discriminator (Miyato & Koyama 2018): a conv body turns the (augmented) 8x8x8
latent into a feature vector ``h``; the score is ``w·h + <embed(text), h>``. The first term
judges realism, the inner product judges the match with the caption. Training adds
mismatched-caption negatives (a real icon with another icon's caption must score as fake: the
matching-aware loss of GAN-INT-CLS, Reed et al. 2016), so the generator cannot win with a good
icon of the wrong thing. See t2i_core/live/losses.py for the losses.

It works on the autoencoder's latents, like the generator: the decoder is frozen, so the latent
fixes the pixels, and the discriminator is ~16x cheaper than one on 32x32 pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LiveDiscriminatorConfig:
    text_dim: int = 384
    latent_channels: int = 8
    width: int = 64  # at 8x8
    inner_width: int = 128  # at 4x4

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LiveDiscriminatorConfig:
        return cls(**d)


class DBlock(nn.Module):
    """Pre-activation residual block without normalisation (as in BigGAN's D)."""

    def __init__(self, c_in: int, c_out: int, down: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        s = self.skip(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return s + h


class LiveDiscriminator(nn.Module):
    def __init__(self, cfg: LiveDiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, wi = cfg.width, cfg.inner_width
        self.stem = nn.Conv2d(cfg.latent_channels, w, 3, padding=1)
        self.body = nn.Sequential(DBlock(w, w, down=False), DBlock(w, wi, down=True),
                                  DBlock(wi, wi, down=False))
        self.realism = nn.Linear(wi, 1)
        self.text_embed = nn.Sequential(nn.Linear(cfg.text_dim, wi), nn.LeakyReLU(0.2),
                                        nn.Linear(wi, wi))

    def features(self, latent: torch.Tensor) -> torch.Tensor:
        h = self.body(self.stem(latent))
        return F.leaky_relu(h, 0.2).sum(dim=(2, 3))  # sum pooling, as projection D does

    def forward(self, latent: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """latent (B,C,S,S), text (B,384) -> logits (B,): high means real and matching."""
        h = self.features(latent)
        return self.realism(h).squeeze(1) + (self.text_embed(text) * h).sum(dim=1)
