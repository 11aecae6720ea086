"""The tracer's colours: the palette comes from the flat interiors of the upsampled raster
(edge blends never become colours of their own), and where two colours meet the boundary is
placed by unmixing each edge pixel into its two colours (sub-pixel)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageDraw
from test_vector import BLUE, RED, icon, paths

from t2i_core.vector import TraceOptions, render_svg, trace_rgba
from t2i_core.vector.trace import _flat_pixels

YELLOW = (240, 200, 20)


def fills(svg: str) -> list[tuple[int, ...]]:
    return [tuple(int(p.get("fill")[i:i + 2], 16) for i in (1, 3, 5)) for p in paths(svg)]


def near(colour: tuple[int, ...], targets: tuple[tuple[int, ...], ...], tol: float) -> bool:
    """Within ``tol`` (RGB distance) of one of ``targets``; the blends between the drawn
    colours here are 47 or more from every one of them."""
    return any(np.linalg.norm(np.subtract(colour, t)) <= tol for t in targets)


def rings(d: ImageDraw.ImageDraw, s: int) -> None:
    """Narrow concentric rings of two colours on yellow: much of the drawing is edge blends
    (orange, green and purple-ish pixels between the colours)."""
    d.rectangle([2 * s, 2 * s, 30 * s, 30 * s], fill=YELLOW + (255,))
    for i, r in enumerate(range(13, 2, -4)):
        colour = RED if i % 2 == 0 else BLUE
        d.ellipse([(16 - r) * s, (16 - r) * s, (16 + r) * s, (16 + r) * s],
                  outline=colour + (255,), width=2 * s)


def test_flat_pixels_are_region_interiors_only():
    image = np.zeros((16, 16, 4), np.uint8)
    image[2:14, 2:14] = RED + (255,)
    image[2:14, 8:14, :3] = BLUE  # a hard red | blue edge down the middle
    image[2:14, 7, :3] = (125, 45, 125)  # and a column of blend between them
    flat = _flat_pixels(image, 40.0)
    seen = {tuple(int(v) for v in c) for c in flat}
    assert seen == {RED, BLUE}  # no blend, nothing transparent
    # interiors only: the border ring of the square and the columns at the edge are out
    # rows 3..12; red columns 3..5 (6 touches the blend), blue 9..12 (8 touches the blend,
    # 13 the transparent border)
    assert len(flat) == 10 * (3 + 4)


def test_edge_blends_do_not_become_colours():
    src = icon(rings)
    old = trace_rgba(src, options=TraceOptions(palette_from="solid", colour_edges="nearest",
                                               min_colour_share=0.005))
    new = trace_rgba(src)
    ours = fills(new.svg)
    # (the enhancer's slight overshoot can leave a lighter yellow band: 36 from yellow)
    assert all(near(c, (RED, BLUE, YELLOW), 40) for c in ours), ours
    assert near(ours[0], (YELLOW,), 10)  # the largest region first
    # the input's own pixels do cluster around blends: the previous palette got them
    assert sum(not near(c, (RED, BLUE, YELLOW), 40) for c in fills(old.svg)) >= 2
    # and the drawing is closer to the truth at 256 px
    truth = icon(rings, size=256, scale=2)[..., :3].astype(np.float32)

    def err(svg: str) -> float:
        return float(np.abs(render_svg(svg, 256)[..., :3].astype(np.float32) - truth).mean())

    assert err(new.svg) < err(old.svg)


def split(x: float):
    def draw(d: ImageDraw.ImageDraw, s: int) -> None:
        d.rectangle([4 * s, 4 * s, 28 * s - 1, 28 * s - 1], fill=RED + (255,))
        d.rectangle([round(x * s), 4 * s, 28 * s - 1, 28 * s - 1], fill=BLUE + (255,))
    return draw


def boundary(svg: str, size: int = 1024) -> float:
    """Where, in input pixels, the red | blue edge crosses the middle row: the red square's
    left side (x = 4) plus the red share integrated along the row."""
    row = render_svg(svg, size)[size // 2, :, :3].astype(np.float32)
    red_share = np.clip((row[:, 2] - BLUE[2]) / (RED[2] - BLUE[2]), 0, 1)
    inside = slice(size * 4 // 32, size * 28 // 32)
    return 4 + float(red_share[inside].sum()) * 32 / size


def test_unmixing_puts_a_colour_edge_between_the_pixels():
    """A red | blue edge part of the way into a pixel column, off the 4x upsampled grid
    (quarter pixels): the unmixed boundary lands closer to it than nearest-colour labels,
    which can only follow that grid."""
    errors = {}
    for x in (15.333, 16.667, 15.6, 17.1):
        src = icon(split(x), scale=24)
        for mode in ("unmix", "nearest"):
            # the one blend column is 4 % of the drawing: a 5 % floor keeps two colours
            opts = TraceOptions(colour_edges=mode, upsample="lanczos", palette_from="solid",
                                min_colour_share=0.05)
            tr = trace_rgba(src, options=opts)
            assert len(tr.colours) == 2
            errors.setdefault(mode, []).append(abs(boundary(tr.svg) - x))
    assert max(errors["unmix"]) < 0.1, errors
    assert np.mean(errors["unmix"]) < np.mean(errors["nearest"]), errors


@pytest.mark.parametrize("bad", [{"palette_from": "median"}, {"colour_edges": "blend"},
                                 {"upsample": "nearest"}])
def test_unknown_trace_options_are_a_clear_error(bad):
    (name, value), = bad.items()
    with pytest.raises(ValueError, match=f"TraceOptions.{name} must be one of .*{value}"):
        TraceOptions(**bad)
