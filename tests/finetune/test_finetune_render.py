"""The look's renderer (t2i_core/finetune/render.py): a tiny network trained on the folder to
turn a painted glyph into the folder's rendering; stored as ``look.render.*`` in the
adapter (safetensors); adapters without it paint the colour tables alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from finetune_helpers import quick
from safetensors.torch import load_file

from t2i_core.backends.base import GenerateRequest, LoraRef
from t2i_core.finetune import look, paint, render
from t2i_core.finetune.job import train


def _lit_from_the_left(seed: int) -> np.ndarray:
    """A 40 px folder icon: a dark rim, its left half light and its right half dark (a
    light direction that the tables, by edge ring and height, cannot hold)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((40, 40, 4), np.uint8)
    a, b = int(rng.integers(6, 10)), int(rng.integers(30, 34))
    img[a:b, a:b] = (30, 30, 30, 255)
    mid = (a + b) // 2
    img[a + 1:b - 1, a + 1:mid] = (250, 210, 120, 255)
    img[a + 1:b - 1, mid:b - 1] = (120, 60, 10, 255)
    return img


def _folder() -> tuple[np.ndarray, np.ndarray, float]:
    images = np.stack([_lit_from_the_left(s) for s in range(6)])
    from t2i_core.finetune.augment import centre
    from t2i_core.models.autoencoder import to_pixels

    t = look.learn(to_pixels(centre(images)).numpy())
    return images, t["look.tables"].numpy(), float(t["look.detail"][0])


def test_the_renderer_learns_what_the_tables_cannot_hold():
    images, tables, detail = _folder()
    cfg = render.RenderConfig(steps=150, batch=16, pool=16)
    tensors = render.train(images, tables, detail, seed=0, cfg=cfg)
    net = render.load(tensors)
    x, y = render.training_pairs(images, tables, detail, np.random.default_rng(7), 4)
    with torch.no_grad():
        learned = float(render.render_loss(net(x), y))
        alone = float(render.render_loss(render.Renderer(cfg)(x), y))  # zero head: the look
    assert learned < 0.8 * alone, (learned, alone)


def test_rendering_keeps_the_dial_and_an_empty_picture_stays_empty():
    images, tables, detail = _folder()
    tensors = {"look.tables": torch.tensor(tables, dtype=torch.float32),
               "look.detail": torch.tensor([detail])}
    tensors |= {k: v.float() for k, v in render.train(
        images, tables, detail, seed=0, cfg=render.RenderConfig(steps=20, pool=4)).items()}
    glyph = np.zeros((32, 32, 4), np.uint8)
    glyph[8:24, 8:24] = (0, 0, 0, 255)
    glyph[10:22, 10:22] = 0
    assert np.array_equal(paint.apply([glyph], [1], [(tensors, 0.0)])[0], glyph)
    alphas = [paint.apply([glyph], [1], [(tensors, w)])[0][16, 16, 3] for w in (0.25, 0.5, 1.0)]
    assert alphas[0] < alphas[1] < alphas[2]  # the fill grows with the weight
    empty = np.zeros((32, 32, 4), np.uint8)
    assert paint.apply([empty], [1], [(tensors, 1.0)])[0][..., 3].max() <= 8


def test_a_trained_adapter_carries_its_renderer_in_safetensors(backend, style_folder: Path):
    train(backend, quick(style_folder, name="lit", trigger="lit style"))
    tensors = load_file(str(backend.adapter_library.path_of("lit")))
    keys = [k for k in tensors if k.startswith(render.PREFIX)]
    assert render.PREFIX + "config" in keys and len(keys) > 4
    assert render.load(tensors) is not None
    req = {"prompt": "a circle, lit style", "seed": 3, "count": 2, "width": 32, "height": 32,
           "steps": 4}
    base = backend.generate(GenerateRequest(**req)).images
    zero = backend.generate(GenerateRequest(**req, loras=[LoraRef("lit", 0.0)])).images
    one = backend.generate(GenerateRequest(**req, loras=[LoraRef("lit", 1.0)])).images
    assert all(np.array_equal(b, z) for b, z in zip(base, zero, strict=True))
    assert any(not np.array_equal(b, o) for b, o in zip(base, one, strict=True))


def test_no_renderer_steps_gives_the_tables_alone(backend, style_folder: Path):
    train(backend, quick(style_folder, name="flat", render_steps=0))
    tensors = load_file(str(backend.adapter_library.path_of("flat")))
    assert "look.tables" in tensors and not any(k.startswith(render.PREFIX) for k in tensors)


def test_without_a_lora_the_steps_train_the_renderer(backend, style_folder: Path):
    res = train(backend, quick(style_folder, name="plain", layers="none", steps=20))
    tensors = load_file(str(backend.adapter_library.path_of("plain")))
    assert not any(".lora_" in k for k in tensors)  # no LoRA in the file
    assert render.load(tensors) is not None and res.steps == 20
    # the steps moved the renderer's head off zero (where it paints the tables alone)
    assert float(tensors[render.PREFIX + "out.weight"].abs().sum()) > 0
    req = {"prompt": "a circle", "seed": 5, "count": 2, "width": 32, "height": 32, "steps": 4}
    base = backend.generate(GenerateRequest(**req)).images
    zero = backend.generate(GenerateRequest(**req, loras=[LoraRef("plain", 0.0)])).images
    one = backend.generate(GenerateRequest(**req, loras=[LoraRef("plain", 1.0)])).images
    assert all(np.array_equal(b, z) for b, z in zip(base, zero, strict=True))
    assert any(not np.array_equal(b, o) for b, o in zip(base, one, strict=True))


