"""``t2i upscale`` (a user action) and ``t2i upscaler pairs|train`` (the model's recipe).

Registered by worker/commands/__init__.py; heavy imports happen inside the commands so
``t2i --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import t2i_core

WEIGHTS = Path(t2i_core.__file__).resolve().parent / "weights" / "upscaler.safetensors"
COMMITTED_RUN = Path(t2i_core.__file__).resolve().parents[1] / "checkpoints" / "upscaler"


def add_upscale_commands(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("upscale", help="enlarge an image 2x/4x/8x/16x with the learned "
                                       "icon upscaler")
    u.add_argument("input", type=Path, help="PNG, JPEG or WebP image")
    u.add_argument("-o", "--output", type=Path, required=True, help="PNG path to write")
    u.add_argument("--scale", type=int, default=4, choices=(2, 4, 8, 16))
    u.add_argument("--model", default="builtin", help="builtin (icons), or the folder name of "
                   "a diffusers upscaler in --models-dir (e.g. a Stable Diffusion x4 upscaler)")
    u.add_argument("--models-dir", type=Path, default=None,
                   help="where diffusers upscalers are (default $T2I_MODELS_DIR)")
    u.add_argument("--prompt", default="", help="diffusers upscalers: what the image shows")
    u.add_argument("--weights", type=Path, default=None, help=argparse.SUPPRESS)
    u.set_defaults(func=cmd_upscale)

    up = sub.add_parser("upscaler", help="the learned upscaler's training").add_subparsers(
        dest="action", required=True)
    p = up.add_parser("pairs", help="render 32 px / 128 px training pairs from the SVGs")
    p.add_argument("--data", type=Path, default=Path("data"), help="`t2i data build` output")
    p.add_argument("--out", type=Path, default=Path("runs/upscaler-pairs"))
    p.add_argument("--train-per-kind", type=int, default=6000)
    p.add_argument("--test-per-kind", type=int, default=300)
    p.set_defaults(func=cmd_pairs)

    t = up.add_parser("train", help="train the 4x upscaler; resumes the run in --run")
    t.add_argument("--pairs", type=Path, default=Path("runs/upscaler-pairs"))
    t.add_argument("--run", type=Path, default=COMMITTED_RUN,
                   help="checkpoint folder (default: the committed run, which it continues)")
    t.add_argument("--out", type=Path, default=WEIGHTS, help="inference weights, rewritten "
                   "at every checkpoint")
    t.add_argument("--steps", type=int, default=None, help="length of the LR schedule")
    t.add_argument("--minutes", type=float, default=None, help="time box for this session")
    t.add_argument("--threads", type=int, default=1, help="torch threads (shared CPUs: 1)")
    t.set_defaults(func=cmd_train)


def cmd_upscale(args: argparse.Namespace) -> int:
    import os

    from PIL import Image, PngImagePlugin

    from t2i_core.enhance.upscale import Enhancer
    from t2i_core.errors import T2IError
    from worker.commands.core import read_rgba

    if args.output.resolve() == args.input.resolve():
        raise T2IError("would_overwrite", f"{args.output} is the input image; write the "
                       "result to another file")
    image = read_rgba(args.input, "image")
    if args.model not in ("", "builtin"):
        from t2i_core.enhance.diffusers_upscalers import DiffusersUpscalers

        folder = args.models_dir or os.environ.get("T2I_MODELS_DIR")
        ups = DiffusersUpscalers(Path(folder) if folder else None)
        out = ups.upscale(ups.resolve(args.model, args.scale), image, args.prompt)
        method, how = "diffusers", f"diffusers upscaler {args.model}"
    else:
        enhancer = Enhancer(args.weights)
        out = enhancer.upscale(image, args.scale)
        method = "learned" if enhancer.learned else "resampling"
        how = "learned upscaler" if enhancer.learned else "resampling only"
        if not enhancer.learned:
            print(f"warning: {enhancer.notice}", file=sys.stderr)
    info = PngImagePlugin.PngInfo()
    with Image.open(args.input) as im:  # a generated image keeps its provenance
        for key in ("parameters", "t2i-provenance"):
            if isinstance(im.info.get(key), str):
                info.add_text(key, im.info[key])
    info.add_text("t2i-upscale", json.dumps({"scale": args.scale, "method": method}))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.{os.getpid()}.part")
    Image.fromarray(out, "RGBA").save(tmp, format="PNG", pnginfo=info)
    tmp.replace(args.output)
    h, w = out.shape[:2]
    print(f"{args.output}  ({w}x{h}, {args.scale}x, {how})")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from t2i_core.enhance.pairs import build_pairs
    from t2i_core.errors import T2IError

    if not (args.data / "meta.jsonl").exists():
        raise T2IError("data_missing", f"no data set in {args.data}; run `t2i data build` first")
    print(json.dumps(build_pairs(args.data, args.out, args.test_per_kind,
                                 args.train_per_kind), indent=2))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from t2i_core.enhance.train import TrainConfig, train_upscaler
    from t2i_core.errors import T2IError

    if not (args.pairs / "train128.npy").exists():
        raise T2IError("pairs_missing", f"no training pairs in {args.pairs}; run `t2i "
                       "upscaler pairs --out {args.pairs}` first")
    cfg = TrainConfig(steps=args.steps) if args.steps else None
    train_upscaler(args.pairs, args.run, args.out, args.minutes, cfg, threads=args.threads)
    return 0
