"""``t2i train --folder DIR --name NAME``: fine-tune an adapter, with a progress bar.

Like ``t2i generate`` it goes through the worker (the advertised one, or one started for the
command), exactly as the editor panel's Train button does; ``--local`` trains in this process
instead. Ctrl+C cancels: the job keeps its last checkpoint, and the same command again
resumes from it. Adapters go to the library folder (``$T2I_ADAPTER_DIR`` or
``~/.local/share/t2i-studio/adapters``). Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.fields import read
from worker.replies import TrainResult


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--folder", required=True, type=Path,
                   help="the folder of PNG/JPEG/WebP images (same-name .txt = caption); "
                        "it is only read, never changed")
    p.add_argument("--name", required=True, help="the adapter's name (an existing name gets "
                   "-2, -3, ...; nothing is overwritten)")
    p.add_argument("--trigger", default="", help="a phrase put in front of every caption, "
                   "to call the style up in prompts, e.g. 'inkwash style'")
    p.add_argument("--model", default=None, help="the model to fine-tune (default: builtin; an "
                   "SD 1.x/2.x/SDXL/SD3 id of a worker started with --backend diffusers)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps (default: the model's; built-in 120)")
    p.add_argument("--batch", type=int, default=None, help="images per step (default 16)")
    p.add_argument("--rank", type=int, default=None, help="LoRA rank (default 8)")
    p.add_argument("--layers", choices=("style", "all", "none"), default=None,
                   help="what the LoRA adapts: 'style' (default) the style path, 'all' every "
                        "linear map, 'none' no LoRA (the steps train the look's renderer)")
    p.add_argument("--render-steps", type=int, default=None,
                   help="also train the look's renderer beside the LoRA (default 0: the "
                        "colour tables alone; docs/finetune.md)")
    p.add_argument("--lr", type=float, default=None, dest="learning_rate",
                   help="learning rate (default: the model's; built-in 5e-3)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--no-image-augment", action="store_true",
                   help="no crops, flips or colour jitter")
    p.add_argument("--no-text-augment", action="store_true",
                   help="captions as they are (no word replace/delete/insert, tag shuffle)")
    p.add_argument("--sample", action="append", default=[], metavar="PROMPT",
                   help="a prompt to preview while training (repeatable, at most 4); "
                        "previews are written next to --samples-dir")
    p.add_argument("--samples-dir", type=Path, default=None,
                   help="write preview PNGs here (default: do not write them)")
    p.add_argument("--local", action="store_true", help="train in this process, not the worker")
    p.add_argument("--endpoint", default=None, help="a running worker's endpoint")
    p.add_argument("--timeout", type=float, default=24 * 3600.0)
    p.add_argument("--weights-dir", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--adapters-dir", type=Path, default=None,
                   help="adapter library (--local only; a worker uses $T2I_ADAPTER_DIR)")


def _body(args: argparse.Namespace) -> dict:
    body = {"folder": str(Path(args.folder).expanduser().resolve()), "name": args.name,
            "trigger": args.trigger, "sample_prompts": list(args.sample)}
    for key in ("model", "steps", "batch", "rank", "learning_rate", "seed", "layers",
                "render_steps"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.no_image_augment:
        body["augment_images"] = False
    if args.no_text_augment:
        body["augment_text"] = False
    return body


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    body = _body(args)
    bar = tqdm(total=body.get("steps", 120), desc="training", unit="step")

    def on_progress(step: int, total: int, phase: str, info: dict, samples: list) -> None:
        bar.total = total
        bar.n = step
        post = {k: info[k] for k in ("loss", "images_per_s") if k in info}
        bar.set_postfix({k: f"{v:.3g}" for k, v in post.items()} | (
            {} if phase == "training" else {"phase": phase}))
        bar.refresh()
        if samples and args.samples_dir is not None:
            _save_samples(args.samples_dir, step, samples)

    try:
        result = _train_local(args, body, on_progress) if args.local else \
            _train_worker(args, body, on_progress)
    except KeyboardInterrupt:
        bar.close()
        print("cancelled; run the same command again to resume from the last checkpoint",
              file=sys.stderr)
        return 130
    except _Failed as e:
        bar.close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    bar.close()
    if result.name != result.requested_name:
        print(f"note: an adapter named '{result.requested_name}' exists already; this one "
              f"is '{result.name}'", file=sys.stderr)
    if result.resumed_from and result.resumed_from >= result.steps:
        print("already trained: the same folder and settings finished before; nothing was "
              "retrained", file=sys.stderr)
    elif result.resumed_from:
        print(f"resumed from step {result.resumed_from}", file=sys.stderr)
    for s in result.skipped:
        print(f"skipped {s.file}: {s.reason}", file=sys.stderr)
    print(f"{result.path}  ({result.images} images, {result.steps} steps, "
          f"loss {result.loss or 0.0:.4f}, {result.seconds:.0f} s)")
    print(f"use it: t2i generate \"a cat, {body['trigger'] or '...'}\" --lora "
          f"\"{result.name}\"", file=sys.stderr)
    return 0


class _Failed(Exception):
    pass


def _train_local(args: argparse.Namespace, body: dict, on_progress) -> TrainResult:
    from t2i_core.backends.builtin import BuiltinBackend
    from t2i_core.errors import T2IError
    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    class _Flag:
        def is_set(self) -> bool:
            return False

    def progress(p) -> None:
        info = {"loss": p.loss, "images_per_s": p.images_per_s}
        on_progress(p.step, p.total, p.phase, {k: v for k, v in info.items() if v is not None},
                    p.samples)

    if body.get("model", "builtin") != "builtin":
        raise _Failed(f"--local trains the built-in model; for '{body['model']}' start "
                      "`t2i worker --backend diffusers ...` and run this without --local")
    backend = BuiltinBackend(args.weights_dir, adapters_dir=args.adapters_dir)
    try:
        # the same typed result as the worker's (its result body is this dict)
        return read(TrainResult, train(backend, TrainRequest(**body), progress,
                                       _Flag()).to_dict())
    except T2IError as e:
        raise _Failed(e.message) from e


def _train_worker(args: argparse.Namespace, body: dict, on_progress) -> TrainResult:
    from worker.client import WorkerClient, WorkerError
    from worker.replies import Progress

    worker_args = ["--weights-dir", str(args.weights_dir)] if args.weights_dir else []
    client = WorkerClient(endpoint=args.endpoint, worker_args=worker_args)
    try:
        handle = client.request("train", body)
        try:
            for ev in handle.events(timeout=args.timeout):
                if isinstance(p := ev.reply, Progress):
                    samples = list(zip(p.samples, [im.to_numpy() for im in p.sample_images],
                                       strict=True))
                    info = {"loss": p.loss, "images_per_s": p.images_per_s}
                    on_progress(p.step, p.total, p.phase,
                                {k: v for k, v in info.items() if v is not None}, samples)
        except KeyboardInterrupt:
            handle.cancel().wait(timeout=30)
            raise
        return handle.reply(TrainResult, timeout=0)
    except WorkerError as e:
        raise _Failed(e.message) from e
    finally:
        client.close()


def _save_samples(folder: Path, step: int, samples: list) -> None:
    import re

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for prompt, img in samples:
        slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40] or "sample"
        Image.fromarray(img).save(folder / f"step{step:06d}-{slug}.png")
