"""Colour words: does the image carry the colour the prompt names? Ours vs the baseline.

    python benchmarks/bench_colour.py [--prompts 100] [--seeds 4] [--out docs/colour_eval.json]
                                      [--grid docs/colour_words.png]

The prompts are the first 100 of the model card's R-precision test prompts
(t2i_core/eval/prompts.tsv), each given one of 12 colour words in turn ("an airplane" ->
"a navy airplane"), 4 seeds each, generated like ``t2i eval`` (32 px, 20 steps, guidance
3). Measured, side by side in one run:

1. adherence: the share of images whose dominant non-transparent hue matches the named
   colour, for
   - the colour prompts with colour words honoured (ours, t2i_core/colour_words.py),
   - the first 50 of them with the colour-word step switched off (what the text encoder
     alone does with "red"),
   - the prompts without the colour word (the baseline: how often the colour occurs anyway),
   - the live model, colour prompts (ours) and plain prompts (baseline);
2. R-precision with the independent evaluation encoder (t2i_core/weights/
   eval_encoder.safetensors; R=1 among 100 candidate prompts, the plain prompts' texts):
   images of the colour prompts vs images of the plain prompts (the bar: within 0.01), on
   the images as they are (the encoder also judges colour: a navy airplane is an unusual
   airplane to it) and on their silhouettes (opaque pixels black: the subject alone);
3. negative colours: plain prompts with ``-n red``, share of red images, vs plain prompts;
4. the evaluator's own price of a colour (with ``--data``): real unseen test icons of the
   same concepts, as they are and recoloured with the same colour words; also for all
   test prompts' icons (the model card's R-precision ceiling set, 437 icons), and with
   ``--also-encoder`` for that encoder too (an instrument that judges the subject should
   keep a recoloured real icon's score).

The hue judge (dominant hue within 30 degrees of the named colour) is colour_hue.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TRANSFORMERS_VERBOSITY": "error"})

import torch  # noqa: E402
from colour_hue import matches, target_hue  # noqa: E402
from PIL import Image  # noqa: E402

from t2i_core.backends import builtin as builtin_module  # noqa: E402
from t2i_core.backends.base import GenerateRequest  # noqa: E402
from t2i_core.backends.builtin import BuiltinBackend  # noqa: E402
from t2i_core.backends.live import LiveBackend  # noqa: E402
from t2i_core.eval.evaluate import load_prompts  # noqa: E402
from t2i_core.eval.metrics import candidate_sets, r_precision  # noqa: E402

COLOURS = ["red", "orange", "yellow", "green", "teal", "sky blue", "blue", "navy", "purple",
           "pink", "pastel green", "#ff8800"]
GRID_ROWS = [("an apple", 3), ("an apple", 11), ("a house", 3), ("a cat", 3), ("a star", 11),
             ("a car", 11), ("a heart", 11), ("an apple emoji", 3),
             ("a smiling face emoji", 3), ("a tree emoji", 3)]  # (prompt, seed)
GRID_COLOURS = ["red", "navy", "pastel green", "#ff8800", "yellow", "purple"]


def coloured(prompt: str, colour: str) -> str:
    """'an airplane' + 'navy' -> 'a navy airplane'."""
    words = prompt.split()
    if words and words[0].lower() in ("a", "an", "the"):
        words = words[1:]
    return f"a {colour} {' '.join(words)}"


IMAGE_CACHE: Path | None = None  # --images: each arm's images saved / read back here


def generate(backend, prompts: list[str], seeds: int, model: str = "builtin",
             negative: str = "", label: str = "", cache: bool = True) -> np.ndarray:
    path = (IMAGE_CACHE / f"{label.replace(' ', '_')}_{len(prompts)}x{seeds}.npy"
            if IMAGE_CACHE is not None and cache else None)
    if path is not None and path.exists():
        return np.load(path)
    out = []
    t0 = time.time()
    for i, p in enumerate(prompts):
        if i % 20 == 0:
            print(f"[{label}] {i}/{len(prompts)} prompts, {time.time() - t0:.0f} s",
                  file=sys.stderr, flush=True)
        res = backend.generate(GenerateRequest(prompt=p, negative_prompt=negative,
                                               seed=1234 + 100 * i, count=seeds, steps=20,
                                               guidance=3.0, width=32, height=32, model=model))
        out.extend(res.images)
    if path is not None:
        np.save(path, np.stack(out))
    return np.stack(out)


def share(images: np.ndarray, hues: list[float], seeds: int) -> float:
    hits = [matches(im, hues[i // seeds]) for i, im in enumerate(images)]
    return round(float(np.mean(hits)), 4)


def grid(backend, out: Path, cell: int = 64) -> None:
    """Rows: prompts with a seed each (glyphs and emoji); columns: no colour word, then each
    grid colour."""
    from PIL import ImageDraw

    cols = ["(none)", *GRID_COLOURS]
    label_w, head = 120, 18
    rows = GRID_ROWS
    img = Image.new("RGB", (label_w + len(cols) * (cell + 4), head + len(rows) * (cell + 4)),
                    "white")
    draw = ImageDraw.Draw(img)
    for c, name in enumerate(cols):
        draw.text((label_w + c * (cell + 4) + 2, 3), name, fill="black")
    for r, (obj, seed) in enumerate(rows):
        y = head + r * (cell + 4)
        draw.text((4, y + cell // 2 - 12), obj, fill="black")
        draw.text((4, y + cell // 2 + 2), f"seed {seed}", fill="gray")
        for c, name in enumerate(cols):
            p = obj if name == "(none)" else coloured(obj, name)
            res = backend.generate(GenerateRequest(prompt=p, seed=seed, width=cell,
                                                   height=cell))
            tile = Image.new("RGBA", (cell, cell), (235, 235, 235, 255))
            tile.alpha_composite(Image.fromarray(res.images[0]))
            img.paste(tile.convert("RGB"), (label_w + c * (cell + 4), y))
    img.save(out)


def r_precisions(encoder_path: Path, plain: list[str], names: list[str], seeds: int,
                 arms: dict[str, tuple[np.ndarray, list[str]]], first: int) -> dict:
    """R-precision (R=1 among min(100, prompts) candidates) of each arm's images with one
    evaluation encoder, three ways:

    - against the prompts without their colour word ("is it still an airplane?");
    - against the prompt each image was made from, with the 99 rival prompts given the *same*
      colour word (the colour cannot help pick the right one: "the airplane, among navy
      things?");
    - on silhouettes (opaque pixels black: the subject alone, colour ignored).
    """
    from t2i_core.eval.clip_encoder import EvalEncoder

    enc = EvalEncoder(encoder_path)
    sets = candidate_sets(len(plain), min(100, len(plain)))
    text = enc.texts(plain)
    colour_text = {c: enc.texts([coloured(p, c) for p in plain]) for c in sorted(set(names))}

    def rp(images: np.ndarray, n_prompts: int, shape_only: bool = False) -> float:
        if shape_only:
            images = np.concatenate([np.zeros_like(images[..., :3]), images[..., 3:]], -1)
        owner = np.repeat(np.arange(n_prompts), seeds)
        return round(r_precision(enc.images(images), owner, text, sets), 4)

    def hits(images: np.ndarray) -> np.ndarray:
        sims = enc.images(images) @ text.T
        owner = np.repeat(np.arange(len(images) // seeds), seeds)
        return np.array([int(torch.argmax(sims[r, torch.from_numpy(sets[p])]).item() == 0)
                         for r, p in enumerate(owner)])

    def rp_own_colour(images: np.ndarray, n_prompts: int) -> float:
        emb, hits = enc.images(images), 0
        for row, p in enumerate(np.repeat(np.arange(n_prompts), seeds)):
            cand = torch.from_numpy(sets[p])
            hits += int(torch.argmax(emb[row] @ colour_text[names[p]][cand].T).item() == 0)
        return round(hits / len(emb), 4)

    out: dict[str, float] = {"encoder": encoder_path.name}
    for name, (images, prompts) in arms.items():
        n = len(prompts)
        out[name] = rp(images, n)
        out[f"silhouette_{name}"] = rp(images, n, True)
        if "colour_words" in name:
            out[f"{name}_against_own_prompt"] = rp_own_colour(images, n)
    n_first = first // seeds
    for name in ("plain", "colour_words"):
        out[f"{name}_first_prompts"] = rp(arms[name][0][:first], n_first)
    for model in ("", "live_"):  # the bar's difference, 95 % interval (paired, over prompts)
        out[f"{model}difference_95"] = paired_interval(
            hits(arms[f"{model}plain"][0]), hits(arms[f"{model}colour_words"][0]), seeds)
    return out


def paired_interval(a: np.ndarray, b: np.ndarray, seeds: int, n: int = 2000) -> list[float]:
    """95 % interval of mean(b) - mean(a): the same prompts' images, prompts resampled."""
    rng, prompts = np.random.default_rng(0), len(a) // seeds
    diff = (b - a).reshape(prompts, seeds).mean(1)
    boot = [diff[rng.integers(0, prompts, prompts)].mean() for _ in range(n)]
    return [round(float(np.percentile(boot, 2.5)), 4), round(float(np.percentile(boot, 97.5)), 4)]


def ceiling_set(data: Path, rows: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Real unseen icons for ``rows`` (prompt, concept): up to 4 test-split images per
    concept, as ``t2i eval``'s ceiling, and the index of the prompt each belongs to."""
    from t2i_core.data.meta import load_meta

    images = np.load(data / "images32.npy", mmap_mode="r")
    by_concept: dict[str, list[int]] = {}
    for i, m in enumerate(load_meta(data)):
        if m["split"] == "test":
            by_concept.setdefault(m["concept"], []).append(i)
    idx, owner = [], []
    for p, (_, concept) in enumerate(rows):
        for i in by_concept.get(concept, [])[:4]:
            idx.append(i)
            owner.append(p)
    return np.array(images[np.array(idx)]), np.array(owner)


def real_icon_reading(data: Path, encoder_path: Path, rows: list[tuple[str, str]],
                      names: list[str]) -> dict:
    """The evaluator's own price of a colour: R-precision of *real* unseen icons (test split,
    up to 4 per prompt's concept, as ``t2i eval``'s ceiling) as they are, and recoloured by
    ``honour_colours`` with the same colour words. No generator is involved: what a drawing
    loses here, any drawing in that colour loses to this evaluator."""
    from t2i_core.colour_words import honour_colours
    from t2i_core.eval.clip_encoder import EvalEncoder

    real, owner = ceiling_set(data, rows)
    plain = [p for p, _ in rows]
    recoloured = np.stack([honour_colours([im], coloured(plain[p], names[p]))[0]
                           for im, p in zip(real, owner, strict=True)])
    enc = EvalEncoder(encoder_path)
    text, sets = enc.texts(plain), candidate_sets(len(plain), min(100, len(plain)))
    as_they_are = r_precision(enc.images(real), np.array(owner), text, sets)
    in_colour = r_precision(enc.images(recoloured), np.array(owner), text, sets)
    hues = [target_hue(names[p]) for p in owner]
    return {"images": len(real), "as_they_are": round(as_they_are, 4),
            "recoloured": round(in_colour, 4),
            "difference": round(in_colour - as_they_are, 4),
            "adherence_recoloured": round(float(np.mean(
                [matches(im, h) for im, h in zip(recoloured, hues, strict=True)])), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=100,
                    help="R-precision ranks among min(100, prompts) candidates")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--negative-prompts", type=int, default=30)
    ap.add_argument("--ablation-prompts", type=int, default=50,
                    help="prompts for the colour-step-off arm (the first ones)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "colour_eval.json")
    ap.add_argument("--grid", default=str(REPO / "docs" / "colour_words.png"),
                    help="the sample grid image; \"\" for none")
    ap.add_argument("--grid-only", action="store_true", help="make the grid image and stop")
    ap.add_argument("--also-encoder", type=Path, default=None,
                    help="a second evaluation encoder to score R-precision with, e.g. one "
                         "trained with colour_share > 0 (t2i_core/eval/clip_encoder.py)")
    ap.add_argument("--data", type=Path, default=REPO / "data",
                    help="the training data (t2i data build) for the real-icon reading; "
                         "skipped when absent")
    ap.add_argument("--images", type=Path, default=None,
                    help="a folder: each arm's generated images are saved there and read back "
                         "by the next run (the same images scored by another encoder)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    global IMAGE_CACHE
    if args.images is not None:
        args.images.mkdir(parents=True, exist_ok=True)
        IMAGE_CACHE = args.images
    rows = load_prompts()[: args.prompts]
    plain = [p for p, _ in rows]
    names = [COLOURS[i % len(COLOURS)] for i in range(len(plain))]
    with_colour = [coloured(p, c) for p, c in zip(plain, names, strict=True)]
    hues = [target_hue(c) for c in names]
    builtin, live = BuiltinBackend(), LiveBackend()
    t0 = time.time()
    if args.grid:
        grid(builtin, Path(args.grid))
    if args.grid_only:
        return
    img_colour = generate(builtin, with_colour, args.seeds, label="colour words")
    img_plain = generate(builtin, plain, args.seeds, label="plain")
    off_n = min(args.ablation_prompts, len(plain))
    hooks = builtin_module.honour_colours, builtin_module.without_colours
    builtin_module.honour_colours = lambda images, prompt, negative="": images
    builtin_module.without_colours = lambda text: text
    try:  # the ablation: the model as it was, colour words only in the encoder's text
        img_off = generate(builtin, with_colour[:off_n], args.seeds, label="step off")
    finally:
        builtin_module.honour_colours, builtin_module.without_colours = hooks
    live_colour = generate(live, with_colour, args.seeds, model="live", label="live")
    live_plain = generate(live, plain, args.seeds, model="live", label="live plain")
    neg_n = min(args.negative_prompts, len(plain))
    neg_plain = img_plain[: neg_n * args.seeds]
    neg_red = generate(builtin, plain[:neg_n], args.seeds, negative="red", label="-n red")
    red = [target_hue("red")] * neg_n

    first = off_n * args.seeds
    arms = {"plain": (img_plain, plain), "colour_words": (img_colour, plain),
            "colour_step_off_first_prompts": (img_off, plain[:off_n]),
            "live_plain": (live_plain, plain), "live_colour_words": (live_colour, plain)}
    r_prec = r_precisions(REPO / "t2i_core" / "weights" / "eval_encoder.safetensors", plain,
                          names, args.seeds, arms, first)
    r_prec_robust = (r_precisions(args.also_encoder, plain, names, args.seeds, arms, first)
                     if args.also_encoder else {})
    real_icons = (real_icon_reading(args.data, REPO / "t2i_core" / "weights" /
                                    "eval_encoder.safetensors", rows, names)
                  if (args.data / "images32.npy").exists() else {})
    # the same on every test prompt's icons (437; the model card's R-precision ceiling set)
    all_rows = load_prompts()
    all_names = [COLOURS[i % len(COLOURS)] for i in range(len(all_rows))]
    encoders = {"committed": REPO / "t2i_core" / "weights" / "eval_encoder.safetensors",
                "also_encoder": args.also_encoder}
    real_icons_also, ceiling_icons = {}, {}
    if (args.data / "images32.npy").exists():
        for key, path in encoders.items():
            if path is None:
                continue
            if key == "also_encoder":
                real_icons_also = real_icon_reading(args.data, path, rows, names)
            ceiling_icons[key] = real_icon_reading(args.data, path, all_rows, all_names)
    per_colour = {}
    for c in COLOURS:
        rows = [i for i, n in enumerate(names) if n == c]
        if not rows:
            continue
        sel = np.concatenate([np.arange(i * args.seeds, (i + 1) * args.seeds) for i in rows])
        per_colour[c] = share(img_colour[sel], [hues[i] for i in rows], args.seeds)
    # the colour step's own cost next to a generation's, on the same images (32 px, and 128 px:
    # the panel's default size; the step runs before the resize, so 32 px is what it costs)
    from t2i_core.colour_words import honour_colours

    t1 = time.perf_counter()
    for i, p in enumerate(with_colour):
        honour_colours(list(img_plain[i * args.seeds:(i + 1) * args.seeds]), p)
    step_ms = (time.perf_counter() - t1) * 1000 / len(img_plain)
    t1 = time.perf_counter()
    generate(builtin, with_colour[:5], args.seeds, label="timing", cache=False)
    gen_ms = (time.perf_counter() - t1) * 1000 / (5 * args.seeds)
    result = {
        "prompts": len(plain),
        "colour_step_ms_per_image": round(step_ms, 3),
        "generation_ms_per_image": round(gen_ms, 1), "colour_words": COLOURS, "seeds": args.seeds,
        "images_per_arm": len(img_colour), "steps": 20, "guidance": 3.0, "size": 32,
        "adherence_colour_words_honoured": share(img_colour, hues, args.seeds),
        "ablation_prompts": off_n,
        "adherence_colour_step_off": share(img_off, hues[:off_n], args.seeds),
        "adherence_baseline_without_colour_word": share(img_plain, hues, args.seeds),
        "adherence_live_colour_words": share(live_colour, hues, args.seeds),
        "adherence_live_baseline_without_colour_word": share(live_plain, hues, args.seeds),
        "adherence_per_colour": per_colour,
        "r_precision": r_prec,
        "r_precision_also_encoder": r_prec_robust,
        # the bar: colour-word images against the subject's prompt, vs the plain images
        "r_precision_difference": round(r_prec["colour_words"] - r_prec["plain"], 4),
        "live_r_precision_difference": round(
            r_prec["live_colour_words"] - r_prec["live_plain"], 4),
        "own_prompt_r_precision_difference": round(
            r_prec["colour_words_against_own_prompt"] - r_prec["plain"], 4),
        "also_encoder_r_precision_difference": round(
            r_prec_robust["colour_words"] - r_prec_robust["plain"], 4) if r_prec_robust else None,
        "real_test_icons_recoloured_r_precision": real_icons,
        "real_test_icons_recoloured_r_precision_also_encoder": real_icons_also,
        "ceiling_icons_all_test_prompts_recoloured": ceiling_icons,
        "silhouette_r_precision_difference": round(
            r_prec["silhouette_colour_words"] - r_prec["silhouette_plain"], 4),
        "negative_red_prompts": neg_n,
        "red_share_plain": share(neg_plain, red, args.seeds),
        "red_share_with_negative_red": share(neg_red, red, args.seeds),
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
