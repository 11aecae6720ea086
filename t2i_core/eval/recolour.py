"""Recolourings and colour-word pairs for checking the evaluation encoder.

The evaluation encoder is trained with ``colour_jitter`` (t2i_core/eval/clip_encoder.py): a
random ink for monochrome drawings, a hue turn for colour ones. Whether it judges the
*subject* and not the colour is checked on real, unseen icons recoloured in ways it was
*not* trained on, so the check is not inside the distribution it was taught to ignore:

- ``palette_swap``: each main colour of the drawing (its flat regions) is mapped to a
  different, randomly drawn swatch (far from its own colour and from the other regions'
  new ones); shading inside a region is kept as an offset. Unlike a
  hue turn it breaks the relations between regions (a yellow face with brown eyes can become
  a teal face with red eyes), and unlike the jitter's ink a glyph's light details take a
  colour too.
- ``duotone``: a gradient map: each pixel's grey level picks a mix of a dark and a light
  swatch of unrelated hues.

``rivals`` serves the opposite check: does the encoder still rank "a red apple"
above "a blue apple" for a red picture? An evaluator taught to ignore colour may not.
"""

from __future__ import annotations

import colorsys

import numpy as np

from t2i_core.colour_words import BASE_COLOURS

# designer swatches: the prompt parser's own colours (t2i_core.colour_words), a chosen few;
# no white: the encoder sees drawings over white, a white region would vanish
SWATCH_NAMES = ("red", "orange", "yellow", "green", "teal", "sky blue", "blue", "navy",
                "purple", "pink", "brown", "black")
SWATCHES: dict[str, tuple[int, int, int]] = {n: BASE_COLOURS[n] for n in SWATCH_NAMES}
SAME = 40  # main colours closer than this (max channel difference, of 255) are one region
OTHER = 90  # a swapped region's new swatch differs from its old colour by at least this


def main_colours(rgba: np.ndarray, most: int = 8) -> np.ndarray:
    """(K, 3) float32: the drawing's main colours, most frequent first (5-bit bins of opaque
    pixels, bins closer than ``SAME`` merged); empty when nothing is opaque."""
    px = rgba[..., :3][rgba[..., 3] >= 128].astype(np.int32)
    if len(px) == 0:
        return np.zeros((0, 3), np.float32)
    q = px // 8
    _, inverse, counts = np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2],
                                   return_inverse=True, return_counts=True)
    colours: list[np.ndarray] = []
    for bin_id in np.argsort(-counts):
        if len(colours) >= most or counts[bin_id] < max(3, 0.02 * len(px)):
            break
        c = px[inverse.ravel() == bin_id].mean(0)
        if all(np.abs(c - d).max() > SAME for d in colours):
            colours.append(c)
    return np.array(colours, np.float32).reshape(-1, 3)


def palette_swap(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each main colour region gets a different random swatch (see the module docstring);
    every pixel moves by its nearest main colour's shift, so shading and antialiasing stay.
    Alpha never changes."""
    main = main_colours(rgba)
    if len(main) == 0:
        return rgba.copy()
    swatches = np.array(list(SWATCHES.values()), np.float32)
    targets: list[np.ndarray] = []
    for colour in main:
        # far from the region's own colour and from the other regions' new ones, so no
        # region merges into its neighbour (the eyes stay apart from the face)
        free = [s for s in swatches if np.abs(s - colour).max() >= OTHER
                and all(np.abs(s - t).max() >= OTHER for t in targets)]
        targets.append(free[rng.integers(len(free))] if free else 255 - colour)
    rgb = rgba[..., :3].astype(np.float32)
    nearest = np.abs(rgb[..., None, :] - main).max(-1).argmin(-1)
    shifted = rgb + (np.array(targets) - main)[nearest]
    out = rgba.copy()
    out[..., :3] = np.clip(np.round(shifted), 0, 255).astype(np.uint8)
    return out


def duotone(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A gradient map from a dark swatch (grey level 0) to a light one of a hue at least 90
    degrees away (grey level 1). Alpha never changes."""
    hue = rng.random()
    far = (hue + rng.uniform(0.25, 0.75)) % 1.0
    dark = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.25, 0.5)))
    light = np.array(colorsys.hsv_to_rgb(far, rng.uniform(0.3, 0.7), 1.0))
    grey = rgba[..., :3].astype(np.float32).mean(-1, keepdims=True) / 255
    out = rgba.copy()
    out[..., :3] = np.clip(np.round(255 * (dark * (1 - grey) + light * grey)), 0, 255
                           ).astype(np.uint8)
    return out


def hue_degrees(name: str) -> float:
    rgb = SWATCHES[name]
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360


def rivals(name: str, chromatic: list[str], apart: float = 90.0) -> list[str]:
    """The colour names whose hue lies at least ``apart`` degrees from ``name``'s (every
    chromatic name for an achromatic one): "a red apple" vs "a blue apple", never vs
    "an orange apple"."""
    r, g, b = SWATCHES[name]
    if max(r, g, b) - min(r, g, b) < 40:  # black, white: any chromatic rival
        return [c for c in chromatic if c != name]
    h = hue_degrees(name)
    return [c for c in chromatic if min(abs(hue_degrees(c) - h), 360 - abs(hue_degrees(c) - h))
            >= apart]
