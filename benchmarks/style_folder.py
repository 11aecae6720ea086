"""A reproducible 20-image style folder that is nothing like the icon/emoji training data.

"Riso tiles": opaque cream paper with a faint diagonal hatch (the training icons all sit on
transparency), a subject printed twice slightly out of register (a teal layer and a
fluorescent-pink halftone layer, as a risograph prints), and a thick navy outline. Ten
subjects x two variations, drawn with PIL from a fixed seed; mixed PNG / JPEG / WebP, sizes
from 96 to 160 px, a few with .txt captions, the rest captioned by file name. No third-party
image is involved.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PAPER = (242, 232, 207)
TEAL = (0, 160, 160)
PINK = (255, 72, 176)
NAVY = (29, 31, 94)
SUBJECTS = ["star", "circle", "house", "tree", "fish", "moon", "flower", "heart", "cup", "bird"]
CAPTIONED = {"tree": "a tall tree with round crown", "cup": "a coffee cup"}


def _shape(d: ImageDraw.ImageDraw, subject: str, cx: float, cy: float, r: float, **kw) -> None:
    if subject == "star":
        pts = [(cx + (r if i % 2 == 0 else r * 0.45) * math.cos(math.pi / 5 * i - math.pi / 2),
                cy + (r if i % 2 == 0 else r * 0.45) * math.sin(math.pi / 5 * i - math.pi / 2))
               for i in range(10)]
        d.polygon(pts, **kw)
    elif subject == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), **kw)
    elif subject == "house":
        d.polygon([(cx - r, cy), (cx, cy - r), (cx + r, cy), (cx + r * 0.8, cy),
                   (cx + r * 0.8, cy + r), (cx - r * 0.8, cy + r), (cx - r * 0.8, cy)], **kw)
    elif subject == "tree":
        d.ellipse((cx - r * 0.8, cy - r, cx + r * 0.8, cy + r * 0.3), **kw)
        d.rectangle((cx - r * 0.15, cy + r * 0.2, cx + r * 0.15, cy + r), **kw)
    elif subject == "fish":
        d.ellipse((cx - r, cy - r * 0.55, cx + r * 0.5, cy + r * 0.55), **kw)
        d.polygon([(cx + r * 0.4, cy), (cx + r, cy - r * 0.5), (cx + r, cy + r * 0.5)], **kw)
    elif subject == "moon":
        d.pieslice((cx - r, cy - r, cx + r, cy + r), 60, 300, **kw)
    elif subject == "flower":
        for k in range(6):
            a = k * math.pi / 3
            px, py = cx + r * 0.55 * math.cos(a), cy + r * 0.55 * math.sin(a)
            d.ellipse((px - r * 0.4, py - r * 0.4, px + r * 0.4, py + r * 0.4), **kw)
    elif subject == "heart":
        d.ellipse((cx - r, cy - r * 0.7, cx, cy + r * 0.2), **kw)
        d.ellipse((cx, cy - r * 0.7, cx + r, cy + r * 0.2), **kw)
        d.polygon([(cx - r * 0.97, cy - r * 0.1), (cx + r * 0.97, cy - r * 0.1), (cx, cy + r)],
                  **kw)
    elif subject == "cup":
        d.rectangle((cx - r * 0.7, cy - r * 0.6, cx + r * 0.4, cy + r * 0.8), **kw)
        d.ellipse((cx + r * 0.2, cy - r * 0.3, cx + r, cy + r * 0.4), **kw)
    elif subject == "bird":
        d.ellipse((cx - r * 0.8, cy - r * 0.4, cx + r * 0.5, cy + r * 0.6), **kw)
        d.ellipse((cx + r * 0.1, cy - r * 0.8, cx + r * 0.8, cy - r * 0.1), **kw)
        d.polygon([(cx + r * 0.75, cy - r * 0.55), (cx + r, cy - r * 0.4),
                   (cx + r * 0.75, cy - r * 0.3)], **kw)


def riso_tile(subject: str, rng: np.random.Generator, size: int) -> Image.Image:
    s = 4 * size  # drawn large, then shrunk: smooth edges
    im = Image.new("RGB", (s, s), PAPER)
    d = ImageDraw.Draw(im)
    for x in range(-s, s, s // 12):  # faint diagonal hatch: paper texture
        d.line([(x, 0), (x + s, s)], fill=(228, 214, 184), width=max(1, s // 60))
    cx, cy = s / 2 + rng.uniform(-0.06, 0.06) * s, s / 2 + rng.uniform(-0.06, 0.06) * s
    r = s * rng.uniform(0.30, 0.36)
    off = s * 0.035
    _shape(d, subject, cx - off, cy + off, r, fill=TEAL)
    mask = Image.new("L", (s, s), 0)
    _shape(ImageDraw.Draw(mask), subject, cx + off, cy - off, r, fill=255)
    dots = Image.new("L", (s, s), 0)
    dd = ImageDraw.Draw(dots)
    step = s // 16
    for y in range(0, s, step):
        for x in range((y // step % 2) * step // 2, s, step):
            dd.ellipse((x - step * 0.38, y - step * 0.38, x + step * 0.38, y + step * 0.38),
                       fill=255)
    pink = Image.new("RGB", (s, s), PINK)
    im = Image.composite(pink, im, Image.fromarray(np.minimum(np.asarray(mask),
                                                              np.asarray(dots))))
    _shape(ImageDraw.Draw(im), subject, cx, cy, r, outline=NAVY, width=max(2, s // 22))
    return im.resize((size, size), Image.LANCZOS)


def build_style_folder(out: Path, seed: int = 0) -> Path:
    """Write the 20-image folder to ``out`` (created; existing files are kept)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    exts = [".png", ".jpg", ".webp"]
    for i, subject in enumerate(SUBJECTS):
        for v in range(2):
            size = int(rng.choice([96, 128, 160]))
            im = riso_tile(subject, rng, size)
            ext = exts[(2 * i + v) % 3]
            path = out / f"riso_{subject}_{v + 1}{ext}"
            im.save(path, quality=95) if ext != ".png" else im.save(path)
            if subject in CAPTIONED:
                path.with_suffix(".txt").write_text(CAPTIONED[subject] + "\n")
    return out


if __name__ == "__main__":
    import sys

    print(build_style_folder(Path(sys.argv[1] if len(sys.argv) > 1 else "riso")))
