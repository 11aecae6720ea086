"""``t2i live ...``: train the live model (and resume), export its weights.

Registered by worker/commands/__init__.py; heavy imports happen inside the commands so
``t2i --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import t2i_core

WEIGHTS_DIR = Path(t2i_core.__file__).resolve().parent / "weights"


def add_live_commands(sub: argparse._SubParsersAction) -> None:
    live = sub.add_parser("live", help="the one-step live model").add_subparsers(
        dest="action", required=True)
    t = live.add_parser("train", help="train the live model; resumes the run in --run")
    t.add_argument("--run", type=Path, default=Path("checkpoints/live"))
    t.add_argument("--builtin", type=Path, default=WEIGHTS_DIR / "builtin.safetensors",
                   help="the built-in model it learns from (memory, autoencoder, teacher)")
    t.add_argument("--out", type=Path, default=WEIGHTS_DIR / "live.safetensors",
                   help="inference weights, rewritten at every checkpoint")
    t.add_argument("--steps", type=int, default=100_000, help="stop at this step")
    t.add_argument("--minutes", type=float, default=None, help="time box for this session")
    t.add_argument("--threads", type=int, default=1, help="torch threads (shared CPUs: 1)")
    t.add_argument("--batch", type=int, default=None, help="batch size (new runs only)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=cmd_live_train)

    e = live.add_parser("eval", help="R-precision of live images vs real test icons, grid")
    e.add_argument("--data", type=Path, default=Path("data"))
    e.add_argument("--encoder", type=Path, default=WEIGHTS_DIR / "eval_encoder.safetensors")
    e.add_argument("--weights-dir", type=Path, default=None)
    e.add_argument("--per-prompt", type=int, default=4)
    e.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    e.add_argument("--split", choices=["test", "val"], default="test")
    e.add_argument("--report", type=Path, default=Path("docs/eval_live.json"))
    e.add_argument("--grid", type=Path, default=Path("docs/live_samples.png"))
    e.add_argument("--images", type=Path, default=None,
                   help="a .npy of the generated images: read if it exists (the same images "
                        "re-scored, e.g. by another --encoder), else generated and saved")
    e.add_argument("--no-grid", action="store_true")
    e.add_argument("--int8", action="store_true",
                   help="int8 dynamic quantization (MiniLM and generator Linear layers)")
    e.add_argument("--anchor-only", action="store_true",
                   help="ablation: the retrieved anchor alone, without the generator")
    e.set_defaults(func=cmd_live_eval)


class AsLive:
    """Any caller of ``backend.generate`` (t2i_core.eval) asks for model ``live``."""

    def __init__(self, backend) -> None:
        self.backend = backend

    def generate(self, request, progress=None, cancel=None):
        request.model = "live"
        return self.backend.generate(request, progress, cancel)


def cmd_live_eval(args: argparse.Namespace) -> int:
    from t2i_core.backends.live import LiveBackend
    from t2i_core.errors import T2IError
    from t2i_core.eval.evaluate import evaluate, sample_grid, write_report

    if not (args.data / "meta.jsonl").exists():
        raise T2IError("data_missing", f"no data set in {args.data}; run `t2i data build` first")
    if not args.encoder.exists():
        raise T2IError("encoder_missing", f"evaluation encoder {args.encoder} not found; "
                       "pass --encoder")
    backend = AsLive(LiveBackend(args.weights_dir, quantize=args.int8,
                                 anchor_only=args.anchor_only))
    result = evaluate(args.data, args.encoder, backend, args.per_prompt, 1, 0.0, args.limit,
                      args.split, args.images)
    result["model"] = "live" + (" (int8)" if args.int8 else "") + (
        " (ablation: anchor only)" if args.anchor_only else "")
    result["live_step"] = backend.backend.model.meta.get("step")
    write_report(result, args.report)
    if not args.no_grid:
        sample_grid(backend, args.grid, steps=1, guidance=0.0)
    print(json.dumps(result, indent=2))
    return 0


def cmd_live_train(args: argparse.Namespace) -> int:
    import torch

    from t2i_core.live.train import LiveTrainConfig, train_live

    torch.set_num_threads(max(1, args.threads))
    cfg = LiveTrainConfig()
    if args.batch:
        cfg.batch = args.batch
    result = train_live(args.builtin, args.run, args.out, cfg, steps=args.steps,
                        minutes=args.minutes, progress=not args.no_progress)
    last = result["history"][-1] if result["history"] else {}
    print(json.dumps({"step": result["step"], "stopped": result["stopped"], "last": last}))
    return 0
