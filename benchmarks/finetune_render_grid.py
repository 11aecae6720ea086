"""docs/finetune_render.png: the renderer before and after its subject gate (issue 16).

    .venv/bin/python benchmarks/finetune_render_grid.py RUN.json [RUN.json ...] \
        --out docs/finetune_render.png

Each RUN.json is a ``bench_finetune.py --json`` run of one folder trained with the renderer
(``--layers none``) and its ``--work`` folder holds the adapter (``--work`` given here in the
same order). For 8 test prompts (first seed) per folder it paints the run's saved base
pictures four ways with the run's own adapter: the look alone (the default: colour tables,
no renderer), the renderer as it was (``render.GATE_DAMAGE`` = infinity: every rendering
used), and the renderer now (the subject gate), and checks that "now" is exactly the
bench's weight-1 picture.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune_eval import test_prompts  # noqa: E402

PROMPTS = ["an airplane", "a bell with slash", "a desert island", "a footprints",
           "an orthodox cross", "a sports medal", "a star", "a diamond"]
HEADS = ["base", "look", "before", "now"]  # the last two: the renderer


def paint_four(run: dict, saved, work: Path) -> tuple[list[str], list[list[np.ndarray]], int]:
    """Per prompt: base, look, renderer without the gate, renderer with it; and how many
    "now" pictures differ from the bench's weight-1 pictures (should be 0)."""
    from safetensors.torch import load_file

    from t2i_core.backends.builtin import BuiltinBackend
    from t2i_core.colour_words import honour_colours, without_colours
    from t2i_core.finetune import paint, render
    from t2i_core.prompt import prepare

    name, trigger = run["folders"][0]["folder"], run["folders"][0]["trigger"]
    adapter = next(work.glob(f"adapters-*/{name}.safetensors"))
    tensors = {k: v for k, v in load_file(str(adapter)).items() if k.startswith("look.")}
    look_only = {k: v for k, v in tensors.items() if not k.startswith(render.PREFIX)}
    base, weight1 = saved[f"{name}__base"], saved[f"{name}__weight1"]
    prompts = test_prompts(run["prompts"])
    seeds = run["seeds"]
    enc = BuiltinBackend().model.encoder
    rows, mismatches = [], 0
    gate = render.GATE_DAMAGE
    for p in PROMPTS:
        i = prompts.index(p)
        text = f"{p}, {trigger}"
        emb = enc.encode_weighted([prepare(without_colours(text), "").positive]).embeddings[0]
        pics = list(base[i * seeds:(i + 1) * seeds])
        ids = [1000 + 10 * i + s for s in range(seeds)]

        def painted(t: dict, pics=pics, ids=ids, emb=emb, text=text) -> list[np.ndarray]:
            return honour_colours(paint.apply(pics, ids, [(t, 1.0)], prompt=emb), text, "")

        render.GATE_DAMAGE = float("inf")
        was = painted(tensors)
        render.GATE_DAMAGE = gate
        now = painted(tensors)
        mismatches += sum(not np.array_equal(a, b) for a, b in
                          zip(now, weight1[i * seeds:(i + 1) * seeds], strict=True))
        rows.append([pics[0], painted(look_only)[0], was[0], now[0]])
    return [name] * len(rows), rows, mismatches


def draw(path: Path, blocks: list[tuple[str, list[list[np.ndarray]]]], cell: int = 40) -> None:
    from PIL import Image, ImageDraw

    label, gap = 110, 16
    bw = len(HEADS) * (cell + 2) + gap
    img = Image.new("RGB", (label + bw * len(blocks), 30 + len(PROMPTS) * (cell + 2)), "white")
    d = ImageDraw.Draw(img)

    def tile(rgba: np.ndarray) -> Image.Image:
        t = Image.new("RGBA", (cell, cell), (235, 235, 235, 255))
        t.alpha_composite(Image.fromarray(rgba).resize((cell, cell), Image.NEAREST))
        return t.convert("RGB")

    for bi, (name, rows) in enumerate(blocks):
        x0 = label + bi * bw
        d.text((x0, 2), name, fill="black")
        d.text((x0 + 2 * (cell + 2), 2), "the renderer:", fill="black")
        for c, h in enumerate(HEADS):
            d.text((x0 + c * (cell + 2), 16), h, fill="black")
        for r, row in enumerate(rows):
            y = 30 + r * (cell + 2)
            if bi == 0:
                d.text((4, y + cell // 2 - 6), PROMPTS[r], fill="black")
            for c, pic in enumerate(row):
                img.paste(tile(pic), (x0 + c * (cell + 2), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="bench_finetune.py --json files")
    ap.add_argument("--work", type=Path, nargs="+", required=True,
                    help="their --work folders, in the same order")
    ap.add_argument("--out", type=Path, default=Path("docs/finetune_render.png"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    blocks = []
    for run_path, work in zip(args.runs, args.work, strict=True):
        run = json.loads(run_path.read_text())
        names, rows, bad = paint_four(run, np.load(run_path.with_suffix(".npz")), work)
        print(f"{names[0]}: 'now' differs from the bench's weight-1 picture in {bad} of "
              f"{len(rows) * run['seeds']}", flush=True)
        blocks.append((names[0], rows))
    draw(args.out, blocks)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
