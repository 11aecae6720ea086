"""Helpers for the fine-tuning tests: a small drawn style folder, quick train requests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def draw_tile(shape: str, seed: int, size: int = 48) -> Image.Image:
    """An opaque cream tile with a teal shape and a navy outline (a tiny 'style')."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), (242, 232, 207))
    d = ImageDraw.Draw(im)
    o = int(rng.integers(6, 12))
    box = (o, o, size - o, size - o)
    if shape == "circle":
        d.ellipse(box, fill=(0, 160, 160), outline=(29, 31, 94), width=3)
    else:
        d.rectangle(box, fill=(0, 160, 160), outline=(29, 31, 94), width=3)
    return im


def make_folder(root: Path, n: int = 6) -> Path:
    """``n`` images in mixed formats and sizes, a caption file, and some non-image clutter."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        shape = "circle" if i % 2 else "square"
        im = draw_tile(shape, i, size=40 + 8 * i)
        ext = (".png", ".jpg", ".webp")[i % 3]
        im.save(root / f"teal_{shape}_{i}{ext}")
    (root / "teal_square_0.txt").write_text("a teal square on paper\n")
    rgba = Image.new("RGBA", (64, 40), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).ellipse((10, 5, 50, 35), fill=(200, 30, 30, 255))
    rgba.save(root / "RedBlob.png")  # transparent, not square: RGBA kept, centre-cropped
    (root / "notes.md").write_text("not an image")
    (root / "empty.png").write_bytes(b"")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "sub").mkdir()
    (root / "sub" / "inner.png").write_bytes((root / "RedBlob.png").read_bytes())
    return root


def quick(folder: Path, name: str = "teal", **kw):
    from t2i_core.finetune.request import TrainRequest

    # a few renderer steps: the path runs, the tests stay quick
    args = {"steps": 12, "batch": 4, "checkpoint_every": 5, "sample_every": 0,
            "render_steps": 8, **kw}
    return TrainRequest(folder=str(folder), name=name, **args)
