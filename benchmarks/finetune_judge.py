"""How well does the evaluation encoder recognise colour pictures? (issue 16's R-precision bar)

    PYTHONPATH=$PWD python benchmarks/finetune_judge.py [--data /work/data] [--folders DIR]

The bar asks R-precision at adapter weight 1 >= 0.8 x the base model's. The base model draws
most test prompts as black line icons; a folder of colour icons asks for colour. This measures
the judge itself on *real* pictures, no generator involved: every concept of the data set's
held-out splits (test + val, which the evaluation encoder never trained on) that exists both
as a line icon and as a colour picture; R-precision among 100 candidate concepts ("a <concept>"),
for the line icons, for the colour pictures of the same concepts, and for the line icons
painted with each benchmark folder's look (t2i_core/finetune/look.py) when ``--folders``
holds the folders bench_finetune.py built (``<work>/folders``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune_eval import folder_at_32, load_encoder  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/data"))
    ap.add_argument("--folders", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    from t2i_core.eval.metrics import candidate_sets, r_precision
    from t2i_core.finetune import look, paint

    meta = [json.loads(line) for line in (args.data / "meta.jsonl").open()]
    images = np.load(args.data / "images32.npy", mmap_mode="r")
    first: dict[str, dict[str, int]] = {}
    for i, m in enumerate(meta):
        if m["split"] in ("test", "val"):
            first.setdefault(m["concept"], {}).setdefault(m["style"], i)
    concepts = sorted(c for c, kinds in first.items() if {"icon", "color"} <= kinds.keys())
    enc = load_encoder()
    text = enc.texts([f"a {c}" for c in concepts])
    sets = candidate_sets(len(concepts), candidates=min(100, len(concepts)), seed=0)
    owner = np.arange(len(concepts))

    def rp(x: np.ndarray) -> float:
        return round(r_precision(enc.images(x), owner, text, sets), 4)

    icons = np.stack([images[first[c]["icon"]] for c in concepts])
    out = {"concepts": len(concepts), "line icon": rp(icons),
           "colour picture, same concepts": rp(np.stack([images[first[c]["color"]]
                                                         for c in concepts]))}
    for folder in sorted(args.folders.iterdir()) if args.folders else []:
        tables = look.learn(folder_at_32(folder))
        painted = paint.apply(list(icons), [1000 + i for i in range(len(icons))],
                             [(tables, 1.0)])
        out[f"line icon + {folder.name} look"] = rp(np.stack(painted))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
