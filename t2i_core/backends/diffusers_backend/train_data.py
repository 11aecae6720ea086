"""What a diffusers fine-tuning run trains on, made once before its first step (trainer.py).

- The folder's images at the training resolution, composited on white, encoded by the VAE:
  the mean and std of each latent distribution (and of the mirrored image when image
  augmentation is on), kohya's ``cache_latents`` + ``flip_aug``. Each step samples a latent
  from them, so the VAE never runs during training.
- Prior preservation (DreamBooth's class images): one base-model image per folder caption
  without the trigger, drawn by the pipeline before the LoRA is added and encoded the same
  way.

``draw`` is the pipeline call the run's sample previews use too: the family's scheduler, at
most ``PREVIEW_STEPS`` steps, one seeded image per prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from t2i_core.finetune.dataset import FolderData, decode_square

if TYPE_CHECKING:
    import torch

    from t2i_core.backends.diffusers_backend.families import Family

ENCODE_BATCH = 4
PREVIEW_STEPS = 20
PRIOR_SEED_STRIDE = 7919  # class image i is drawn with seed + stride * (i + 1)


def class_prompts(captions: list[str], trigger: str) -> list[str]:
    """The folder's captions without the trigger phrase: the prompts of the class images."""
    out = []
    for c in captions:
        text = c.replace(trigger.strip(), " ") if trigger.strip() else c
        text = " ".join(text.replace(" ,", ",").split()).strip(" ,")
        out.append(text or "an image")
    return out


def draw(pipe: Any, family: Family, scheduler_config: dict,
         prompts_and_seeds: list[tuple[str, int]], resolution: int) -> list[np.ndarray]:
    """One image per (prompt, seed) from the pipeline as it is now: each the pipeline's
    ``np`` output (a batch of one HWC float image in [0, 1])."""
    import torch

    from t2i_core.backends.diffusers_backend.schedulers import make_scheduler

    pipe.scheduler = make_scheduler(family.scheduler, scheduler_config, family.flow)
    out = []
    for prompt, seed in prompts_and_seeds:
        with torch.no_grad():
            res = pipe(prompt=prompt, num_inference_steps=min(family.steps, PREVIEW_STEPS),
                       guidance_scale=family.guidance, width=resolution, height=resolution,
                       output_type="np", generator=torch.Generator("cpu").manual_seed(seed))
        out.append(res.images)
    return out


def folder_latents(vae: Any, data: FolderData, resolution: int, flips: int, device: Any
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, F, C, h, w) latent mean and std of the folder's images, F = 2 with mirrored
    copies (``flips``), else 1; scaled as the denoiser sees latents."""
    pixels = [folder_pixels(data, i, resolution) for i in range(len(data))]
    return encode_pixels(vae, pixels, flips, device)


def class_latents(pipe: Any, family: Family, scheduler_config: dict, prompts: list[str],
                  seed: int, resolution: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Prior preservation: one base-model image per prompt (``class_prompts``: "a red
    square" for "inkwash, a red square"), encoded like the folder's images. The training
    batch mixes them in (``request.prior``) so the LoRA learns the trigger's look, not to
    turn every prompt into the folder's pictures. Call it before the LoRA is added."""
    seeded = [(p, seed + PRIOR_SEED_STRIDE * (i + 1)) for i, p in enumerate(prompts)]
    images = [np.asarray(im[0], np.float32)[..., :3]
              for im in draw(pipe, family, scheduler_config, seeded, resolution)]
    pixels = [(img * 2.0 - 1.0).transpose(2, 0, 1).copy() for img in images]
    return encode_pixels(pipe.vae, pixels, 1, device)


def folder_pixels(data: FolderData, i: int, resolution: int) -> np.ndarray:
    """Image ``i`` at the training resolution, on white, as CHW floats in [-1, 1]."""
    with open(data.folder / data.files[i], "rb") as f:  # read-only, as dataset.py
        rgba = decode_square(f.read(), resolution).astype(np.float32) / 255.0
    rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
    return (rgb * 2.0 - 1.0).transpose(2, 0, 1).copy()


def encode_pixels(vae: Any, pixels: list[np.ndarray], flips: int, device: Any
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """CHW images in [-1, 1] -> (N, F, C, h, w) scaled latent mean and std (on the CPU)."""
    import torch

    n = len(pixels)
    upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    if upcast:  # SDXL's VAE overflows in fp16
        vae.to(torch.float32)
    means, stds = [], []
    try:
        for i in range(0, n, ENCODE_BATCH):
            pix = torch.from_numpy(np.stack(pixels[i:i + ENCODE_BATCH]))
            if flips == 2:
                pix = torch.stack([pix, pix.flip(-1)], 1).flatten(0, 1)
            with torch.no_grad():
                dist = vae.encode(pix.to(device, vae.dtype)).latent_dist
            means.append(dist.mean.float().cpu())
            stds.append(dist.std.float().cpu())
    finally:
        if upcast:
            vae.to(torch.float16)
    scale = float(vae.config.scaling_factor)
    shift = float(getattr(vae.config, "shift_factor", None) or 0.0)  # SD3's VAE has one
    mean = (torch.cat(means) - shift) * scale
    std = torch.cat(stds) * scale
    return (mean.view(n, flips, *mean.shape[1:]),
            std.view(n, flips, *std.shape[1:]))
