"""A folder's rendering learned as a tiny "glyph to picture" network (issue 16, the look's
second half).

``look.py`` paints a folder's palette on the base model's shape: 16 colours by edge ring and
height. What it cannot paint is the theme's *rendering*: Tango's soft shading and highlights,
Oxygen's gloss, Papirus's flat plates. This module learns that from the folder itself:

- **training pairs** (at training time, from the folder's images at ``STORE`` px): each folder
  image is turned into what the base model draws, a black glyph (its silhouette's outline and
  its dark inner marks; or the silhouette filled with the light marks cut out), randomly
  cropped, flipped, with 1 or 2 px strokes, softened or not (``glyph_of``). The input is that
  glyph plus what ``look.stylise`` paints on it with the image's own colour table and the
  glyph's shape features (edge distance, height in the shape); the target is the folder image.
- **the network** (``Renderer``): a few 3 x 3 convolutions (dilated, receptive field 17 px of
  32) that turn the painted glyph into a correction of its colours and coverage, in
  premultiplied RGBA. It sees pixels near a pixel and where that pixel lies in the shape,
  never the whole picture, and it has a few ten thousand weights for a 20-image folder, so
  it can learn how a theme shades a rim or lights a top but not where a folder image's parts
  are; copies are measured in the bench all the same.
- **apply** (generation, ``paint.apply``): the base model's picture is painted with the
  chosen table (``look.stylise``), the renderer corrects it, and the result is mixed with
  the base picture by the weight, exactly as the look alone is (0 = the base pixels).
- **the subject gate** (``keep_subject``): the renderer smooths a glyph's inner lines into
  shading, which is its style and, on a detailed or thin subject, the end of the subject.
  So a rendering is used only as far as it keeps the base picture's fine structure (the
  high-pass of its lightness, ``damage``); a picture it would smear keeps the look's
  painting (docs/finetune.md, "Session 8").
- **the structure loss** (``RenderConfig.structure_weight``, off by default): the same fine
  structure as a training loss against the look's painting. Measured over training seeds it
  helped Papirus and cost Tango's subject, so it is an option (docs/finetune.md, "Session 8
  (end)").

The weights are stored in the adapter as ``look.render.*`` (float16) with the architecture in
``look.render.config`` (channels, layers); older adapters without them paint the look alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from t2i_core.finetune import look

PREFIX = "look.render."
# the subject gate: a rendering that loses more than GATE_DAMAGE of the base picture's fine
# structure (sum |high-pass lightness change| / sum |high-pass lightness|) is not used; a
# ramp GATE_SOFT wide around it mixes the rendering and the look's painting. Tuned on the
# validation prompts for the three bench folders (docs/finetune.md, "Session 8")
GATE_DAMAGE = 0.9
GATE_SOFT = 0.1
GATE_SIGMA = 1.0  # px: the fine structure is what a Gaussian of this width blurs away
IN_CHANNELS = 7  # painted premultiplied RGBA, glyph coverage, edge distance, height


@dataclass
class RenderConfig:
    channels: int = 24
    dilations: tuple[int, ...] = (1, 2, 4, 1)
    steps: int = 600
    batch: int = 16
    learning_rate: float = 3e-3
    pool: int = 48  # augmented pairs per folder image, made once before training
    # weight of the fine-structure loss (``structure_loss``): the rendering's lines and
    # cut-outs held to the look's painting of the same glyph, so that the net learns the
    # theme's shading without smoothing the subject's lines away (0 = off)
    structure_weight: float = 0.0


class Renderer(nn.Module):
    """Painted glyph features (B, 7, H, W) -> premultiplied RGBA in [0, 1] (B, 4, H, W):
    the painted picture plus a learned correction."""

    def __init__(self, cfg: RenderConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.channels, self.dilations = c, tuple(cfg.dilations)
        self.inp = nn.Conv2d(IN_CHANNELS, c, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(c, c, 3, padding=d, dilation=d)
                                  for d in cfg.dilations)
        self.out = nn.Conv2d(c, 4, 1)
        nn.init.zeros_(self.out.weight)  # starts as the look alone
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.inp(x))
        for conv in self.body:
            h = h + F.gelu(conv(h))
        out = x[:, :4] + self.out(h)
        a = out[:, 3:].clamp(0, 1)
        return torch.cat([torch.minimum(out[:, :3].clamp(min=0), a), a], dim=1)


def features(glyph: np.ndarray, painted: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 glyph and its look painting -> (7, H, W) float32 network input."""
    from scipy import ndimage

    p = painted.astype(np.float32) / 255.0
    a = p[..., 3:]
    shape = p[..., 3] >= 0.5
    dist = ndimage.distance_transform_edt(np.pad(shape, 1))[1:-1, 1:-1]
    rows = np.nonzero(shape.any(axis=1))[0]
    top, bottom = (rows[0], rows[-1]) if len(rows) else (0, shape.shape[0] - 1)
    y = (np.arange(shape.shape[0]) - top) / max(1, bottom - top + 1)
    height = np.where(shape, np.clip(y, 0, 1)[:, None], 0.0)
    return np.concatenate([
        np.moveaxis(np.concatenate([p[..., :3] * a, a], axis=-1), -1, 0),
        glyph[None, ..., 3].astype(np.float32) / 255.0,
        np.minimum(dist, 8.0)[None] / 8.0,
        height[None]], axis=0).astype(np.float32)


