"""Flow-matching sampling: Euler steps from noise (t=1) to data (t=0) with CFG.

One function serves txt2img, img2img and inpaint, like the samplers in diffusers:
- txt2img starts from pure noise at t=1;
- img2img starts from the init latent noised to t=strength and runs that part of the path;
- inpaint does the same and, after every step, puts back the init latent (noised to the
  current t, with the same noise) wherever the mask says "keep" - the model fills the rest
  consistently with what is kept. The pixel-exact composite happens after decoding.

The cancel flag is checked before every step; progress is reported after every step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from t2i_core.errors import Cancelled

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> v


def timesteps(steps: int, start: float = 1.0, shift: float = 1.0) -> torch.Tensor:
    """``steps + 1`` decreasing times from ``start`` to 0. ``shift`` > 1 spends more steps at
    high noise (the SD3 schedule shift), which helps small step counts."""
    t = torch.linspace(start, 0.0, steps + 1)
    return shift * t / (1 + (shift - 1) * t)


@torch.no_grad()
def sample(velocity: Velocity, noise: torch.Tensor, steps: int,
           init: torch.Tensor | None = None, strength: float = 1.0,
           keep_mask: torch.Tensor | None = None,
           on_step: Callable[[int, int, torch.Tensor], None] | None = None,
           is_cancelled: Callable[[], bool] | None = None, shift: float = 1.0) -> torch.Tensor:
    """Integrate the flow. ``keep_mask`` (B,1,S,S) is 1 where the init latent must be kept."""
    start = 1.0 if init is None else float(strength)
    n = max(1, round(steps * start)) if init is not None else steps
    ts = timesteps(n, start, shift)
    x = noise if init is None else (1 - ts[0]) * init + ts[0] * noise
    for i in range(n):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled()
        t, t_next = ts[i], ts[i + 1]
        v = velocity(x, t.expand(x.shape[0]))
        x = x + (t_next - t) * v
        if keep_mask is not None and init is not None:
            known = (1 - t_next) * init + t_next * noise
            x = keep_mask * known + (1 - keep_mask) * x
        if on_step is not None:
            # x0 estimate for a preview: x_t - t * v
            on_step(i + 1, n, x if i + 1 == n else x - t_next * v)
    return x
