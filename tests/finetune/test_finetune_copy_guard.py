"""The look's copy guard (t2i_core/finetune/look.py): a sample that the look would paint
nearer a folder image than the folder's images are to each other (issue 16's "copy") takes
the next table, else keeps more of the base drawing; the choice is the same at every weight.
The adapter keeps projections of the folder images, never the images."""

from __future__ import annotations

import numpy as np
import torch

from t2i_core.finetune import copy_guard, look, paint

RED = np.zeros((4, 4, 3)) + [0.85, 0.1, 0.1]
YELLOW = np.zeros((4, 4, 3)) + [0.95, 0.85, 0.1]


def _outline() -> np.ndarray:
    """The base model's black outline of a square (a closed 2 px line)."""
    img = np.zeros((32, 32, 4), np.uint8)
    img[6:26, 6:26] = (0, 0, 0, 255)
    img[8:24, 8:24] = 0
    return img


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    def white(x: np.ndarray) -> np.ndarray:
        f = x.astype(float) / 255
        return f[..., :3] * f[..., 3:] + 1 - f[..., 3:]

    return float(np.sqrt(((white(a) - white(b)) ** 2).sum()))


def _adapter(tables: list[np.ndarray], folder_image: np.ndarray, threshold: float,
             guarded: bool = True) -> dict[str, torch.Tensor]:
    t = {"look.tables": torch.tensor(np.stack(tables), dtype=torch.float32),
         "look.detail": torch.tensor([look.MIN_DETAIL])}
    if guarded:
        g = copy_guard.guard(np.stack([folder_image, np.zeros_like(folder_image)]))
        t |= {"look.guard": g["look.guard"][:1], "look.guard_threshold": torch.tensor([threshold])}
    return t


def test_a_sample_painted_into_a_folder_image_takes_the_next_table():
    base = _outline()
    folder_image = look.stylise(base, RED, look.MIN_DETAIL)  # what the red table paints
    tables = [RED, YELLOW]
    plain = _adapter(tables, folder_image, 6.0, guarded=False)
    guarded = _adapter(tables, folder_image, 6.0)
    seeds = list(range(16))
    unguarded = paint.apply([base] * 16, seeds, [(plain, 1.0)])
    copies = [s for s, img in zip(seeds, unguarded, strict=True)
              if _distance(img, folder_image) < 6.0]
    assert copies  # without the guard some seeds paint the folder image itself
    out = paint.apply([base] * 16, seeds, [(guarded, 1.0)])
    assert all(_distance(img, folder_image) >= 6.0 for img in out)
    for s in copies:  # they took the yellow table, at weight 1 and at weight 0.5 alike
        for w in (0.5, 1.0):
            img = paint.apply([base], [s], [(guarded, w)])[0]
            inside = img[12, 16, :3].astype(int)
            assert inside[1] > inside[2] + 40, (s, w, inside)  # yellow: green well above blue


def test_with_no_other_table_the_sample_keeps_more_of_the_base_drawing():
    base = _outline()
    folder_image = look.stylise(base, RED, look.MIN_DETAIL)
    guarded = _adapter([RED], folder_image, 6.0)
    full = paint.apply([base], [3], [(_adapter([RED], folder_image, 6.0, False), 1.0)])[0]
    kept = paint.apply([base], [3], [(guarded, 1.0)])[0]
    assert _distance(full, folder_image) < 6.0 <= _distance(kept, folder_image) * 1.1
    # still a dial: weight 0 is the base, and half the weight is half the kept share
    assert np.array_equal(paint.apply([base], [3], [(guarded, 0.0)])[0], base)
    assert 0 < (paint.apply([base], [3], [(guarded, 0.5)])[0][16, 16, 3]) < kept[16, 16, 3]


def test_the_guard_holds_projections_whose_distances_match_the_pictures():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 32, 32, 4)).astype(np.uint8)
    g = copy_guard.guard(imgs)
    assert g["look.guard"].shape == (6, copy_guard.GUARD_DIMS)  # not a picture: 256 numbers each
    exact = torch.cdist(copy_guard.on_white(imgs), copy_guard.on_white(imgs))
    projected = torch.cdist(g["look.guard"], g["look.guard"])
    off = ~torch.eye(6, dtype=torch.bool)
    assert ((projected[off] / exact[off] - 1).abs() < 0.15).all()
    # the threshold is measured on the pictures themselves: the bar's 5th percentile
    assert abs(float(g["look.guard_threshold"][0])
               - float(torch.quantile(exact[off], 0.05))) < 1e-3


def test_the_guard_tries_every_table_before_keeping_the_base_drawing():
    """Three of four tables paint the folder image: a seed whose fourth table is the other
    one takes it at full strength instead of a faded copy (docs/finetune.md "Session 8":
    Papirus's flags were samples whose three subject tables all came near a folder image)."""
    base = _outline()
    folder_image = look.stylise(base, RED, look.MIN_DETAIL)
    guarded = _adapter([RED, RED, RED, YELLOW], folder_image, 6.0)
    seeds = [s for s in range(32) if look.table_order(guarded["look.tables"], s)[-1] == 3]
    assert seeds  # seeds that try the yellow table last
    for s in seeds:
        full, share = paint.choose(base, s, guarded, None)
        assert share == look.STRENGTH, s  # not a share of the look: a whole table
        assert full[12, 16, 1] > full[12, 16, 2] + 40, s  # the yellow one
        out = paint.apply([base], [s], [(guarded, 1.0)])[0]
        assert _distance(out, folder_image) >= 6.0


def test_a_base_drawing_that_is_no_copy_is_kept_whole_when_every_share_of_the_look_is_one():
    base = _outline()
    folder_image = look.stylise(base, RED, look.MIN_DETAIL)
    last = look.STRENGTH * [k for k in copy_guard.GUARD_KEEP if k > 0][-1]
    near = _distance(look.blend(base, folder_image, last), folder_image)
    threshold = (near + _distance(base, folder_image)) / 2  # the smallest share is a copy
    guarded = _adapter([RED], folder_image, threshold)
    full, share = paint.choose(base, 3, guarded, None)
    assert share == 0.0
    for w in (0.5, 1.0):  # the base drawing at every weight: no faded copy of the folder's
        assert np.array_equal(paint.apply([base], [3], [(guarded, w)])[0], base)


def test_the_guard_judges_the_picture_after_the_prompts_colour_words():
    """"a red square": the look paints the yellow table, the colour words then make it red,
    and red is the folder image (docs/finetune.md "Session 8": "a white medium square" became
    a grey folder device after the guard had passed its painting)."""
    from t2i_core.colour_words import honour_colours

    base = _outline()
    folder_image = honour_colours([look.stylise(base, YELLOW, look.MIN_DETAIL)],
                                  "a red square")[0]
    guarded = _adapter([YELLOW], folder_image, 6.0)

    def finish(p: np.ndarray) -> np.ndarray:
        return honour_colours([p], "a red square")[0]

    blind = finish(paint.apply([base], [3], [(guarded, 1.0)])[0])
    assert _distance(blind, folder_image) < 6.0  # judged before the colour words: a copy
    seen = finish(paint.apply([base], [3], [(guarded, 1.0)], finish=finish)[0])
    assert _distance(seen, folder_image) >= 6.0
