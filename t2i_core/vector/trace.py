"""The tracer: a small RGBA raster (a 32 px icon) -> an SVG of flat colour regions.

How (the choices are measured in docs/vector.md and benchmarks/bench_vector.py):

1. Upsample the raster ``scale``x (``upsample_rgba``: the learned enhancer from
   ``t2i_core.enhance`` when this build has it, else Lanczos on premultiplied alpha), so
   the outlines are found with sub-pixel precision instead of following the pixel grid.
2. The drawing's colours: a median-cut palette (PIL) of the upsampled raster's *flat*
   pixels (region interiors: an edge's blend of two colours is never a candidate), small
   or near-identical clusters merged into their nearest big colour. One colour is a mono
   icon.
3. One layer per colour, largest first; each layer covers its own region *and* every
   region drawn above it ("stacked" layers), so neighbouring colours never leave a hairline
   gap between them. Layer 0 is the whole alpha shape.
4. Each layer's outline: iso-contours at half coverage (``skimage.measure.find_contours``;
   where two colours meet, each pixel counts towards both in the proportions that unmix
   it, so the boundary falls between the upsampled pixels),
   tiny specks dropped, thinned by Douglas-Peucker (shapely's ``simplify``), then drawn as
   smooth Béziers with kept corners (``curves.py``). All of a layer's contours are one
   ``<path>`` with the even-odd rule, so holes are holes.

The SVG's ``viewBox`` is the raster's own pixel grid and ``width``/``height`` the size it
is meant to be shown at; the background is transparent (nothing is drawn there). A file over
``max_bytes`` is written with straight segments first, then traced again coarser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from shapely import LinearRing, get_coordinates, simplify
from skimage.measure import find_contours

from t2i_core.errors import T2IError
from t2i_core.vector.curves import path_data

SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class TraceOptions:
    scale: int = 4  # upsampling before contouring (the enhancer's factor)
    max_colours: int = 12
    min_colour_share: float = 0.005  # a colour cluster below this share of the drawing merges
    merge_distance: float = 30.0  # RGB distance under which two palette colours are one
    tolerance: float = 0.1  # Douglas-Peucker tolerance, in input pixels (docs/vector.md)
    min_area: float = 0.6  # contours enclosing less (input px²) are specks: dropped
    corner_degrees: float | None = 40.0  # None: straight polygons (the baseline)
    label_blur: float = 0.0  # smoothing of the colour layers' edges, in input pixels
    max_bytes: int = 20_000
    level: float = 0.5  # the coverage the outline follows (half: the anti-aliased edge)
    # where two colours meet: "unmix" puts the boundary where an edge pixel is half one
    # colour and half the other (sub-pixel, docs/vector.md); "nearest" labels each pixel
    # with its nearest palette colour (a boundary on the upsampled pixel grid)
    colour_edges: str = "unmix"
    # which pixels pick the palette: "flat" = opaque pixels of the upsampled raster whose
    # neighbourhood is flat (region interiors, no edge blends); "solid" = every opaque pixel
    # of the input (blends between colours form clusters of their own)
    palette_from: str = "flat"
    flat_spread: float = 40.0  # "flat": a 3x3 neighbourhood spanning less than this (of 255)
    # "enhance": the learned enhancer where installed, else Lanczos; "lanczos"; "bicubic"
    # (the trial's tracer, the benchmark's baseline)
    upsample: str = "enhance"

    def __post_init__(self) -> None:
        for name, allowed in (("upsample", ("enhance", "lanczos", "bicubic")),
                              ("palette_from", ("flat", "solid")),
                              ("colour_edges", ("unmix", "nearest"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"TraceOptions.{name} must be one of {', '.join(allowed)}; "
                                 f"got {getattr(self, name)!r}")


@dataclass
class Trace:
    svg: str
    paths: int
    colours: list[str]


def upsample_rgba(image: np.ndarray, scale: int) -> np.ndarray:
    """uint8 RGBA -> ``scale``x larger uint8 RGBA. The one place the tracer upsamples: the
    learned enhancer (``t2i_core.enhance.upscale_rgba``) when it is installed, else Lanczos
    on premultiplied alpha (no dark fringes at transparent edges)."""
    try:
        from t2i_core.enhance import upscale_rgba  # the learned stage, where present
    except ImportError:
        upscale_rgba = None
    if scale == 1:  # already at the size to trace (e.g. a true large raster)
        return image
    if upscale_rgba is not None:
        return upscale_rgba(image, scale)
    return resample_rgba(image, scale, "lanczos")


def resample_rgba(image: np.ndarray, scale: int, kernel: str = "lanczos") -> np.ndarray:
    """``scale``x through premultiplied alpha with PIL's ``kernel``. Lanczos's sharper kernel
    put the half-coverage outline closer to the true one than bicubic did (+0.17 dB mono,
    +0.18 dB colour at 512 px, docs/vector.md)."""
    resample = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC}[kernel]
    h, w = image.shape[:2]
    f = image.astype(np.float32) / 255.0
    pre = np.concatenate([f[..., :3] * f[..., 3:], f[..., 3:]], axis=-1)
    chans = [np.asarray(Image.fromarray(pre[..., c]).resize((w * scale, h * scale),
                                                            resample)) for c in range(4)]
    pre = np.clip(np.stack(chans, axis=-1), 0.0, 1.0)
    alpha = pre[..., 3:]
    rgb = np.where(alpha > 1e-3, pre[..., :3] / np.maximum(alpha, 1e-3), 0.0)
    return (np.concatenate([np.clip(rgb, 0, 1), alpha], axis=-1) * 255 + 0.5).astype(np.uint8)


def trace_rgba(image: np.ndarray, size: int | None = None,
               options: TraceOptions | None = None) -> Trace:
    """Trace a uint8 RGBA (H, W, 4) straight-alpha raster; ``size``: the SVG's displayed
    width (default: the raster's). Never returns a broken file: a raster with nothing
    opaque gives a valid, empty drawing."""
    opts = options or TraceOptions()
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 4 and min(image.shape[:2]) >= 2):
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else \
            type(image).__name__
        raise T2IError("bad_image", f"tracing needs an (H, W, 4) uint8 RGBA raster; got {got}")
    h, w = image.shape[:2]
    size = size or w
    hi = (upsample_rgba(image, opts.scale) if opts.upsample == "enhance"
          else resample_rgba(image, opts.scale, opts.upsample))
    palette, labels = _palette(image, hi, opts)
    alpha = hi[..., 3].astype(np.float32) / 255.0
    level = _level(alpha, opts.level)
    if opts.colour_edges == "unmix" and len(palette) > 1:
        covers = [alpha] + [alpha * c for c in _unmixed_covers(hi, palette, labels)]
    else:
        covers = [alpha if i == 0 else alpha * _blur(labels >= i, opts.label_blur * opts.scale)
                  for i in range(len(palette))]
    layers: list[tuple[str, str]] = []
    tolerance, min_area, corners = opts.tolerance, opts.min_area, opts.corner_degrees
    outlines: list[list[np.ndarray]] = []
    for attempt in range(8):  # until the file fits: polygons, then coarser with fewer specks
        if not outlines:
            outlines = [_outlines(c, level, opts.scale, tolerance, min_area) for c in covers]
        layers = []
        for colour, polys in zip(palette, outlines, strict=True):
            d = path_data(polys, corners)
            if d:
                layers.append((colour, d))
        svg = _svg(layers, w, h, size, round(size * h / w))
        if len(svg.encode()) <= opts.max_bytes:
            break
        if attempt == 0 and corners is not None:
            # the same outline as straight segments is ~3x smaller and scores as well
            # (docs/vector.md); coarsening the outline instead cost 0.5 dB on colour icons
            corners = None
            continue
        tolerance, min_area, outlines = tolerance * 1.5, min_area * 3, []
    while len(svg.encode()) > opts.max_bytes and layers:  # noise: the top colours go first
        layers.pop()
        svg = _svg(layers, w, h, size, round(size * h / w))
    return Trace(svg=svg, paths=len(layers), colours=[c for c, _ in layers])


def _level(alpha: np.ndarray, level: float) -> float:
    """``level``; a faint drawing (peak alpha under 0.6) is traced at that share of its peak."""
    peak = float(alpha.max()) if alpha.size else 0.0
    return level if peak >= 0.6 else max(peak * level, 1e-3)


def _palette(image: np.ndarray, hi: np.ndarray, opts: TraceOptions
             ) -> tuple[list[str], np.ndarray]:
    """(hex colours, largest first; per-pixel layer index of ``hi``)."""
    solid = image[image[..., 3] >= 128][:, :3]
    if opts.palette_from == "flat":
        flat = _flat_pixels(hi, opts.flat_spread)
        if len(flat) >= 16:
            solid = flat
    if len(solid) == 0:
        solid = image[image[..., 3] > 0][:, :3]
    if len(solid) == 0:
        return [], np.zeros(hi.shape[:2], np.int32)
    k = min(opts.max_colours, len(np.unique(solid, axis=0)))
    strip = Image.fromarray(solid[None].astype(np.uint8), "RGB")
    q = strip.quantize(colors=max(k, 1), method=Image.Quantize.MEDIANCUT)
    idx = np.asarray(q)[0]
    pal = np.asarray(q.getpalette()[: 3 * max(k, 1)], np.float32).reshape(-1, 3)
    # the cluster means (median cut's boxes are averaged already; recompute for exactness)
    counts = np.bincount(idx, minlength=len(pal)).astype(np.float32)
    keep = [c for c in np.argsort(-counts) if counts[c] > 0]
    centres = [solid[idx == c].mean(axis=0) for c in keep]
    shares = [counts[c] / len(solid) for c in keep]
    # merge small clusters and near-identical colours into bigger ones, largest first
    merged: list[np.ndarray] = []
    weights: list[float] = []
    for centre, share in zip(centres, shares, strict=True):
        if merged:
            d = np.linalg.norm(np.asarray(merged) - centre, axis=1)
            j = int(d.argmin())
            if share < opts.min_colour_share or d[j] < opts.merge_distance:
                weights[j] += share
                continue
        merged.append(centre)
        weights.append(share)
    colours = np.asarray(merged, np.float32)
    rgb = hi[..., :3].astype(np.float32)
    dist = ((rgb[..., None, :] - colours) ** 2).sum(axis=-1)
    labels = dist.argmin(axis=-1).astype(np.int32)
    hexes = ["#{:02x}{:02x}{:02x}".format(*(int(round(v)) for v in np.clip(c, 0, 255)))
             for c in colours]
    return hexes, labels


def _flat_pixels(hi: np.ndarray, spread: float) -> np.ndarray:
    """(N, 3) uint8 colours of the opaque pixels of ``hi`` inside flat regions: their 3x3
    neighbourhood spans less than ``spread`` in every channel, so no edge blend is among
    them."""
    from t2i_core.enhance.palette import colour_spread  # (the enhance package loads torch)

    rgb = hi[..., :3]
    keep = (ndimage.minimum_filter(hi[..., 3], size=3) >= 250) & (colour_spread(rgb) < spread)
    return rgb[keep]


def _unmixed_covers(hi: np.ndarray, palette: list[str], labels: np.ndarray
                    ) -> list[np.ndarray]:
    """Soft covers of the stacked colour layers 1..K-1 (layer i: the share of each pixel
    that belongs to colours i and above). Each pixel is explained as a blend of its
    nearest palette colour ``a`` and the one other colour ``b`` that best explains it,
    ``p = (1 - t) a + t b``; it then counts ``1 - t`` towards ``a``'s layers and ``t``
    towards ``b``'s. The half-coverage contour of that cover runs where an edge pixel is
    half one colour, half the other, between the upsampled pixels."""
    colours = np.asarray([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in palette],
                         np.float32)
    rgb = hi[..., :3].astype(np.float32)
    own = colours[labels]  # (H, W, 3): the nearest colour, a
    off = rgb - own
    best_res = (off ** 2).sum(-1)
    best_t = np.zeros(labels.shape, np.float32)
    best_b = labels.copy()
    for b, cb in enumerate(colours):
        d = cb - own  # (H, W, 3): towards b; zero where b is the pixel's own colour
        dd = (d ** 2).sum(-1)
        t = np.clip((off * d).sum(-1) / np.maximum(dd, 1e-6), 0.0, 1.0)
        res = ((off - t[..., None] * d) ** 2).sum(-1)
        better = (res < best_res) & (dd > 0)
        best_res = np.where(better, res, best_res)
        best_t = np.where(better, t, best_t)
        best_b = np.where(better, b, best_b)
    return [np.where(labels >= i, 1.0 - best_t, 0.0) + np.where(best_b >= i, best_t, 0.0)
            for i in range(1, len(colours))]


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    m = mask.astype(np.float32)
    return ndimage.gaussian_filter(m, sigma) if sigma > 0 else m


def _outlines(cover: np.ndarray, level: float, s: int, tolerance: float, min_area: float
              ) -> list[np.ndarray]:
    """Closed (x, y) polygons in input pixels around where ``cover`` exceeds ``level``."""
    padded = np.pad(cover, 1)  # so that every contour closes inside the image
    polys = []
    for c in find_contours(padded, level):
        c = c - 1.0
        if _area(c) < min_area * s * s:
            continue
        # Douglas-Peucker in GEOS (shapely): skimage's approximate_polygon is a Python loop
        # and took 70 % of a colour icon's trace time at this tolerance
        c = get_coordinates(simplify(LinearRing(c), tolerance * s, preserve_topology=False))
        if len(c) > 1 and np.allclose(c[0], c[-1]):
            c = c[:-1]
        if len(c) < 3:
            continue
        # (row, col) in the upsampled grid -> (x, y) in input pixels (pixel centres at +0.5)
        polys.append(np.stack([(c[:, 1] + 0.5) / s, (c[:, 0] + 0.5) / s], axis=1))
    return polys


def _area(c: np.ndarray) -> float:
    """Shoelace area of a closed (row, col) contour (its last point repeats the first)."""
    y, x = c[:, 0], c[:, 1]
    return 0.5 * abs(float(np.dot(x[:-1], y[1:]) - np.dot(y[:-1], x[1:])))


def _svg(layers: list[tuple[str, str]], vw: int, vh: int, width: int, height: int) -> str:
    paths = "".join(f'<path fill="{c}" fill-rule="evenodd" d="{d}"/>' for c, d in layers)
    return (f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" '
            f'viewBox="0 0 {vw} {vh}">{paths}</svg>')