def test_settings_name_the_renderer_only_when_it_is_trained(tmp_path: Path):
    """Runs and adapters written before ``render_steps`` existed carry settings without it;
    the same request must still match them (resume, hand back), so it appears only when used."""
    plain = quick(tmp_path, render_steps=0).settings()
    assert "render_steps" not in plain
    rendered = quick(tmp_path, render_steps=8).settings()
    assert rendered.pop("render_steps") == 8 and rendered == plain


# -- the subject gate (session 8): a rendering is used only as far as it keeps the base
# picture's fine structure; a picture it would smear keeps the look's painting ------------

def _line_glyph() -> np.ndarray:
    """A base-model-like picture: a black outline square with a cross of inner lines."""
    g = np.zeros((32, 32, 4), np.uint8)
    g[6:26, 6:26] = (0, 0, 0, 255)
    g[8:24, 8:24] = 0
    g[15:17, 8:24] = (0, 0, 0, 255)
    g[8:24, 15:17] = (0, 0, 0, 255)
    return g


def _renderer_with_head(bias: tuple[float, float, float, float]) -> render.Renderer:
    """A renderer whose correction is a constant (premultiplied RGBA) added everywhere."""
    net = render.Renderer(render.RenderConfig())
    with torch.no_grad():
        net.out.bias.copy_(torch.tensor(bias))
    return net.eval()


def test_damage_is_zero_for_the_same_lines_and_near_one_for_a_pale_blob():
    glyph = _line_glyph()
    assert render.damage(glyph, glyph) == 0.0
    red = glyph.copy()
    red[..., 0] = np.where(red[..., 3] > 0, 200, 0)  # the same lines, recoloured red
    blob = np.zeros_like(glyph)
    blob[6:26, 6:26] = (225, 225, 225, 255)  # a pale blob: the inner lines smeared away
    assert render.damage(glyph, red) < 0.5
    assert render.damage(glyph, blob) > 0.9
    assert render.gate_share(glyph, red) == 1.0 and render.gate_share(glyph, blob) < 0.05


def test_a_rendering_that_smears_the_subject_leaves_the_looks_painting():
    glyph = _line_glyph()
    tables = np.full((4, 4, 3), 0.8)
    painted = look.stylise(glyph, tables, 0.55)
    # a renderer that paints everything white: the lines are gone, so the look's painting
    smear = _renderer_with_head((1.0, 1.0, 1.0, 1.0))
    assert not np.array_equal(render.render(smear, glyph, painted, gate=False), painted)
    assert np.array_equal(render.render(smear, glyph, painted), painted)
    # a renderer that warms the colours keeps the lines: its rendering is used as it is
    warm = _renderer_with_head((0.15, 0.0, 0.0, 0.0))
    warmed = render.render(warm, glyph, painted, gate=False)
    assert not np.array_equal(warmed, painted)
    assert np.array_equal(render.render(warm, glyph, painted), warmed)


def test_the_gate_is_a_ramp_between_the_look_and_the_rendering(monkeypatch):
    glyph = _line_glyph()
    painted = look.stylise(glyph, np.full((4, 4, 3), 0.8), 0.55)
    rendered = render.render(_renderer_with_head((1.0, 1.0, 1.0, 1.0)), glyph, painted,
                             gate=False)
    d = render.damage(glyph, rendered)
    monkeypatch.setattr(render, "GATE_DAMAGE", d)  # half way up the ramp
    half = render.keep_subject(glyph, painted, rendered)
    assert np.array_equal(half, look.blend(painted, rendered, 0.5))


def test_through_the_adapter_a_smearing_renderer_paints_as_the_look_alone():
    glyph = _line_glyph()
    images, tables, detail = _folder()
    tensors = {"look.tables": torch.tensor(tables, dtype=torch.float32),
               "look.detail": torch.tensor([detail])}
    with_smear = tensors | {k: v.float() for k, v in
                            render.export(_renderer_with_head((1.0, 1.0, 1.0, 1.0))).items()}
    for w in (0.5, 1.0):
        assert np.array_equal(paint.apply([glyph], [1], [(with_smear, w)])[0],
                              paint.apply([glyph], [1], [(tensors, w)])[0])
    assert np.array_equal(paint.apply([glyph], [1], [(with_smear, 0.0)])[0], glyph)


# -- the structure loss (session 8, optional): the rendering's fine structure held to the
# look's painting during training ------------------------------------------------------------

def _premultiplied(picture: np.ndarray) -> torch.Tensor:
    p = torch.from_numpy(picture.astype(np.float64) / 255.0)
    return torch.cat([p[..., :3] * p[..., 3:], p[..., 3:]], -1).permute(2, 0, 1)[None]


def test_the_structure_loss_is_the_gates_fine_structure_in_torch():
    glyph = _line_glyph()
    blob = np.zeros_like(glyph)
    blob[6:26, 6:26] = (225, 225, 225, 255)
    lost = float(render.structure_loss(_premultiplied(blob), _premultiplied(glyph)))
    expected = np.abs(render.fine_structure(blob) - render.fine_structure(glyph)).mean()
    assert abs(lost - expected) < 1e-3 * expected  # the same measure as the gate's damage
    assert float(render.structure_loss(_premultiplied(glyph), _premultiplied(glyph))) == 0.0


def test_the_structure_weight_makes_the_renderer_keep_the_paintings_lines():
    images, tables, detail = _folder()
    x, _ = render.training_pairs(images, tables, detail, np.random.default_rng(7), 4)
    lost = {}
    for weight in (0.0, 4.0):
        cfg = render.RenderConfig(steps=150, batch=16, pool=16, structure_weight=weight)
        net = render.load(render.train(images, tables, detail, seed=0, cfg=cfg))
        with torch.no_grad():
            lost[weight] = float(render.structure_loss(net(x), x[:, :4]))
    assert lost[4.0] < 0.8 * lost[0.0], lost
