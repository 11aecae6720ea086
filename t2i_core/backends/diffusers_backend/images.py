"""Between the wire's RGBA arrays and the PIL images diffusers pipelines take."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_pil_rgb(rgba: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Straight-alpha RGBA over white (what a transparent canvas looks like), resized."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a)
    im = Image.fromarray((rgb + 0.5).astype(np.uint8), "RGB")
    return im if im.size == size else im.resize(size, Image.LANCZOS)


def to_pil_mask(mask: np.ndarray, size: tuple[int, int]) -> Image.Image:
    im = Image.fromarray(mask, "L")
    return im if im.size == size else im.resize(size, Image.BILINEAR)


def blend_inpaint(out: np.ndarray, init: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Outside the mask the user's pixels come back exactly (alpha included)."""
    h, w = out.shape[:2]
    if init.shape[:2] != (h, w):
        init = np.asarray(Image.fromarray(init, "RGBA").resize((w, h), Image.LANCZOS))
        mask = np.asarray(Image.fromarray(mask, "L").resize((w, h), Image.BILINEAR))
    a = (mask.astype(np.float32) / 255.0)[..., None]
    blended = a * out.astype(np.float32) + (1.0 - a) * init.astype(np.float32)
    return (blended + 0.5).astype(np.uint8)


def to_rgba(images: np.ndarray) -> list[np.ndarray]:
    """A pipeline's float RGB output (``output_type="np"``, 0..1) as opaque uint8 RGBA."""
    out = []
    for im in images:
        rgba = np.empty((*im.shape[:2], 4), np.uint8)
        rgba[..., :3] = (np.clip(im, 0, 1) * 255 + 0.5).astype(np.uint8)
        rgba[..., 3] = 255
        out.append(rgba)
    return out
