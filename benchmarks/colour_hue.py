"""Does a picture carry a named colour? The colour benchmarks' hue judge.

PIL's HSV on pixels with alpha >= 128, saturation
>= 64 and value >= 51 (of 255); the dominant hue is the peak of a 24-bin histogram of those
pixels (each bin 15 degrees, counted with its two neighbours); it matches when it lies within
30 degrees of the named colour's hue. An image with under 10 % chromatic pixels has no
dominant hue and matches no colour.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image

from t2i_core.colour_words import find_colours


def target_hue(colour: str) -> float:
    rgb = find_colours(f"{colour} thing")[0].rgb
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360


def judged_hue(rgba: np.ndarray) -> float | None:
    """The dominant hue in degrees, or None (see the module docstring)."""
    hsv = np.asarray(Image.fromarray(np.ascontiguousarray(rgba[..., :3])).convert("HSV"),
                     np.int64)
    opaque = rgba[..., 3] >= 128
    chroma = opaque & (hsv[..., 1] >= 64) & (hsv[..., 2] >= 51)
    if opaque.sum() == 0 or chroma.sum() < 0.1 * opaque.sum():
        return None
    bins = np.bincount(hsv[..., 0][chroma] * 24 // 256, minlength=24)
    score = bins + np.roll(bins, 1) + np.roll(bins, -1)
    return (int(np.argmax(score)) + 0.5) * 15.0


def matches(rgba: np.ndarray, hue: float) -> bool:
    h = judged_hue(rgba)
    if h is None:
        return False
    d = abs(h - hue) % 360
    return min(d, 360 - d) <= 30.0
