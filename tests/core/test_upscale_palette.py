"""Flat-colour art keeps its exact colours when enlarged (t2i_core/enhance/palette.py); any
other image is left exactly as the network made it."""

from __future__ import annotations

import numpy as np

import t2i_core.enhance.upscale as up
from t2i_core.enhance.palette import flat_palette, snap_flat_regions
from t2i_core.enhance.upscale import Enhancer

RED, BLUE = (220, 30, 30), (30, 60, 220)


def badge(size: int = 32) -> np.ndarray:
    """A red disc with a blue centre on transparency, antialiased at its outer edge."""
    yy, xx = np.mgrid[:size, :size] + 0.5
    r = np.hypot(yy - size / 2, xx - size / 2)
    a = np.clip(size * 0.4 - r, 0, 1)
    rgb = np.where((r < size * 0.18)[..., None], BLUE, RED)
    return np.concatenate([rgb, (a * 255 + 0.5)[..., None]], -1).astype(np.uint8)


def gradient(size: int = 32) -> np.ndarray:
    """An opaque smooth gradient: not flat art."""
    yy, xx = np.mgrid[:size, :size] / (size - 1)
    rgb = np.stack([xx * 255, yy * 255, (1 - xx) * 200 + 30], -1)
    return np.concatenate([rgb, np.full((size, size, 1), 255)], -1).astype(np.uint8)


def test_the_palette_of_flat_art_and_none_for_a_gradient():
    palette = flat_palette(badge())
    assert palette is not None and len(palette) == 2
    assert {tuple(int(v) for v in c) for c in np.round(palette)} == {RED, BLUE}
    assert flat_palette(gradient()) is None
    assert flat_palette(np.zeros((32, 32, 4), np.uint8)) is None  # nothing opaque


def test_drift_inside_flat_regions_is_snapped_edges_and_alpha_are_not():
    img = np.zeros((16, 16, 4), np.uint8)
    img[..., 3] = 255
    img[:, :8, :3] = RED
    img[:, 8:, :3] = BLUE
    drifted = img.copy()
    drifted[3, 3, :3] = (210, 40, 25)  # inside the red half, near red
    drifted[5, 7, :3] = (125, 45, 125)  # on the red/blue edge: a mix, not flat around it
    drifted[10, 12, 3] = 200  # semi-transparent: left alone
    out = snap_flat_regions(drifted, np.array([RED, BLUE], np.float32))
    assert tuple(out[3, 3, :3]) == RED
    assert tuple(out[5, 7, :3]) == (125, 45, 125)
    assert np.array_equal(out[..., 3], drifted[..., 3])
    assert np.array_equal(out[10, 12], drifted[10, 12])


def test_the_enhancer_snaps_icons_and_leaves_other_images_as_the_network_made_them(
        monkeypatch):
    calls: list[int] = []

    def recording(rgba, palette):
        calls.append(len(palette))
        return snap_flat_regions(rgba, palette)

    monkeypatch.setattr(up, "snap_flat_regions", recording)
    enhancer = Enhancer()
    icon = enhancer.upscale(badge(), 4)
    assert calls == [2]  # the icon's two flat colours
    interior = icon[60:68, 60:68, :3].reshape(-1, 3)  # the blue centre, far from its edges
    assert {tuple(int(v) for v in c) for c in interior} == {BLUE}
    snapped_grad = enhancer.upscale(gradient(), 4)
    assert calls == [2]  # not flat art: not snapped
    monkeypatch.setattr(up, "PALETTE_MAX_SIDE", 0)  # the network alone
    assert np.array_equal(enhancer.upscale(gradient(), 4), snapped_grad)
    assert np.array_equal(enhancer.upscale(badge(), 4)[..., 3], icon[..., 3])  # alpha kept
