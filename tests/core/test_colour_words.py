"""Colour words: parsing, recolouring, and the built-in backend honouring them end to end."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from t2i_core.backends.base import GenerateRequest
from t2i_core.colour_words import dominant_hue, find_colours, honour_colours, without_colours
from tests.conftest import draw


def _hue_deg(rgb: tuple[int, int, int]) -> float:
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360


def _near(hue: float | None, deg: float, tol: float = 20) -> bool:
    if hue is None:
        return False
    d = abs(hue * 360 - deg) % 360
    return min(d, 360 - d) <= tol


@pytest.mark.parametrize("text, words", [
    ("a red apple", ["red"]),
    ("navy house icon", ["navy"]),
    ("a pastel green cat", ["pastel green"]),
    ("a #ff8800 star", ["#ff8800"]),
    ("a #f80 star", ["#f80"]),
    ("a sky blue bird", ["sky blue"]),
    ("(red:1.3) apple", ["red"]),
    ("a dark red and light blue ball", ["dark red", "light blue"]),
    ("an orange", []),  # the fruit
    ("an orange cat", ["orange"]),
    ("a reddish fox", ["red"]),
    ("a house", []),
    ("bluetooth icon", []),  # no colour hidden inside another word
])
def test_find_colours(text, words):
    assert [c.words for c in find_colours(text)] == words


@pytest.mark.parametrize("text, kept", [
    ("a navy car", "a car"),
    ("a red apple", "an apple"),
    ("(red:1.3) apple", "apple"),
    ("a pastel green cat, flat icon", "a cat, flat icon"),
    ("a #ff8800 star", "a star"),
    ("a dark red and light blue ball", "a ball"),
    ("red", "red"),  # only a colour: nothing else to draw, it stays
    ("an orange", "an orange"),
])
def test_without_colours_keeps_the_subject(text, kept):
    assert without_colours(text) == kept


def test_modifiers_change_the_swatch():
    red = find_colours("red x")[0].hsv
    dark = find_colours("dark red x")[0].hsv
    pastel = find_colours("pastel green x")[0].hsv
    assert dark[2] < red[2]
    assert pastel[1] < find_colours("green x")[0].hsv[1] and pastel[2] >= 0.9
    assert find_colours("#ff8800 x")[0].rgb == (255, 136, 0)
    assert [c.words for c in find_colours("orange", lone_words=True)] == ["orange"]


def test_black_glyph_is_inked_with_the_named_colour():
    glyph = draw("circle", (0, 0, 0))
    assert dominant_hue(glyph) is None  # monochrome
    (out,) = honour_colours([glyph], "a red circle")
    assert _near(dominant_hue(out), 0)
    assert np.array_equal(out[..., 3], glyph[..., 3])  # the shape is untouched
    (navy,) = honour_colours([glyph], "a navy circle")
    assert _near(dominant_hue(navy), _hue_deg((20, 30, 110)))
    assert navy[..., :3][glyph[..., 3] > 0].mean() < 90  # navy is dark


def test_colour_image_turns_its_dominant_hue_and_keeps_other_hues():
    apple = draw("circle", (220, 40, 40)).copy()
    leaf = draw("bar", (40, 180, 60))
    apple[13:19, 4:10] = leaf[13:19, 4:10]  # a small green part
    (blue,) = honour_colours([apple], "a blue apple")
    assert _near(dominant_hue(blue), _hue_deg((37, 99, 235)))
    assert tuple(blue[16, 6, :3]) == tuple(apple[16, 6, :3])  # the leaf stays green


def _face() -> np.ndarray:
    """A yellow emoji face: a darker shaded mouth in the same hue family, dark eyes."""
    face = draw("circle", (250, 200, 40)).copy()
    face[18:22, 10:22, :3] = (200, 140, 20)
    face[11:14, 11:14, :3] = face[11:14, 18:21, :3] = (30, 25, 20)
    return face


def _luma(rgba: np.ndarray) -> np.ndarray:
    return rgba[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255


def test_colour_image_keeps_its_shading_when_turned_to_a_dark_colour():
    # Scaled all the way to teal's brightness (the rule before), the face came within 0.26
    # of the eyes' lightness and 0.07 of the mouth's: the features faded into the colour.
    face = _face()
    (teal,) = honour_colours([face], "a teal face")
    assert _near(dominant_hue(teal), _hue_deg((0, 128, 128)))
    skin = _luma(teal)[8:10, 14:18].mean()
    assert skin - _luma(teal)[12, 12] >= 0.35  # the eyes still read (0.67 before turning)
    assert skin - _luma(teal)[19, 15] >= 0.1  # so does the shaded mouth (0.21)


def test_colour_image_still_tells_navy_from_blue_and_pastel_from_green():
    # Half-way to the colour's tone, not a hue turn alone: the words still mean something.
    face = _face()
    tone = {c: colorsys.rgb_to_hsv(*(honour_colours([face], f"a {c} face")[0][8, 15, :3]
                                     / 255)) for c in ("navy", "blue", "pastel green", "green")}
    assert tone["navy"][2] <= tone["blue"][2] - 0.2
    assert tone["pastel green"][1] <= tone["green"][1] - 0.15


def test_negative_colour_steers_away_and_no_colour_changes_nothing():
    red = draw("square", (220, 40, 40))
    (away,) = honour_colours([red], "a square", "red, blurry")
    assert not _near(dominant_hue(away), 0, tol=30)
    images = [red]
    assert honour_colours(images, "a square", "blurry")[0] is red  # untouched, not copied
    (green,) = honour_colours([draw("square", (40, 180, 60))], "a square", "red")
    assert np.array_equal(green, draw("square", (40, 180, 60)))  # not red: nothing to do


def test_builtin_backend_honours_the_colour_word(tiny_backend):
    plain = tiny_backend.generate(GenerateRequest(prompt="an apple", seed=3, count=2,
                                                  steps=2, width=32, height=32)).images
    red = tiny_backend.generate(GenerateRequest(prompt="a red apple", seed=3, count=2,
                                                steps=2, width=64, height=64)).images
    for im in red:
        assert im.shape == (64, 64, 4)
        assert _near(dominant_hue(im), 0)
    assert not all(_near(dominant_hue(im), 0) for im in plain)  # the random model is not red


def test_the_encoder_reads_the_prompt_without_colour_words_with_or_without_adapters(
        tiny_backend, monkeypatch):
    """Colour words are drawn by recolouring, never by the encoder, also with an adapter (its
    trigger "teal style" included): the encoder's text must not depend on the adapter's
    weight, so that weight 0 is exactly the base model and the weight is a smooth dial."""
    from t2i_core.finetune.adapters import StyleRef

    seen = []
    encode = tiny_backend.model.encoder.encode_weighted
    monkeypatch.setattr(tiny_backend.model.encoder, "encode_weighted",
                        lambda segs: seen.append("".join(s.text for s in segs[0])) or encode(segs))
    tiny_backend.generate_with(GenerateRequest(prompt="a circle, teal style", steps=1,
                                               width=32, height=32),
                               tiny_backend.model.denoiser,
                               [StyleRef(retrieval_style=None, trigger="teal style", weight=1.0)])
    with_adapter, seen[:] = list(seen), []
    tiny_backend.generate(GenerateRequest(prompt="a circle, teal style", steps=1, width=32,
                                          height=32))
    assert with_adapter[0] == seen[0]
    assert all("teal" not in t for t in [*with_adapter, *seen])
