"""The style-only path (t2i_core/finetune/look.py): a folder's colour and shading learned as
tables, painted on the base model's shapes; the weight is a dial; the shape is kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from finetune_helpers import quick
from safetensors.torch import load_file

from t2i_core.backends.base import GenerateRequest, LoraRef
from t2i_core.finetune import look, paint
from t2i_core.finetune.job import train

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _icon(rim: tuple, fill: tuple, top: tuple | None = None) -> np.ndarray:
    """A 32 px rounded shape: a 1 px rim of one colour around a fill (lighter on top)."""
    img = np.zeros((32, 32, 4), np.uint8)
    img[6:26, 6:26] = (*rim, 255)
    img[7:25, 7:25] = (*fill, 255)
    if top is not None:
        img[7:12, 7:25] = (*top, 255)
    return img


def _glyph() -> np.ndarray:
    """A black line drawing as the base model draws one: a closed outline and a cross."""
    img = np.zeros((32, 32, 4), np.uint8)
    img[4:28, 4:28] = (0, 0, 0, 255)
    img[6:26, 6:26] = 0  # a hole: the outline is 2 px wide
    img[15:17, 8:24] = (0, 0, 0, 255)  # an inner line
    return img


def test_the_tables_hold_the_folders_rim_fill_and_shading():
    folder = np.stack([_icon((20, 20, 20), (200, 40, 40), top=(250, 150, 150))] * 3)
    t = look.learn(folder)
    tables = t["look.tables"].numpy()
    assert tables.shape == (3, len(look.EDGE_BINS) + 1, look.HEIGHT_BINS, 3)
    rim, inner = tables[0, 0].mean(axis=0), tables[0, -1, 2]
    assert rim.max() < 0.2 and inner[0] > 0.7 and inner[1] < 0.3  # dark rim, red inside
    assert tables[0, -1, 0, 1] > tables[0, -1, 3, 1] + 0.2  # lit from the top
    assert 0 < float(t["look.detail"][0]) <= look.MIN_DETAIL + 1e-6
    assert look.learn(np.zeros((2, 32, 32, 4), np.uint8)) == {}  # nothing opaque: no look


def test_the_shape_is_kept_and_only_its_colour_changes():
    glyph = _glyph()
    tables = look.learn(np.stack([_icon((10, 10, 10), (30, 160, 60))] * 2))
    out = look.stylise(glyph, look.table_for(tables["look.tables"], 7),
                       float(tables["look.detail"][0]))  # the full look
    filled = np.zeros((32, 32), bool)
    filled[4:28, 4:28] = True
    assert (out[..., 3][~filled] == 0).all()  # nothing drawn outside the subject's shape
    assert (out[..., 3][filled] == 255).all()  # a closed outline becomes a filled shape
    at_one = paint.apply([glyph], [7], [(tables, 1.0)])[0]  # weight 1: STRENGTH of it
    assert (at_one[..., 3][~filled] == 0).all()
    assert (at_one[..., 3][filled] >= round(255 * look.STRENGTH) - 1).all()
    inside = out[12, 12, :3].astype(int)
    assert inside[1] > inside[0] + 60 and inside[1] > inside[2] + 60  # the folder's green
    line = out[15, 16, :3].astype(int)
    assert line.sum() < inside.sum()  # the subject's inner line stays darker than its fill


def test_weight_zero_is_the_picture_untouched_and_the_look_grows_with_the_weight():
    rng = np.random.default_rng(0)
    pictures = [_glyph(), (rng.random((32, 32, 4)) * 255).astype(np.uint8)]
    tables = look.learn(np.stack([_icon((90, 20, 20), (240, 200, 30))] * 4))
    assert all(np.array_equal(a, b) for a, b in
               zip(paint.apply(pictures, [1, 2], [(tables, 0.0)]), pictures, strict=True))
    full = np.stack(paint.apply(pictures, [1, 2], [(tables, 1.0)])).astype(float)
    moved, to_full = [], []
    for w in WEIGHTS:
        out = np.stack(paint.apply(pictures, [1, 2], [(tables, w)])).astype(float)
        moved.append(np.abs(out - np.stack(pictures)).mean())
        to_full.append(np.abs(out - full).mean())
    assert all(a < b for a, b in zip(moved, moved[1:], strict=False)), moved
    assert all(a > b for a, b in zip(to_full, to_full[1:], strict=False)), to_full


def test_a_seed_keeps_its_table_at_every_weight():
    tables = torch.rand(20, 4, 4, 3)
    assert {look.table_for(tables, 11).tobytes() for _ in range(3)} == \
        {look.table_for(tables, 11).tobytes()}
    assert len({look.table_for(tables, s).tobytes() for s in range(40)}) > 5


def test_a_trained_adapter_carries_its_look_and_paints_the_base_models_shapes(
        backend, style_folder: Path):
    train(backend, quick(style_folder, trigger="teal style", steps=4))
    path = backend.adapter_library.path_of("teal")
    tensors = load_file(str(path))
    assert tensors["look.tables"].shape[1:] == (len(look.EDGE_BINS) + 1, look.HEIGHT_BINS, 3)
    # the folder images' caption embeddings, row for row, to choose a table by subject
    assert tensors["look.captions"].shape == (tensors["look.tables"].shape[0], 384)
    assert not any(k.startswith("memory.") for k in tensors)  # no folder image in the file
    req = {"prompt": "a circle, teal style", "seed": 3, "count": 2, "width": 32, "height": 32,
           "steps": 4}
    base = backend.generate(GenerateRequest(**req)).images
    with_look = backend.generate(GenerateRequest(**req, loras=[LoraRef("teal", 1.0)])).images
    for b, a in zip(base, with_look, strict=True):
        drawn = b[..., 3] >= 128
        assert (a[..., 3][drawn] >= b[..., 3][drawn]).all()  # the base shape is all there


def test_a_table_is_chosen_among_the_folder_images_nearest_the_prompts_subject():
    tables = torch.rand(6, 4, 4, 3)
    captions = torch.nn.functional.normalize(torch.eye(6, 8) + 0.01, dim=-1)
    prompt = captions[2] + 0.9 * captions[4] + 0.8 * captions[5]  # nearest 2, then 4, then 5
    chosen = {look.table_for(tables, s, captions, prompt).tobytes() for s in range(60)}
    allowed = {tables[i].double().numpy().tobytes() for i in (2, 4, 5)}
    assert chosen == allowed  # every seed paints with one of the SUBJECT_TOP nearest
    assert look.SUBJECT_TOP == 3
    # the same seed and prompt: the same table (so at every weight)
    assert look.table_for(tables, 9, captions, prompt).tobytes() == \
        look.table_for(tables, 9, captions, prompt).tobytes()
    # no captions (an older adapter) or no prompt: any table, by the seed
    assert len({look.table_for(tables, s).tobytes() for s in range(60)}) == 6
    assert len({look.table_for(tables, s, captions, None).tobytes() for s in range(60)}) == 6


def test_captions_stay_row_for_row_with_the_tables_when_an_image_is_left_out():
    blank = np.zeros((32, 32, 4), np.uint8)  # nothing drawn: no table, so no caption either
    folder = np.stack([_icon((0, 0, 0), (200, 0, 0)), blank, _icon((0, 0, 0), (0, 0, 200))])
    captions = torch.eye(3, 5) * 2.0
    t = look.learn(folder, captions)
    assert t["look.tables"].shape[0] == 2 and t["look.captions"].shape == (2, 5)
    assert torch.allclose(t["look.captions"], torch.eye(3, 5)[[0, 2]])  # unit length
    assert t["look.tables"][1, -1, 1, 2] > 0.7  # the blue icon's table is the second row
    assert "look.captions" not in look.learn(folder)


def test_an_outline_with_a_one_pixel_gap_becomes_a_filled_shape():
    glyph = _glyph()
    glyph[5:7, 15] = 0  # cut the 2 px outline through on its top side
    glyph[4, 15] = 0
    tables = look.learn(np.stack([_icon((10, 10, 10), (30, 160, 60))] * 2))
    out = look.stylise(glyph, tables["look.tables"][0].double().numpy(),
                       float(tables["look.detail"][0]))
    assert (out[10:22, 10:22, 3] == 255).all()  # the inside is filled all the same
    assert out[12, 12, 1] > out[12, 12, 0] + 60  # with the folder's green


def test_open_strokes_stay_dark_enough_to_read_with_a_light_table():
    line = np.zeros((32, 32, 4), np.uint8)
    line[16:18, 3:29] = (0, 0, 0, 255)  # a 2 px line: no inside to fill
    pale = look.learn(np.stack([_icon((235, 235, 235), (250, 250, 250))] * 2))
    out = look.stylise(line, pale["look.tables"][0].double().numpy(),
                       float(pale["look.detail"][0]))
    luma = out[16:18, 3:29, :3].astype(float) @ np.array([0.299, 0.587, 0.114]) / 255.0
    assert (out[16:18, 3:29, 3] == 255).all()
    assert luma.max() <= look.STROKE_LUMA + 0.01  # not the table's near-white
    assert luma.min() > 0.1  # but the table's colour, darkened, not black
    # a filled shape keeps its light table colour inside
    filled = look.stylise(_glyph(), pale["look.tables"][0].double().numpy(), 0.55)
    assert filled[12, 12, :3].min() > 200


def test_generation_paints_a_prompt_with_the_tables_of_its_nearest_folder_subjects(
        backend, style_folder: Path):
    """End to end through the backend: the prompt's own text embedding chooses the table."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    train(backend, quick(style_folder, trigger="inkwell style", steps=4))  # no colour word
    path = backend.adapter_library.path_of("teal")
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    blue, red = (0.1, 0.2, 0.9), (0.9, 0.1, 0.1)
    subjects = {"a cat": blue, "a kitten": blue, "a cat face": blue,
                "a printer": red, "a battery": red, "a keyboard": red}
    enc = backend.model.encoder
    tensors["look.tables"] = torch.tensor([[[c] * look.HEIGHT_BINS] * (len(look.EDGE_BINS) + 1)
                                           for c in subjects.values()], dtype=torch.float32)
    tensors["look.captions"] = enc.encode([f"inkwell style, {s}" for s in subjects]).embeddings
    save_file(tensors, str(path), metadata=meta)

    def painted(prompt: str) -> np.ndarray:
        req = {"prompt": prompt, "seed": 5, "count": 3, "width": 32, "height": 32, "steps": 4}
        base = np.stack(backend.generate(GenerateRequest(**req)).images).astype(int)
        after = np.stack(backend.generate(
            GenerateRequest(**req, loras=[LoraRef("teal", 1.0)])).images).astype(int)
        changed = np.abs(after - base).sum(axis=-1) > 60
        assert changed.sum() > 20  # the look painted something
        return after[changed][:, :3].mean(axis=0)

    cat, printer = painted("a cat, inkwell style"), painted("a printer, inkwell style")
    assert cat[2] > cat[0] + 40  # the cat subjects' blue
    assert printer[0] > printer[2] + 40  # the device subjects' red


