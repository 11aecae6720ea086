"""Raster enhancement: RGBA images upscaled 2x/4x/8x/16x by the learned icon upscaler.

The network is a 4x model (models/upscaler.py). Other scales chain it (see ``PLAN`` and
docs/upscale.md for the measurements behind each choice). Large images are processed in
overlapping tiles so memory stays bounded. Without the weights file, the same code runs the
no-learning resampler (bicubic + alpha contrast) and says so once, in ``notice``.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from t2i_core.enhance.palette import flat_palette, snap_flat_regions
from t2i_core.enhance.weights import DEFAULT_PATH, load_upscaler
from t2i_core.errors import T2IError
from t2i_core.models.upscaler import (
    UpscalerConfig,
    alpha_contrast,
    baseline_upscale,
    to_premultiplied,
    to_straight,
)

SCALES = (2, 4, 8, 16)
MAX_OUTPUT_SIDE = 16384
TILE = 256  # input pixels per tile side
MARGIN = 12  # context around a tile (the network sees ~17 px; beyond 12 the change is < 1/255)
# How each scale is made from 4x network passes ("net"), 2x/4x steps of the baseline
# resampler ("base2"/"base4": bicubic + alpha contrast 3.5), gentle steps after the network
# ("soft2"/"soft4": bilinear, no overshoot, + a milder alpha contrast, ``SOFT_SLOPE``), then an
# optional 2x box downsample ("down"); measured in benchmarks/bench_upscale.py.
# On 60 held-out icons (PSNR on white, mono/colour, docs/upscale.md): 2x net+down 28.6/30.1
# vs base2 26.0/28.7; 8x net+base2 23.4/26.0 vs net+net+down 23.8/26.2 at ~8x the cost (a
# second pass at 128 px); 16x net+base4 22.7/25.6 vs net+net 22.6/25.3 (and ~8x cheaper).
# base2/base4 after the network were over-sharp (blur ratio 0.32 mono at 8x: ringing and hard
# stair-stepped edges; the network's 128 px edges are already crisp, the full contrast
# steepens them again). Bilinear with contrast 2 (8x) / 3 (16x), 40 + 40 icons: 8x
# +0.73 / +0.51 dB, blur 0.87 / 1.33 (was 0.32 / 0.56); 16x +0.29 / +0.22 dB, blur 1.11 /
# 2.02 (was 0.64 / 1.29) (docs/upscale.md, "8x and 16x").
# The network pads with zeros (transparency), as in training: icons meet their border as
# transparency or as a cut stroke, and replicating edge pixels measured worse (4x clean:
# -0.16 dB on both kinds). A fully opaque image (a photo, a filled layer) keeps alpha 255.
PLAN: dict[int, tuple[str, ...]] = {
    2: ("net", "down"),
    4: ("net",),
    8: ("net", "soft2"),
    16: ("net", "soft4"),
}
SOFT_SLOPE = {2: 2.0, 4: 3.0}
# Flat-colour art (icons) keeps its exact colours inside flat regions (palette.py); only for
# inputs up to this side: icons, not photos or large layers.
PALETTE_MAX_SIDE = 256
FALLBACK_NOTICE = ("the learned upscaler's weights ({path}) are missing: images are enlarged "
                   "with the no-learning resampler (bicubic + alpha contrast), which is "
                   "softer; reinstall t2i-studio or run `t2i upscaler train`")


class Enhancer:
    """The loaded upscaler (or the fallback resampler); thread-safe, loaded on first use."""

    def __init__(self, weights: Path | None = None) -> None:
        """``weights``: the safetensors file; default ``$T2I_UPSCALER_WEIGHTS`` or the
        committed t2i_core/weights/upscaler.safetensors."""
        self.path = Path(weights or os.environ.get("T2I_UPSCALER_WEIGHTS") or DEFAULT_PATH)
        self._model = None
        self._loaded = False
        self._lock = threading.Lock()
        self.notice = ""
        self.slope = UpscalerConfig().alpha_contrast

    @property
    def learned(self) -> bool:
        self._load()
        return self._model is not None

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            if self.path.is_file():
                self._model, _ = load_upscaler(self.path)
                self.slope = self._model.cfg.alpha_contrast
            else:
                self.notice = FALLBACK_NOTICE.format(path=self.path)
                warnings.warn(self.notice, stacklevel=3)
            self._loaded = True

    def upscale(self, image: np.ndarray, scale: int) -> np.ndarray:
        rgba = check_image(image)
        if scale not in SCALES:
            raise T2IError("bad_scale", f"scale {scale} is not supported; use one of "
                           f"{', '.join(map(str, SCALES))}")
        h, w = rgba.shape[:2]
        if max(h, w) * scale > MAX_OUTPUT_SIDE:
            raise T2IError("image_too_large", f"a {w}x{h} image at {scale}x would be "
                           f"{w * scale}x{h * scale} px, over the {MAX_OUTPUT_SIDE} px limit; "
                           "crop it or pick a smaller scale")
        self._load()
        x = to_premultiplied(torch.from_numpy(rgba).permute(2, 0, 1)[None].float() / 255)
        with torch.inference_mode():
            for op in PLAN[scale]:
                if op == "net":
                    x = self._net4(x)
                elif op.startswith("base"):
                    x = baseline_upscale(x, int(op[4:]), self.slope)
                elif op.startswith("soft"):
                    x = soft_upscale(x, int(op[4:]))
                elif op == "down":
                    x = F.avg_pool2d(x, 2)
            out = to_straight(x)[0].permute(1, 2, 0).numpy()
        result = (out * 255 + 0.5).astype(np.uint8)
        if self._model is not None and max(h, w) <= PALETTE_MAX_SIDE:
            palette = flat_palette(rgba)
            if palette is not None:
                result = snap_flat_regions(result, palette)
        return result

    def _net4(self, pre: torch.Tensor) -> torch.Tensor:
        if self._model is None:
            return baseline_upscale(pre, 4, self.slope)
        out = self._tiled(pre)
        if bool((pre[:, 3] >= 1.0).all()):  # an opaque image stays opaque (see below)
            out = torch.cat([torch.minimum(out[:, :3] / out[:, 3:].clamp_min(1e-4),
                                           torch.ones_like(out[:, :3])),
                             torch.ones_like(out[:, 3:])], dim=1)
        return out

    def _tiled(self, pre: torch.Tensor) -> torch.Tensor:
        _, _, h, w = pre.shape
        if max(h, w) <= TILE + 2 * MARGIN:
            return self._model(pre)
        out = torch.zeros(1, 4, 4 * h, 4 * w)
        for y in range(0, h, TILE):
            for x in range(0, w, TILE):
                y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
                y1, x1 = min(h, y + TILE + MARGIN), min(w, x + TILE + MARGIN)
                tile = self._model(pre[:, :, y0:y1, x0:x1])
                th, tw = min(TILE, h - y), min(TILE, w - x)
                oy, ox = 4 * (y - y0), 4 * (x - x0)
                out[:, :, 4 * y:4 * (y + th), 4 * x:4 * (x + tw)] = \
                    tile[:, :, oy:oy + 4 * th, ox:ox + 4 * tw]
        return out


def soft_upscale(pre: torch.Tensor, factor: int) -> torch.Tensor:
    """The step after the network at 8x/16x: bilinear on premultiplied RGBA (no overshoot,
    so no ringing at colour edges) and a milder alpha contrast than the baseline's."""
    up = F.interpolate(pre, scale_factor=factor, mode="bilinear", align_corners=False)
    up = up.clamp(0, 1)
    return alpha_contrast(torch.cat([torch.minimum(up[:, :3], up[:, 3:]), up[:, 3:]], 1),
                          SOFT_SLOPE[factor])


class Resampler(Enhancer):
    """The no-learning resampler on its own (no weights, no notice): live previews."""

    def _load(self) -> None:
        self._loaded = True


def check_image(image: np.ndarray) -> np.ndarray:
    """uint8 (H,W,4) RGBA, or (H,W,3) RGB taken as opaque; anything else is a clear error."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise T2IError("bad_image", f"upscaling needs an 8-bit RGBA image (H, W, 4); got "
                       f"shape {shape} of {dtype}")
    if image.shape[2] == 3:
        image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], -1)
    return np.ascontiguousarray(image)


_default: Enhancer | None = None
_default_lock = threading.Lock()


def default_enhancer() -> Enhancer:
    global _default
    with _default_lock:
        if _default is None:
            _default = Enhancer()
        return _default
