"""Picture: real test icons as they are and recoloured, with two evaluators' ranks.

    git show 7f47458:t2i_core/weights/eval_encoder.safetensors > /tmp/eval_397.safetensors
    python benchmarks/eval_recoloured_grid.py --data data \
        --encoders /tmp/eval_397.safetensors t2i_core/weights/eval_encoder.safetensors \
        --labels "397 steps / adopted" --out docs/eval_recoloured.png

Every 17th R-precision test prompt's first real test-split icon, as it is, recoloured by
``honour_colours`` with the colour word ``bench_colour.py`` gives that prompt, by a palette
swap and by a duotone (t2i_core/eval/recolour.py); next to each, the rank of its own prompt
among its 100 candidates (as ``t2i eval``) to the first / the second evaluator. An
evaluator that judges the subject keeps the rank when only the colour changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

import bench_colour as bc  # noqa: E402

from t2i_core.colour_words import honour_colours  # noqa: E402
from t2i_core.data.meta import load_meta  # noqa: E402
from t2i_core.eval.clip_encoder import EvalEncoder  # noqa: E402
from t2i_core.eval.metrics import candidate_sets  # noqa: E402
from t2i_core.eval.recolour import duotone, palette_swap  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / "data")
    ap.add_argument("--encoders", type=Path, nargs=2, required=True)
    ap.add_argument("--labels", default="first / second")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "eval_recoloured.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = bc.load_prompts()
    prompts = [p for p, _ in rows]
    images = np.load(args.data / "images32.npy", mmap_mode="r")
    first: dict[str, int] = {}
    for i, m in enumerate(load_meta(args.data)):
        if m["split"] == "test":
            first.setdefault(m["concept"], i)
    pick = [p for p in range(0, len(rows), 17) if rows[p][1] in first][:16]
    real = np.stack([images[first[rows[p][1]]] for p in pick])
    names = [bc.COLOURS[p % len(bc.COLOURS)] for p in pick]
    recoloured = np.stack([honour_colours([im], bc.coloured(prompts[p], n))[0]
                           for im, p, n in zip(real, pick, names, strict=True)])
    rng = np.random.default_rng(0)
    swapped = np.stack([palette_swap(im, rng) for im in real])
    duo = np.stack([duotone(im, rng) for im in real])
    columns = {"as it is": real, "colour word": recoloured, "palette swap": swapped,
               "duotone": duo}
    sets = candidate_sets(len(prompts), min(100, len(prompts)))
    ranks: dict[tuple[int, int], list[int]] = {}
    for e, path in enumerate(args.encoders):
        enc = EvalEncoder(path)
        text = enc.texts(prompts)
        for c, x in enumerate(columns.values()):
            sims = enc.images(x) @ text.T
            ranks[e, c] = [int((sims[r, torch.from_numpy(sets[p])] > sims[r, p]).sum()) + 1
                           for r, p in enumerate(pick)]
    cell, label_w = 64, 250
    step, head = cell + 70, 34
    img = Image.new("RGB", (label_w + len(columns) * step, head + len(pick) * (cell + 6)),
                    "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), f"rank of its prompt among 100: {args.labels}", fill="black")
    for c, name in enumerate(columns):
        draw.text((label_w + c * step, 18), name, fill="black")
    for r, p in enumerate(pick):
        y = head + r * (cell + 6)
        draw.text((4, y + 20), prompts[p][:38], fill="black")
        draw.text((4, y + 34), f"recoloured: {names[r]}", fill="gray")
        for c, x in enumerate(columns.values()):
            tile = Image.new("RGBA", (32, 32), (235, 235, 235, 255))
            tile.alpha_composite(Image.fromarray(np.array(x[r])))
            left = label_w + c * step
            img.paste(tile.convert("RGB").resize((cell, cell), Image.NEAREST), (left, y))
            draw.text((left + cell + 6, y + 26), f"{ranks[0, c][r]} / {ranks[1, c][r]}",
                      fill="black")
    img.save(args.out)
    print({f"{args.labels.split(' / ')[e]} {list(columns)[c]} rank 1":
           round(float(np.mean(np.array(v) == 1)), 4) for (e, c), v in ranks.items()})


if __name__ == "__main__":
    main()
