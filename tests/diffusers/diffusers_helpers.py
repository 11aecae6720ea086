"""Shared by the diffusers tests (fixtures live in conftest.py): the zoo's layout and what
the backend's default txt2img does, run directly on a diffusers pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FAMILIES = ("sd1", "sd2", "sdxl", "sd3")
PROMPT = "a red square"


@dataclass
class Zoo:
    models: Path
    cache: Path
    work: Path
    lora_reference: dict[str, np.ndarray] = field(default_factory=dict)
    lora_loss: float = 0.0


def reference_image(pipe, prompt: str, seed: int, steps: int, guidance: float,
                    size: int) -> np.ndarray:
    """What the backend's default txt2img does, run directly on a diffusers pipeline."""
    import torch
    from diffusers import EulerDiscreteScheduler

    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(prompt=prompt, num_inference_steps=steps, guidance_scale=guidance, width=size,
               height=size, generator=[torch.Generator("cpu").manual_seed(seed)],
               output_type="np").images[0]
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