def test_a_small_hole_the_fill_closes_stays_light_and_the_rim_is_not_painted_dark():
    """What cost the subject (docs/finetune.md "What costs the subject"): filling a window,
    an eye, a face's light inside with the table's colour, and a dark rim painted round the
    base model's own shape."""
    glyph = _glyph()
    glyph[9:15, 9:15] = (0, 0, 0, 255)  # a window: a 1 px frame round a 2 x 2 hole
    glyph[10:14, 10:14] = (0, 0, 0, 255)
    glyph[11:13, 11:13] = 0
    tables = look.learn(np.stack([_icon((10, 10, 10), (30, 160, 60))] * 2))
    table = tables["look.tables"][0].double().numpy()
    out = look.stylise(glyph, table, float(tables["look.detail"][0])).astype(float)
    luma = out[..., :3] @ np.array([0.299, 0.587, 0.114])
    assert (out[11:13, 11:13, 3] == 255).all()  # the shape is filled all the same
    assert luma[11:13, 11:13].min() > luma[20, 20] + 40  # but the window stays light
    # a filled square: no dark rim of the table's own round the base model's shape
    square = np.zeros((32, 32, 4), np.uint8)
    square[6:26, 6:26] = (160, 160, 160, 255)  # mid grey: neither a line nor a light mark
    flat = look.stylise(square, table, 0.55).astype(float)
    assert abs(flat[6, 16, :3] - flat[8, 16, :3]).max() < 40  # rim as the ring inside it
    # with its rings (the guard's second tries), a light table's dark rim is painted
    light = look.learn(np.stack([_icon((10, 10, 10), (230, 200, 120))] * 2))
    table = light["look.tables"][0].double().numpy()
    ringed = look.stylise(square, table, 0.55, rings=1.0).astype(float)
    assert ringed[6, 16, :3].sum() < ringed[8, 16, :3].sum() - 100  # the table's dark rim


