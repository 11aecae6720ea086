"""The alignment model of the live objective: a small contrastive image-text model (CLIP-style).

``L_CLIP`` in ``L = L_CLIP + λ·L_GAN`` needs a model that scores how well an image matches a
caption. We train our own, for this purpose only, on the same (latent, caption) pairs, with the
symmetric InfoNCE loss of CLIP (Radford et al. 2021):

- image tower: a conv net over the built-in autoencoder's 8x8x8 latent (what the generator
  outputs, so the loss needs no decoding), pooled and projected to ``embed_dim``;
- text tower: the frozen MiniLM sentence embedding (384) through a two-layer MLP to
  ``embed_dim`` (the pretrained language model stays frozen; only the head is learnt);
- a learnt temperature.

It is deliberately *not* the evaluation encoder (t2i_core/weights/eval_encoder.safetensors,
t2i_core/eval/clip_encoder.py): optimising against the metric's own model would inflate the
metric. Different architecture, different input (latents, not pixels), different weights; a
test checks that none of its tensors can be loaded from the evaluation file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LiveClipConfig:
    text_dim: int = 384
    latent_channels: int = 8
    width: int = 64  # at 8x8
    inner_width: int = 128  # at 4x4
    embed_dim: int = 128
    init_temperature: float = 0.07

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LiveClipConfig:
        return cls(**d)


class ConvBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(8, ch)
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(F.gelu(self.norm(x)))


class LiveClip(nn.Module):
    def __init__(self, cfg: LiveClipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, wi = cfg.width, cfg.inner_width
        self.image_tower = nn.Sequential(
            nn.Conv2d(cfg.latent_channels, w, 3, padding=1), ConvBlock(w),
            nn.Conv2d(w, wi, 4, stride=2, padding=1), ConvBlock(wi), ConvBlock(wi),
            nn.GroupNorm(8, wi), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(wi, cfg.embed_dim))
        self.text_tower = nn.Sequential(nn.Linear(cfg.text_dim, 2 * cfg.embed_dim), nn.GELU(),
                                        nn.Linear(2 * cfg.embed_dim, cfg.embed_dim))
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.init_temperature)))

    def encode_image(self, latent: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_tower(latent), dim=-1)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_tower(text), dim=-1)

    def logits(self, latent: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B,B) image-by-text similarity logits; the diagonal holds the true pairs."""
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()
        return scale * self.encode_image(latent) @ self.encode_text(text).T


def contrastive_loss(logits: torch.Tensor, same: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE. ``same`` (B,B) bool marks off-diagonal pairs with the same caption,
    which are not negatives (masked out)."""
    if same is not None:
        eye = torch.eye(len(logits), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(same & ~eye, float("-inf"))
    target = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
