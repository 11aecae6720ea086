"""Raster enhancement (the learned icon upscaler). Shared interface:

    upscale_rgba(image, scale) -> image   uint8 RGBA (straight alpha) in and out,
                                          scale in {2, 4, 8, 16}

Without its weights (t2i_core/weights/upscaler.safetensors) it falls back to the no-learning
resampler and says so (a warning, and ``upscaler_status()["notice"]``).
"""

from __future__ import annotations

import numpy as np

from t2i_core.enhance.upscale import SCALES, Enhancer, Resampler, default_enhancer

_resampler = Resampler()


def upscale_rgba(image: np.ndarray, scale: int) -> np.ndarray:
    return default_enhancer().upscale(image, scale)


def resample_rgba(image: np.ndarray, scale: int) -> np.ndarray:
    """The no-learning resampler alone (bicubic + alpha contrast), for live previews."""
    return _resampler.upscale(image, scale)


def upscaler_status() -> dict:
    """{'learned': bool, 'notice': str}: whether the learned model is in use, and why not."""
    e = default_enhancer()
    return {"learned": e.learned, "notice": e.notice}


__all__ = ["SCALES", "Enhancer", "resample_rgba", "upscale_rgba", "upscaler_status"]