def glyph_of(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A folder image (H, W, 4 uint8) drawn the way the base model draws: black strokes on
    transparency (the silhouette's outline + the image's dark inner marks), or, one time in
    three, the silhouette filled black with its light marks cut out."""
    from scipy import ndimage

    rgb = image[..., :3].astype(np.float64) / 255.0
    shape = image[..., 3] >= 128
    if shape.sum() < 8:
        return np.zeros_like(image)
    width = int(rng.integers(1, 3))
    inner = ndimage.binary_erosion(shape, iterations=width)
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    smooth = ndimage.uniform_filter(np.where(shape, lum, 1.0), 5)
    marks = inner & (lum < smooth - rng.uniform(0.08, 0.2))
    if rng.random() < 1 / 3:
        light = inner & (lum > smooth + 0.12)
        drawn = shape & ~ndimage.binary_dilation(marks | light)
    else:
        drawn = (shape & ~inner) | marks
    alpha = drawn.astype(np.float64)
    if rng.random() < 0.5:  # the decoder's soft edges
        alpha = np.maximum(alpha, 0.5 * ndimage.uniform_filter(alpha, 3))
    out = np.zeros_like(image)
    out[..., 3] = (alpha * 255 + 0.5).astype(np.uint8)
    return out


def _crop(image: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A random 85-100 % square of a folder image at ``size`` px, flipped half the time
    (premultiplied resampling)."""
    from PIL import Image

    s = image.shape[0]
    side = max(size // 2, int(s * rng.uniform(0.85, 1.0)))
    top, left = (int(rng.integers(0, s - side + 1)) for _ in range(2))
    crop = image[top:top + side, left:left + side].astype(np.float32)
    pre = np.concatenate([crop[..., :3] * crop[..., 3:] / 255.0, crop[..., 3:]], axis=-1)
    chans = [np.asarray(Image.fromarray(pre[..., i]).resize((size, size), Image.BOX))
             for i in range(4)]
    pre = np.stack(chans, axis=-1)
    a = pre[..., 3:]
    rgb = np.where(a > 0, pre[..., :3] * 255.0 / np.maximum(a, 1e-6), 0.0)
    out = np.clip(np.concatenate([rgb, a], axis=-1) + 0.5, 0, 255).astype(np.uint8)
    return out[:, ::-1].copy() if rng.random() < 0.5 else out


def training_pairs(images: np.ndarray, tables: np.ndarray, detail: float,
                   rng: np.random.Generator, per_image: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N * per_image, 7, 32, 32) inputs and (N * per_image, 4, 32, 32) premultiplied
    targets from the folder's images (N, S, S, 4) and their look tables (N, 4, 4, 3)."""
    xs, ys = [], []
    for img, table in zip(images, tables, strict=True):
        for _ in range(per_image):
            target = _crop(img, rng)
            glyph = glyph_of(target, rng)
            painted = look.stylise(glyph, table, detail)
            xs.append(features(glyph, painted))
            t = target.astype(np.float32) / 255.0
            ys.append(np.moveaxis(np.concatenate([t[..., :3] * t[..., 3:], t[..., 3:]], -1),
                                  -1, 0))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def train(images: np.ndarray, tables: np.ndarray, detail: float, seed: int,
          cfg: RenderConfig | None = None) -> dict[str, torch.Tensor]:
    """Learn a folder's renderer; returns the adapter's ``look.render.*`` tensors. Folder
    images whose table was left out by ``look.learn`` (too little drawn) must be left out of
    ``images`` too (row for row)."""
    cfg = cfg or RenderConfig()
    rng = np.random.default_rng([seed, 0x5E4D])
    x, y = training_pairs(images, tables, detail, rng, cfg.pool)
    torch.manual_seed(seed)
    net = Renderer(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.learning_rate, total_steps=cfg.steps,
                                                pct_start=0.1)
    for _ in range(cfg.steps):
        idx = torch.from_numpy(rng.integers(0, len(x), cfg.batch))
        pred = net(x[idx])
        loss = render_loss(pred, y[idx])
        if cfg.structure_weight:
            loss = loss + cfg.structure_weight * structure_loss(pred, x[idx][:, :4])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return export(net)


def export(net: Renderer) -> dict[str, torch.Tensor]:
    """The adapter's ``look.render.*`` tensors: float16 weights + the architecture."""
    out = {PREFIX + k: v.detach().half().contiguous() for k, v in net.state_dict().items()}
    out[PREFIX + "config"] = torch.tensor([net.channels, *net.dilations], dtype=torch.int32)
    return out


def render_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 over white (what a person sees) + L1 of coverage."""
    def on_white(p: torch.Tensor) -> torch.Tensor:
        return p[:, :3] + (1 - p[:, 3:])

    return (on_white(pred) - on_white(target)).abs().mean() + \
        (pred[:, 3] - target[:, 3]).abs().mean()


def _fine_structure_t(pre: torch.Tensor) -> torch.Tensor:
    """``fine_structure`` in torch, for premultiplied RGBA (B, 4, H, W) -> (B, 1, H, W)."""
    taps = torch.arange(-3, 4, dtype=pre.dtype)
    k1 = torch.exp(-taps ** 2 / (2 * GATE_SIGMA ** 2))
    k1 = k1 / k1.sum()
    kernel = (k1[:, None] * k1[None, :])[None, None]
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=pre.dtype)[None, :, None, None]
    light = ((pre[:, :3] + 1 - pre[:, 3:]) * luma).sum(1, keepdim=True)
    return light - F.conv2d(F.pad(light, (3, 3, 3, 3), mode="replicate"), kernel)


def structure_loss(pred: torch.Tensor, painted: torch.Tensor) -> torch.Tensor:
    """Mean |high-pass lightness| difference between the rendering and the look's painting
    (both premultiplied RGBA): the gate's ``damage``, as a loss."""
    return (_fine_structure_t(pred) - _fine_structure_t(painted)).abs().mean()


def load(tensors: dict[str, torch.Tensor]) -> Renderer | None:
    """The renderer in an adapter's ``look.*`` tensors, or None if it has none."""
    cfg_t = tensors.get(PREFIX + "config")
    if cfg_t is None:
        return None
    spec = [int(v) for v in cfg_t.tolist()]
    net = Renderer(RenderConfig(channels=spec[0], dilations=tuple(spec[1:])))
    state = {k[len(PREFIX):]: v.float() for k, v in tensors.items()
             if k.startswith(PREFIX) and k != PREFIX + "config"}
    net.load_state_dict(state)
    return net.eval()


@torch.no_grad()
def render(net: Renderer, glyph: np.ndarray, painted: np.ndarray, gate: bool = True
           ) -> np.ndarray:
    """The base model's picture (H, W, 4 uint8) and its look painting -> the rendered
    picture (uint8 straight alpha); ``gate``: as far as it keeps the subject
    (``keep_subject``)."""
    pre = net(torch.from_numpy(features(glyph, painted))[None])[0].numpy()
    a = pre[3:]
    rgb = np.where(a > 1e-3, pre[:3] / np.maximum(a, 1e-3), 0.0)
    out = np.concatenate([np.clip(rgb, 0, 1), a], axis=0)
    rendered = (np.moveaxis(out, 0, -1) * 255.0 + 0.5).astype(np.uint8)
    return keep_subject(glyph, painted, rendered) if gate else rendered


def fine_structure(picture: np.ndarray) -> np.ndarray:
    """(H, W) high-pass of a picture's lightness over white: its lines and cut-outs, what
    ``GATE_SIGMA`` px of blur takes away (``_fine_structure_t``, the one definition)."""
    p = torch.from_numpy(picture.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
    pre = torch.cat([p[:, :3] * p[:, 3:], p[:, 3:]], dim=1)  # premultiplied RGBA
    return _fine_structure_t(pre)[0, 0].numpy()


def damage(base: np.ndarray, rendered: np.ndarray) -> float:
    """How much of the base picture's fine structure a rendering loses or changes: 0 = all
    kept, 1 = as much changed as there was (a smooth blob from a line drawing: about 1)."""
    fb = fine_structure(base)
    return float(np.abs(fb - fine_structure(rendered)).sum() / max(np.abs(fb).sum(), 1e-6))


def gate_share(base: np.ndarray, rendered: np.ndarray) -> float:
    """The share of the rendering a picture gets: 1 up to ``GATE_DAMAGE`` - half the ramp,
    0 from ``GATE_DAMAGE`` + half the ramp."""
    return float(np.clip((GATE_DAMAGE + GATE_SOFT / 2 - damage(base, rendered)) / GATE_SOFT,
                         0.0, 1.0))


def keep_subject(base: np.ndarray, painted: np.ndarray, rendered: np.ndarray) -> np.ndarray:
    """The rendering where it keeps the base picture's fine structure, the look's painting
    where it would smear it (premultiplied mix by ``gate_share``)."""
    share = gate_share(base, rendered)
    if share >= 1.0:
        return rendered
    return look.blend(painted, rendered, share) if share > 0 else painted
