"""The core library's commands: those that run in this process with t2i_core alone.

    t2i generate "a red apple" -o apple.png     make images with the built-in model
    t2i generate "a red apple" -o apple.svg     ... as a vector drawing (SVG)
    t2i data build                              build the icon/emoji training set
    t2i builtin train                           retrain the built-in model from scratch
    t2i eval                                    R-precision vs ceiling, samples grid
    t2i upscale in.png -o out.png --scale 4     enlarge an image with the learned upscaler
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import t2i_core
from t2i_core.errors import T2IError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

WEIGHTS_DIR = Path(t2i_core.__file__).resolve().parent / "weights"


def add_generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", help="what to draw, e.g. 'a red apple'; (word:1.3) weights a word")
    p.add_argument("-o", "--output", type=Path, default=Path("t2i.png"),
                   help="PNG path, or an .svg path for a vector drawing (icon models); "
                        "with --count N, files are numbered (t2i-1.png, ...)")
    p.add_argument("-n", "--negative", default="", help="what to steer away from")
    p.add_argument("--seed", type=int, default=None, help="same seed, same image (default: "
                   "random, printed)")
    # None: the model's own (`t2i models` lists each model's defaults and sizes); the
    # built-in model's are 20 steps, guidance 3, 128 px.
    p.add_argument("--steps", type=int, default=None,
                   help="sampling steps (default: the model's own, see `t2i models`)")
    p.add_argument("--guidance", type=float, default=None,
                   help="prompt guidance (default: the model's own, see `t2i models`)")
    p.add_argument("--size", type=int, default=None,
                   help="image side in pixels, one of the model's sizes (default: the "
                        "model's own; `t2i models` lists every model's sizes)")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--init", type=Path, help="init image for image-to-image")
    p.add_argument("--strength", type=float, default=0.6, help="0 keeps --init, 1 ignores it")
    p.add_argument("--mask", type=Path, help="inpaint mask (white = repaint), size of --init")
    p.add_argument("--model", default="builtin")
    p.add_argument("--lora", action="append", default=[], metavar="NAME[:WEIGHT]",
                   help="apply a fine-tuned adapter (`t2i train`), weight 1 unless given; "
                        "repeatable")
    p.add_argument("--weights-dir", type=Path, default=None, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2i", description="Offline text-to-image.")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate images from a prompt")
    add_generate_args(g)
    g.set_defaults(func=cmd_generate)

    data = sub.add_parser("data", help="training data").add_subparsers(dest="action",
                                                                        required=True)
    b = data.add_parser("build", help="fetch icons/emoji with npm, rasterize, caption, split")
    b.add_argument("--out", type=Path, default=Path("data"))
    b.add_argument("--size", type=int, default=32)
    b.set_defaults(func=cmd_data_build)

    bi = sub.add_parser("builtin", help="the built-in model").add_subparsers(dest="action",
                                                                             required=True)
    t = bi.add_parser("train", help="retrain from scratch (resumes an interrupted run)")
    t.add_argument("--data", type=Path, default=Path("data"))
    t.add_argument("--run", type=Path, default=Path("runs/builtin"))
    t.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    t.add_argument("--ae-minutes", type=float, default=25)
    t.add_argument("--generator-minutes", type=float, default=90)
    t.add_argument("--eval-minutes", type=float, default=60)
    t.add_argument("--generator-steps", type=int, default=4000,
                   help="length of the generator's LR schedule; raise it to train on past a "
                        "finished run")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    t.add_argument("--continue-committed", action="store_true",
                   help="continue the committed run in checkpoints/builtin/ instead of "
                        "starting from scratch")
    t.set_defaults(func=cmd_builtin_train)
    x = bi.add_parser("export", help="write the inference file from a run's checkpoints")
    x.add_argument("--data", type=Path, default=Path("data"))
    x.add_argument("--run", type=Path, default=Path("runs/builtin"))
    x.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    x.add_argument("--anchor-strength", type=float, default=1.0,
                   help="sampling default stored with the weights (1 = from pure noise)")
    x.add_argument("--memory-size", type=int, default=32000)
    x.set_defaults(func=cmd_builtin_export)

    e = sub.add_parser("eval", help="R-precision of generated vs real test icons, grid")
    e.add_argument("--data", type=Path, default=Path("data"))
    e.add_argument("--encoder", type=Path, default=WEIGHTS_DIR / "eval_encoder.safetensors")
    e.add_argument("--per-prompt", type=int, default=4)
    e.add_argument("--steps", type=int, default=20)
    e.add_argument("--guidance", type=float, default=3.0)
    e.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    e.add_argument("--report", type=Path, default=Path("docs/eval.json"))
    e.add_argument("--grid", type=Path, default=Path("docs/samples.png"))
    e.add_argument("--grid-cell", type=int, default=256, help="pixels per grid cell")
    e.add_argument("--grid-raster", action="store_true",
                   help="grid of the raster output (default: the vector output, rendered)")
    e.add_argument("--weights-dir", type=Path, default=None)
    e.add_argument("--split", choices=["test", "val"], default="test",
                   help="test: the reported numbers; val: disjoint prompts for tuning")
    e.add_argument("--anchor-strength", type=float, default=None,
                   help="override the model's sampling setting (see docs/MODEL_CARD.md)")
    e.add_argument("--top-k", type=int, default=None)
    e.add_argument("--images", type=Path, default=None,
                   help="a .npy of the generated images: read if it exists (the same images "
                        "re-scored, e.g. by another --encoder), else generated and saved")
    e.add_argument("--no-grid", action="store_true")
    e.set_defaults(func=cmd_eval)
    return parser


def read_rgba(path: Path, what: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA"))
    except (OSError, UnidentifiedImageError) as e:
        raise T2IError("bad_image", f"cannot read the {what} {path}: {e}; use a PNG, JPEG or "
                       "WebP file") from e


def load_request(args: argparse.Namespace):
    """The CLI's arguments as a GenerateRequest (validated later by the backend)."""
    import random

    from t2i_core.backends.base import GenerateRequest, LoraRef

    loras = []
    for item in getattr(args, "lora", []):
        name, _, weight = item.rpartition(":") if ":" in item else (item, "", "1")
        try:
            loras.append(LoraRef(name, float(weight)))
        except ValueError:
            raise T2IError("bad_lora", f"--lora {item!r}: use NAME or NAME:WEIGHT, e.g. "
                           "ink:0.8") from None
    init = read_rgba(args.init, "init image") if args.init else None
    mask = read_rgba(args.mask, "mask")[..., :3].max(axis=-1) if args.mask else None
    seed = args.seed if args.seed is not None else random.randint(0, 2**32 - 1)
    # Left out: GenerateRequest's defaults (the built-in model's). Through the worker, the
    # caller sends them left out instead, and the worker fills in the model's own.
    given = {k: v for k, v in (("width", args.size), ("height", args.size),
                               ("steps", args.steps), ("guidance", args.guidance))
             if v is not None}
    return GenerateRequest(prompt=args.prompt, negative_prompt=args.negative, seed=seed,
                           count=args.count, model=args.model, init_image=init,
                           strength=args.strength, mask=mask, loras=loras,
                           vector=args.output.suffix.lower() == ".svg", **given)


