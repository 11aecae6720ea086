"""Is the evaluation encoder a fair judge of the subject? Several encoders, one run.

    python benchmarks/bench_eval_encoder.py --data data \
        --encoder t2i_core/weights/eval_encoder.safetensors --encoder other.safetensors \
        [--generated gen.npy] [--out docs/eval_encoder_checks.json]

On the model card's R-precision ceiling set (272 test prompts, up to 4 real test-split icons
each, 437 icons; R=1 among 100 candidates, exactly as ``t2i eval``), for every encoder:

1. validity: real, unseen icons as they are, and recoloured three ways: by ``honour_colours``
   with the 12 colour words of bench_colour.py in turn (what the colour-word step does to a
   drawing, close to the training jitter), by a *palette swap* and by a *duotone*
   (t2i_core/eval/recolour.py: recolourings unlike the training jitter), and as silhouettes.
   A judge of the subject keeps the score (the difference's 95 % interval: paired bootstrap
   over prompts, 2,000 resamples). The palette swap is also read on the colour icons alone;
2. colour discrimination: for a real icon recoloured to a named colour, is "a red X" ranked
   above "a blue X" (every rival colour at least 90 degrees of hue away; chance 0.5)? And
   for real test/validation icons whose caption names a colour ("green heart emoji"), is the
   caption ranked above the same caption with a rival colour? An encoder trained to ignore
   colour may not: a known limit, reported, not a bar;
3. generated / ceiling: the ``t2i eval`` images of the shipped built-in model (272 x 4, 20
   steps, CFG 3, the same seeds), made once (or read from ``--generated``) and scored by
   every encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))
os.environ.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TRANSFORMERS_VERBOSITY": "error"})

import bench_colour as bc  # noqa: E402
import torch  # noqa: E402

from t2i_core.colour_words import NOUN_TOO, find_colours, honour_colours  # noqa: E402
from t2i_core.data.meta import load_meta  # noqa: E402
from t2i_core.eval.clip_encoder import EvalEncoder  # noqa: E402
from t2i_core.eval.evaluate import generate_for_prompts, load_prompts  # noqa: E402
from t2i_core.eval.metrics import candidate_sets  # noqa: E402
from t2i_core.eval.recolour import SWATCHES, duotone, main_colours, palette_swap, rivals  # noqa: E402

NAMED = ["red", "orange", "yellow", "green", "teal", "sky blue", "blue", "navy", "purple",
         "pink"]  # chromatic words both the parser and the swatch list know


def hits(emb: torch.Tensor, owner: np.ndarray, text: torch.Tensor, sets: np.ndarray
         ) -> np.ndarray:
    """1 where an image's own prompt scores highest among its candidates (R=1), else 0."""
    sims = emb @ text.T
    return np.array([int(torch.argmax(sims[r, torch.from_numpy(sets[p])]).item() == 0)
                     for r, p in enumerate(owner)])


def interval(a: np.ndarray, b: np.ndarray, group: np.ndarray, n: int = 2000) -> list[float]:
    """95 % interval of mean(b) - mean(a) (b alone when a is None), resampling groups."""
    rng, ids = np.random.default_rng(0), np.unique(group)
    rows = [np.flatnonzero(group == g) for g in ids]
    out = []
    for _ in range(n):
        r = np.concatenate([rows[i] for i in rng.integers(0, len(ids), len(ids))])
        out.append(b[r].mean() - (a[r].mean() if a is not None else 0.0))
    return [round(float(np.percentile(out, 2.5)), 4), round(float(np.percentile(out, 97.5)), 4)]


def captions_naming_a_colour(data: Path) -> list[tuple[np.ndarray, str, str]]:
    """(image, caption, colour word) of test/validation icons whose caption names one
    colour the swatch list knows, not a word that is also a thing ("rose", "peach")."""
    images = np.load(data / "images32.npy", mmap_mode="r")
    out = []
    for i, m in enumerate(load_meta(data)):
        if m["split"] == "train":
            continue
        found = find_colours(m["caption"])
        if len(found) == 1 and found[0].words in SWATCHES and found[0].words not in NOUN_TOO:
            out.append((np.array(images[i]), m["caption"], found[0].words))
    return out


