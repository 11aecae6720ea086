"""The built-in multi-step model as the live model's distillation teacher.

For the same text, noise and retrieved neighbours, the teacher integrates its flow for a few
Euler steps (classifier-free guidance, starting from the anchor noised to ``anchor_strength``
like the built-in backend's default) and the student regresses its one-step output onto the
result. That pins the one-step map to a known-good image for each noise, which steadies the
adversarial game early; the GAN and CLIP terms then sharpen and align beyond the teacher's
few-step blur. It is costly on a CPU (2 x steps denoiser passes per image), so it runs on a
small sub-batch every few steps (see train.LiveTrainConfig).
"""

from __future__ import annotations

import torch

from t2i_core.models.denoiser import RetrievalDenoiser
from t2i_core.sampling import sample


class FlowTeacher:
    def __init__(self, denoiser: RetrievalDenoiser, empty_text: torch.Tensor, steps: int = 8,
                 guidance: float = 3.0, anchor_strength: float = 0.7) -> None:
        self.net, self.empty_text = denoiser, empty_text
        self.steps, self.guidance, self.anchor_strength = steps, guidance, anchor_strength

    @torch.no_grad()
    def __call__(self, noise: torch.Tensor, text: torch.Tensor,
                 neighbours: torch.Tensor) -> torch.Tensor:
        """noise (B,C,S,S), text (B,384), neighbours (B,K,C,S,S), anchor first -> latents."""
        uncond = self.empty_text.to(text).expand_as(text)
        zero_nb = torch.zeros_like(neighbours)
        g = self.guidance

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            v = self.net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([text, uncond]),
                         torch.cat([neighbours, zero_nb]))
            v_c, v_u = v.chunk(2)
            return v_u + g * (v_c - v_u)

        if self.anchor_strength < 1.0:
            return sample(velocity, noise, self.steps, init=neighbours[:, 0],
                          strength=self.anchor_strength)
        return sample(velocity, noise, self.steps)