def output_paths(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i + 1}{output.suffix or '.png'}")
            for i in range(count)]


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from t2i_core.backends.builtin import SIZES, BuiltinBackend
    from t2i_core.png_info import save_png

    request = load_request(args)
    request.validate(sizes=SIZES, square_only=True)  # before the (slow) model load
    t0 = time.time()
    backend = BuiltinBackend(args.weights_dir)
    _ = backend.model  # load now, so the progress bar measures sampling only
    bar = tqdm(total=request.steps, desc="generating", unit="step", leave=False)

    def progress(step: int, total: int, _preview) -> None:
        bar.total = total
        bar.n = step
        bar.refresh()

    if request.vector:
        from t2i_core.vector.result import generate_vector, with_metadata

        result = generate_vector(backend, request, progress=progress)
    else:
        result = backend.generate(request, progress=progress)
    bar.close()
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for i, (path, img, prov) in enumerate(zip(output_paths(args.output, request.count),
                                              result.images, result.provenance, strict=True)):
        if request.vector:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(with_metadata(result.svgs[i], prov.to_dict()), encoding="utf-8")
            tmp.replace(path)
        else:
            save_png(path, img, prov)
        print(f"{path}  (seed {prov.seed})")
    print(f"done in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


def cmd_data_build(args: argparse.Namespace) -> int:
    import json

    from t2i_core.data.build import build_dataset

    print(json.dumps(build_dataset(args.out, size=args.size), indent=2))
    return 0


def cmd_builtin_train(args: argparse.Namespace) -> int:
    from t2i_core.training.pipeline import train_builtin

    train_builtin(args.data, args.run, args.out, args.ae_minutes, args.generator_minutes,
                  args.eval_minutes, args.threads or None, args.continue_committed,
                  args.generator_steps)
    return 0


def cmd_builtin_export(args: argparse.Namespace) -> int:
    from t2i_core.text_encoder import shared_text_encoder
    from t2i_core.training.export import export_builtin

    empty = shared_text_encoder().encode([""]).embeddings[0]
    path = export_builtin(args.data, args.run, args.out / "builtin.safetensors", empty,
                          memory_size=args.memory_size,
                          extra={"sampling": {"anchor_strength": args.anchor_strength}})
    print(path)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from t2i_core.backends.builtin import BuiltinBackend
    from t2i_core.eval.evaluate import evaluate, sample_grid, write_report

    if not (args.data / "meta.jsonl").exists():
        raise T2IError("data_missing", f"no data set in {args.data}; run `t2i data build` first")
    if not args.encoder.exists():
        raise T2IError("encoder_missing", f"evaluation encoder {args.encoder} not found; run "
                       "`t2i builtin train` (it trains one) or pass --encoder")
    sampling = {k: v for k, v in (("anchor_strength", args.anchor_strength),
                                  ("top_k", args.top_k)) if v is not None}
    backend = BuiltinBackend(args.weights_dir, sampling=sampling)
    result = evaluate(args.data, args.encoder, backend, args.per_prompt, args.steps,
                      args.guidance, args.limit, args.split, args.images)
    result["sampling_overrides"] = sampling
    write_report(result, args.report)
    if not args.no_grid:
        sample_grid(backend, args.grid, steps=args.steps, guidance=args.guidance,
                    cell=args.grid_cell, vector=not args.grid_raster)
    print(json.dumps(result, indent=2))
    return 0


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse and dispatch; a ``T2IError`` becomes its message and exit code 2."""
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except T2IError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
