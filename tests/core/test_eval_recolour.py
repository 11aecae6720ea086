"""Recolourings used to check the evaluation encoder (t2i_core/eval/recolour.py): they
change colour only, never the shape, and differ from the training jitter."""

from __future__ import annotations

import numpy as np

from t2i_core.eval.recolour import SWATCHES, duotone, main_colours, palette_swap, rivals


def face() -> np.ndarray:
    """A yellow disc with two brown eyes on a transparent background."""
    yy, xx = np.mgrid[:32, :32]
    img = np.zeros((32, 32, 4), np.uint8)
    disc = (yy - 16) ** 2 + (xx - 16) ** 2 < 12 ** 2
    img[disc] = (250, 200, 30, 255)
    for cx in (11, 21):
        img[(yy - 13) ** 2 + (xx - cx) ** 2 < 3 ** 2] = (110, 60, 20, 255)
    return img


def test_palette_swap_gives_each_region_its_own_far_colour_and_keeps_the_shape():
    img = face()
    assert len(main_colours(img)) == 2
    for seed in range(20):
        out = palette_swap(img, np.random.default_rng(seed))
        assert np.array_equal(out[..., 3], img[..., 3])  # the shape never changes
        skin, eye = out[16, 16, :3].astype(int), out[13, 11, :3].astype(int)
        assert np.abs(skin - img[16, 16, :3]).max() >= 90  # every region really moves
        assert np.abs(eye - img[13, 11, :3]).max() >= 90
        assert np.abs(skin - eye).max() >= 90  # and the eyes stay apart from the face
        assert np.abs(skin - 255).max() > 30  # no region turns white (it would vanish)
    blank = np.zeros((32, 32, 4), np.uint8)
    assert np.array_equal(palette_swap(blank, np.random.default_rng(0)), blank)


def test_duotone_maps_grey_levels_to_two_unrelated_colours():
    img = face()
    out = duotone(img, np.random.default_rng(3))
    assert np.array_equal(out[..., 3], img[..., 3])
    grey = out[..., :3].astype(float).mean(-1)
    assert grey[13, 11] < grey[16, 16]  # the darker eye stays darker than the skin
    assert not np.array_equal(out[16, 16, :3], img[16, 16, :3])


def test_rival_colours_are_far_in_hue():
    named = ["red", "orange", "yellow", "green", "teal", "sky blue", "blue", "navy",
             "purple", "pink"]
    assert "blue" in rivals("red", named) and "orange" not in rivals("red", named)
    assert "pink" not in rivals("red", named)  # pink is a light red
    assert set(rivals("black", named)) == set(named)
    assert all(name in SWATCHES for name in named)
