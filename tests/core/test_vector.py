"""The tracer (RGBA raster -> flat-colour SVG), the renderer, vector generation through a
backend, and ``t2i generate -o x.svg``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageDraw

from t2i_core.backends.base import GenerateRequest
from t2i_core.errors import T2IError
from t2i_core.vector import TraceOptions, render_svg, trace_rgba
from t2i_core.vector.curves import corner_flags, path_data
from t2i_core.vector.result import generate_vector

RED, BLUE = (220, 30, 30), (30, 60, 220)


def icon(draw_fn, size: int = 32, scale: int = 8) -> np.ndarray:
    """An anti-aliased 32 px icon: drawn at 8x, box-downsampled (as a rasterizer would)."""
    big = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    draw_fn(ImageDraw.Draw(big), scale * size // 32)  # drawing units: 32 per side
    f = np.asarray(big).astype(np.float32) / 255
    pre = np.concatenate([f[..., :3] * f[..., 3:], f[..., 3:]], -1)
    pre = pre.reshape(size, scale, size, scale, 4).mean(axis=(1, 3))
    a = pre[..., 3:]
    rgb = np.where(a > 0, pre[..., :3] / np.maximum(a, 1e-6), 0)
    return (np.concatenate([rgb, a], -1) * 255 + 0.5).astype(np.uint8)


def disc(d: ImageDraw.ImageDraw, s: int) -> None:
    d.ellipse([4 * s, 4 * s, 28 * s, 28 * s], fill=RED + (255,))


def badge(d: ImageDraw.ImageDraw, s: int) -> None:
    d.rectangle([3 * s, 3 * s, 29 * s, 29 * s], fill=RED + (255,))
    d.ellipse([10 * s, 10 * s, 22 * s, 22 * s], fill=BLUE + (255,))


def ring(d: ImageDraw.ImageDraw, s: int) -> None:
    d.ellipse([4 * s, 4 * s, 28 * s, 28 * s], outline=(0, 0, 0, 255), width=3 * s)


def paths(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [el for el in root.iter() if el.tag.endswith("path")]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[..., 3] >= 128, b[..., 3] >= 128
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_a_disc_becomes_one_smooth_red_path_on_transparency():
    src = icon(disc)
    tr = trace_rgba(src, size=256)
    (p,) = paths(tr.svg)
    root = ET.fromstring(tr.svg)
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("256", "256",
                                                                          "0 0 32 32")
    fill = tuple(int(p.get("fill")[i:i + 2], 16) for i in (1, 3, 5))
    assert max(abs(f - c) for f, c in zip(fill, RED, strict=True)) <= 6
    assert "C" in p.get("d")  # Bézier curves, not a polygon
    big = render_svg(tr.svg, 256)
    assert big.shape == (256, 256, 4)
    assert big[0, 0, 3] == 0 and big[128, 128, 3] == 255  # transparent outside, solid inside
    truth = icon(disc, size=256, scale=2)
    assert iou(big, truth) > 0.97
    # sharp: the edge is a one-pixel anti-aliased line, not a blurry ramp
    soft = ((big[..., 3] > 25) & (big[..., 3] < 230)).sum()
    assert soft < 1.5 * np.pi * 24 * 8  # about one pixel along the 12-unit-radius rim
    assert iou(render_svg(tr.svg, 32), src) > 0.93  # and it still matches the 32 px input


def test_colour_regions_are_stacked_layers_largest_first():
    tr = trace_rgba(icon(badge))
    fills = [p.get("fill") for p in paths(tr.svg)]
    assert len(fills) == 2 and tr.colours == fills
    back = render_svg(tr.svg, 320)
    assert tuple(back[50, 50, :3]) == pytest.approx(RED, abs=8)  # the red square below
    assert tuple(back[160, 160, :3]) == pytest.approx(BLUE, abs=8)  # the blue disc on top
    # no hairline between the colours: every pixel inside the square is opaque
    assert back[40:280, 40:280, 3].min() == 255


def test_holes_are_holes():
    tr = trace_rgba(icon(ring))
    big = render_svg(tr.svg, 256)
    assert big[128, 128, 3] == 0 and big[128, 40, 3] == 255  # centre empty, the ring drawn
    assert len(paths(tr.svg)) == 1  # outer and inner contour: one even-odd path


def test_nothing_opaque_gives_a_valid_empty_drawing():
    tr = trace_rgba(np.zeros((32, 32, 4), np.uint8), size=64)
    assert tr.paths == 0 and ET.fromstring(tr.svg).get("viewBox") == "0 0 32 32"
    assert render_svg(tr.svg, 64)[..., 3].max() == 0


def test_noise_stays_a_small_valid_file():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    tr = trace_rgba(noise, size=128)
    assert len(tr.svg.encode()) <= TraceOptions().max_bytes
    assert tr.paths <= TraceOptions().max_colours
    assert render_svg(tr.svg, 128).shape == (128, 128, 4)


@pytest.mark.parametrize("bad", [np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 4)),
                                 "image", np.zeros((1, 1, 4), np.uint8)])
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(T2IError, match="RGBA raster"):
        trace_rgba(bad)


def test_broken_svg_is_a_clear_error():
    with pytest.raises(T2IError, match="not a valid"):
        render_svg("<svg", 32)


def test_corners_stay_corners_and_curves_are_smooth():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    assert corner_flags(square, 65).all()
    assert path_data([square], 65) == "M0 0L10 0L10 10L0 10L0 0Z"  # straight edges only
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    circle = np.stack([5 + 4 * np.cos(t), 5 + 4 * np.sin(t)], 1)
    assert not corner_flags(circle, 65).any()
    d = path_data([circle], 65)
    assert d.count("C") == 12 and "L" not in d
    assert path_data([circle], None).count("L") == 1  # the polygon baseline


def test_generate_vector_traces_native_images_and_renders_them(tiny_backend):
    req = GenerateRequest(prompt="a red apple", seed=5, width=128, height=128, count=2,
                          steps=2, vector=True)
    result = generate_vector(tiny_backend, req)
    assert len(result.svgs) == 2 and [im.shape for im in result.images] == [(128, 128, 4)] * 2
    for svg, image, prov in zip(result.svgs, result.images, result.provenance, strict=True):
        assert ET.fromstring(svg).get("width") == "128"
        assert np.array_equal(image, render_svg(svg, 128))  # the raster is the SVG's
        assert prov.vector and (prov.width, prov.height) == (128, 128)
        assert "Vector: svg" in prov.a1111_parameters()
    # at 32 px the raster is the generator's own output (nothing rendered, nothing invented)
    small = generate_vector(tiny_backend, GenerateRequest(prompt="a red apple", seed=5,
                                                          width=32, height=32, steps=2))
    raw = tiny_backend.generate(GenerateRequest(prompt="a red apple", seed=5, width=32,
                                                height=32, steps=2))
    assert np.array_equal(small.images[0], raw.images[0])


def test_cli_writes_an_svg_with_its_provenance(tmp_path, tiny_weights):
    out = tmp_path / "icon.svg"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "worker.commands", "generate", "a red apple", "-o",
                        str(out), "--seed", "3", "--size", "256", "--steps", "2",
                        "--weights-dir", str(tiny_weights)], capture_output=True, text=True,
                       env=env, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    svg = out.read_text()
    root = ET.fromstring(svg)
    assert root.get("width") == "256" and root.get("viewBox") == "0 0 32 32"
    meta = next(el for el in root if el.tag.endswith("metadata"))
    prov = json.loads(meta.text)
    assert prov["vector"] is True and prov["seed"] == 3 and prov["prompt"] == "a red apple"
    assert render_svg(svg, 256).shape == (256, 256, 4)
    assert not list(tmp_path.glob("*.png")) and not re.search(r"\.tmp$", " ".join(
        p.name for p in tmp_path.iterdir()))


def stripes(d: ImageDraw.ImageDraw, s: int) -> None:
    for k in range(16):  # many small shapes: a long file with Béziers
        d.ellipse([(k % 4) * 8 * s + s, (k // 4) * 8 * s + s, (k % 4) * 8 * s + 6 * s,
                   (k // 4) * 8 * s + 6 * s], fill=(RED, BLUE)[k % 2] + (255,))


def test_a_file_over_budget_falls_back_to_straight_segments_first():
    image = icon(stripes)
    full = trace_rgba(image, options=TraceOptions(max_bytes=10**6))
    assert "C" in "".join(p.get("d") for p in paths(full.svg))  # Béziers when they fit
    budget = len(full.svg.encode()) - 1  # one byte too many: the polygons must fit
    small = trace_rgba(image, options=TraceOptions(max_bytes=budget))
    assert len(small.svg.encode()) <= budget and small.paths == full.paths
    d = "".join(p.get("d") for p in paths(small.svg))
    assert "C" not in d and d.count("M") == "".join(p.get("d") for p in paths(full.svg)
                                                     ).count("M")  # same shapes, no specks lost
    assert iou(render_svg(small.svg, 256), render_svg(full.svg, 256)) > 0.93  # 5 px dots


def test_live_previews_use_the_coarser_live_trace(tiny_backend):
    from t2i_core.vector.result import LIVE_TRACE, trace_options_for

    live = GenerateRequest(prompt="a red apple", model="live", vector=True)
    assert trace_options_for(live) is LIVE_TRACE
    assert trace_options_for(GenerateRequest(prompt="a red apple", vector=True)) == \
        TraceOptions()
    # the live trace of a drawing keeps its look: same colours, nearly the same shape
    image = icon(badge)
    fast, full = trace_rgba(image, 256, LIVE_TRACE), trace_rgba(image, 256)
    assert fast.colours == full.colours
    assert iou(render_svg(fast.svg, 256), render_svg(full.svg, 256)) > 0.97
    assert len(fast.svg) < len(full.svg)
