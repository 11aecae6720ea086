"""docs/floorplans.png: prompts and the plans t2i plan makes of them (first variant each).

    python scripts/plan_figure.py [--out docs/floorplans.png]

Renders each plan's layered SVG with resvg (the `data` extra) and puts the prompt above it.
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROMPTS = [
    "a two-bedroom apartment with an open kitchen, 70 m², living room facing south",
    "studio apartment, 30 m2, balcony facing west",
    "3-bedroom house with a master en-suite, a study and a garage, 140 m²",
    "1BHK 50 m2, bathroom next to the bedroom, entrance from the east",
    "house 12 x 9 m with three bedrooms and a utility off the kitchen",
    "two bedroom apartment where the bedrooms are away from the kitchen, 75 m2",
    "4BHK of 130 m² with two balconies",
    "flat 55 m2: 1 bedroom, bathroom off the hallway, kitchen, living",
]


def main() -> None:
    import resvg_py
    from PIL import Image, ImageDraw, ImageFont

    from t2i_core.plan.api import plan_from_text

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "floorplans.png")
    args = ap.parse_args()
    cell_w, cell_h, head = 620, 560, 64
    cols = 2
    rows = (len(PROMPTS) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell_w, rows * (cell_h + head)), "white")
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 17)
    except OSError:
        font = ImageFont.load_default()
    for i, prompt in enumerate(PROMPTS):
        result = plan_from_text(prompt, variants=1)
        v = result.variants[0]
        png = bytes(resvg_py.svg_to_bytes(svg_string=v.svg, width=cell_w - 20))
        im = Image.open(io.BytesIO(png)).convert("RGB")
        im.thumbnail((cell_w - 20, cell_h - 10))
        x, y = (i % cols) * cell_w, (i // cols) * (cell_h + head)
        text = "\n".join(textwrap.wrap(f"“{prompt}”", 58))
        draw.multiline_text((x + 12, y + 8), text, fill=(20, 20, 20), font=font, spacing=3)
        sheet.paste(im, (x + 10 + (cell_w - 20 - im.width) // 2, y + head))
        m = v.metrics
        print(f"{prompt!r}: {v.layout.width:g} x {v.layout.depth:g} m, "
              f"{len(v.layout.rooms)} rooms, median area error "
              f"{100 * m.median_area_error:.0f} %, violations {m.violations}")
    sheet.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