def pair_wins(enc: EvalEncoder, images: np.ndarray, texts: list[str],
              rival_texts: list[list[str]]) -> np.ndarray:
    """Per image, the share of its rival texts that score below its own text."""
    emb = enc.images(images)
    own = (emb * enc.texts(texts)).sum(-1)
    return np.array([float((enc.texts(r) @ emb[i] < own[i]).float().mean())
                     for i, r in enumerate(rival_texts)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / "data")
    ap.add_argument("--encoder", type=Path, action="append", required=True)
    ap.add_argument("--generated", type=Path, default=None,
                    help="t2i eval's images (.npy, 272 x 4); made (and saved there) if absent")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = load_prompts()
    prompts = [p for p, _ in rows]
    sets = candidate_sets(len(prompts), min(100, len(prompts)))
    real, owner = bc.ceiling_set(args.data, rows)
    rng = np.random.default_rng(0)
    words = [bc.COLOURS[p % len(bc.COLOURS)] for p in owner]
    variants = {
        "recoloured_honour_colours": np.stack([honour_colours([im], bc.coloured(prompts[p], w))[0]
                                               for im, p, w in zip(real, owner, words,
                                                                   strict=True)]),
        "palette_swap": np.stack([palette_swap(im, rng) for im in real]),
        "duotone": np.stack([duotone(im, rng) for im in real]),
        "silhouette": np.concatenate([np.zeros_like(real[..., :3]), real[..., 3:]], -1),
    }
    colour_icon = np.array([len(main_colours(im)) >= 2 and np.ptp(main_colours(im), 0).max()
                            > 60 for im in real])
    named = [NAMED[p % len(NAMED)] for p in owner]
    named_images = np.stack([honour_colours([im], bc.coloured(prompts[p], w))[0]
                             for im, p, w in zip(real, owner, named, strict=True)])
    named_texts = [bc.coloured(prompts[p], w) for p, w in zip(owner, named, strict=True)]
    named_rivals = [[bc.coloured(prompts[p], r) for r in rivals(w, NAMED)]
                    for p, w in zip(owner, named, strict=True)]
    captioned = captions_naming_a_colour(args.data)
    cap_rivals = [[c.replace(w, r, 1) for r in rivals(w, NAMED)] for _, c, w in captioned]
    generated = None
    if args.generated is not None and args.generated.exists():
        generated = np.load(args.generated)
    else:
        from t2i_core.backends.builtin import BuiltinBackend

        generated = generate_for_prompts(BuiltinBackend(), prompts, 4, 20, 3.0)
        if args.generated is not None:
            np.save(args.generated, generated)
    gen_owner = np.repeat(np.arange(len(prompts)), 4)

    result: dict = {"icons": len(real), "colour_icons": int(colour_icon.sum()),
                    "prompts": len(prompts), "candidates": int(sets.shape[1]),
                    "captions_naming_a_colour": len(captioned), "encoders": {}}
    for path in args.encoder:
        enc = EvalEncoder(path)
        text = enc.texts(prompts)
        base = hits(enc.images(real), owner, text, sets)
        out: dict = {"as_they_are": round(float(base.mean()), 4)}
        for name, x in variants.items():
            h = hits(enc.images(x), owner, text, sets)
            out[name] = {"r_precision": round(float(h.mean()), 4),
                         "difference": round(float(h.mean() - base.mean()), 4),
                         "difference_95": interval(base, h, owner)}
            if name == "palette_swap":
                c = colour_icon
                out["palette_swap_colour_icons"] = {
                    "as_they_are": round(float(base[c].mean()), 4),
                    "r_precision": round(float(h[c].mean()), 4),
                    "difference": round(float(h[c].mean() - base[c].mean()), 4),
                    "difference_95": interval(base[c], h[c], owner[c])}
        wins = pair_wins(enc, named_images, named_texts, named_rivals)
        out["discrimination_recoloured"] = {"right_colour_ranked_first": round(
            float(wins.mean()), 4), "interval_95": interval(None, wins, owner)}
        if captioned:
            wins = pair_wins(enc, np.stack([im for im, _, _ in captioned]),
                             [c for _, c, _ in captioned], cap_rivals)
            out["discrimination_captions"] = {"right_colour_ranked_first": round(
                float(wins.mean()), 4), "interval_95": interval(
                None, wins, np.arange(len(wins)))}
        g = hits(enc.images(generated), gen_owner, text, sets)
        out["generated"] = round(float(g.mean()), 4)
        out["generated_over_ceiling"] = round(float(g.mean() / base.mean()), 3)
        print(path, json.dumps(out), flush=True)
        result["encoders"][str(path)] = out
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