def test_inner_lines_stay_readable_on_a_dark_fill_and_light_marks_stay_light():
    """docs/finetune.md "Session 8": a dark table made the base model's inner lines vanish
    into the fill, and the fill painted over a colour picture's light marks."""
    lum = np.array([0.299, 0.587, 0.114])
    dark = look.learn(np.stack([_icon((5, 5, 5), (40, 30, 30))] * 2))  # a near-black table
    table = dark["look.tables"][0].double().numpy()
    out = look.stylise(_glyph(), table, float(dark["look.detail"][0])).astype(float)
    fill, line = out[10, 12, :3] @ lum / 255, out[15, 12, :3] @ lum / 255
    assert fill >= look.FILL_FLOOR - 0.02  # the fill is lifted off black ...
    assert fill - line >= look.LINE_CONTRAST - 0.02  # ... so the inner line reads on it
    # a colour picture (an opaque orange square) with a white mark inside: the mark stays light
    picture = np.zeros((32, 32, 4), np.uint8)
    picture[6:26, 6:26] = (230, 120, 30, 255)
    picture[14:18, 14:18] = (255, 255, 255, 255)
    green = look.learn(np.stack([_icon((10, 10, 10), (30, 160, 60))] * 2))
    out = look.stylise(picture, green["look.tables"][0].double().numpy(), 0.55).astype(float)
    mark, body = out[15, 15, :3] @ lum, out[10, 15, :3] @ lum
    assert mark > body + 0.2 * (255 - body)  # part of the way to white, not the fill
    assert out[10, 15, 1] > out[10, 15, 0] + 60  # the body takes the folder's green
