"""Fine-tuning benchmark: does a 5-minute LoRA move the built-in model to a new style?

    .venv/bin/python benchmarks/bench_finetune.py [--minutes 5] [--threads 2] [--grid PATH]

1. Builds the 20-image "riso tiles" folder (benchmarks/style_folder.py: procedurally drawn,
   opaque, a palette and print look that the icon/emoji data do not have).
2. Measures training throughput (images/s) with and without image augmentation, and the
   process's peak memory.
3. Trains an adapter with the default recipe, its step count fitted to the time box from the
   measured throughput (the whole ``train()`` call, folder reading and preparation included,
   must end within ``--minutes``).
4. Generates the same prompts and seeds before (base model) and after (adapter at weight 1),
   and reports the evaluation encoder's mean image-embedding distance (1 - cosine) of the
   generated images to the folder's images; the bar is "after" >= 30 % closer. Also the
   ablations memory-only and LoRA-only, and the CPU load while measuring.
5. Writes a before/after grid (docs/finetune.png by default).

The evaluation encoder (t2i_core/weights/eval_encoder.safetensors) only measures: it is never
in a loss.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from style_folder import build_style_folder  # noqa: E402

PROMPTS = ["a star", "a house", "a fish", "a flower",  # subjects the folder has
           "a cat", "a car", "an apple", "a key"]  # subjects it has not
TRIGGER = "riso print"
SEEDS = 4


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(backend, net, memories, prompts: list[str], seeds: int) -> np.ndarray:
    from t2i_core.backends.base import GenerateRequest

    out = []
    for i, p in enumerate(prompts):
        req = GenerateRequest(prompt=f"{p}, {TRIGGER}", seed=1000 + 10 * i, count=seeds,
                              width=32, height=32, steps=20, guidance=3.0)
        out.extend(backend.generate_with(req, net, memories).images)
    return np.stack(out)


def mean_distance(enc, images: np.ndarray, folder_emb) -> float:
    e = enc.images(images)
    return float((1 - e @ folder_emb.T).mean())


def grid(path: Path, folder: np.ndarray, before: np.ndarray, after: np.ndarray,
         prompts: list[str], seeds: int, cell: int = 64) -> None:
    from PIL import Image, ImageDraw

    label, gap = 110, 16
    cols = 2 * seeds
    w = label + cols * (cell + 2) + gap
    h = (len(prompts) + 1) * (cell + 2) + 20
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)

    def tile(rgba: np.ndarray) -> Image.Image:
        t = Image.new("RGBA", (cell, cell), (235, 235, 235, 255))
        t.alpha_composite(Image.fromarray(rgba).resize((cell, cell), Image.NEAREST))
        return t.convert("RGB")

    d.text((4, 6), "the folder", fill="black")
    for c in range(min(cols, len(folder))):
        img.paste(tile(folder[c]), (label + c * (cell + 2) + (gap if c >= seeds else 0), 0))
    y0 = cell + 20
    d.text((label, y0 - 14), "before (base model)", fill="black")
    d.text((label + seeds * (cell + 2) + gap, y0 - 14), "after (adapter, weight 1)", fill="black")
    for r, p in enumerate(prompts):
        y = y0 + r * (cell + 2)
        d.text((4, y + cell // 2 - 6), p, fill="black")
        for c in range(seeds):
            img.paste(tile(before[r * seeds + c]), (label + c * (cell + 2), y))
            img.paste(tile(after[r * seeds + c]),
                      (label + (seeds + c) * (cell + 2) + gap, y))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="time box of the training run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=0, help="fixed step count (0: fit the box)")
    ap.add_argument("--grid", type=Path, default=Path("docs/finetune.png"))
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--probe-steps", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from t2i_core.backends.builtin import BuiltinBackend
    from t2i_core.eval.clip_encoder import EvalEncoder
    from t2i_core.finetune.dataset import load_folder
    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    tmp = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    folder = build_style_folder(tmp / "riso")
    backend = BuiltinBackend(adapters_dir=tmp / "adapters")
    m = backend.model
    out: dict = {"machine": f"{os.cpu_count()} cores, torch threads {args.threads}",
                 "load_before": [round(x, 2) for x in os.getloadavg()]}
    rss0 = peak_rss_mb()

    # -- throughput, with and without image augmentation -----------------------------------
    for aug in (True, False):
        res = train(backend, TrainRequest(folder=str(folder), name=f"probe-{int(aug)}",
                                          trigger=TRIGGER, steps=args.probe_steps,
                                          augment_images=aug, sample_every=0))
        key = "with_augmentation" if aug else "without_augmentation"
        out[f"images_per_s_{key}"] = res.images_per_s
        print(f"throughput {key}: {res.images_per_s:.1f} images/s", flush=True)
    out["peak_rss_mb_training"] = round(peak_rss_mb(), 1)
    out["peak_rss_mb_model_loaded"] = round(rss0, 1)

    # -- the time-boxed run -------------------------------------------------------------------
    default = TrainRequest(folder=str(folder), name="riso", trigger=TRIGGER)
    if args.steps:
        steps = args.steps
    else:  # leave ~30 % for preparing, writing the adapter and a shared CPU slowing down
        rate = out["images_per_s_with_augmentation"]
        steps = int(min(default.steps, 0.7 * args.minutes * 60 * rate / default.batch))
    req = TrainRequest(folder=str(folder), name="riso", trigger=TRIGGER, steps=steps,
                       sample_every=0)
    t0 = time.monotonic()
    res = train(backend, req)
    out["train_seconds"] = round(time.monotonic() - t0, 1)
    out["train_steps"] = res.steps
    out["train_images_seen"] = res.steps * req.batch
    out["train_images_per_s"] = res.images_per_s
    out["final_loss"] = round(res.loss, 4)
    out["load_during"] = [round(x, 2) for x in os.getloadavg()]
    print(f"trained {res.steps} steps in {out['train_seconds']} s", flush=True)

    # -- before / after -------------------------------------------------------------------------
    enc = EvalEncoder(Path("t2i_core/weights/eval_encoder.safetensors"))
    data = load_folder(folder)
    from t2i_core.finetune.augment import centre
    from t2i_core.models.autoencoder import to_pixels

    folder32 = to_pixels(centre(data.images)).numpy()
    folder_emb = enc.images(folder32)
    applied = backend.adapters.apply([_Ref("riso", 1.0)], m.denoiser)
    lora_net = functools.partial(_call, m.denoiser, applied.params)
    before = generate(backend, m.denoiser, [], PROMPTS, SEEDS)
    after = generate(backend, lora_net, applied.memories, PROMPTS, SEEDS)
    memory_only = generate(backend, m.denoiser, applied.memories, PROMPTS, SEEDS)
    lora_only = generate(backend, lora_net, [], PROMPTS, SEEDS)
    d = {k: mean_distance(enc, v, folder_emb) for k, v in
         {"before": before, "after": after, "memory_only": memory_only,
          "lora_only": lora_only}.items()}
    half = len(PROMPTS) // 2 * SEEDS
    d["after_seen_subjects"] = mean_distance(enc, after[:half], folder_emb)
    d["after_unseen_subjects"] = mean_distance(enc, after[half:], folder_emb)
    d["before_seen_subjects"] = mean_distance(enc, before[:half], folder_emb)
    d["before_unseen_subjects"] = mean_distance(enc, before[half:], folder_emb)
    d["folder_to_itself"] = float((1 - folder_emb @ folder_emb.T).mean())
    with torch.no_grad():  # the autoencoder's own round trip: a floor for any generator
        roundtrip = to_pixels(m.ae.decode(m.ae.encode(centre(data.images)))).numpy()
    d["folder_autoencoder_roundtrip"] = mean_distance(enc, roundtrip, folder_emb)
    out["distance"] = {k: round(v, 4) for k, v in d.items()}
    out["closer_percent"] = round(100 * (1 - d["after"] / d["before"]), 1)
    out["closer_percent_memory_only"] = round(100 * (1 - d["memory_only"] / d["before"]), 1)
    out["closer_percent_lora_only"] = round(100 * (1 - d["lora_only"] / d["before"]), 1)
    out["bar_met"] = out["closer_percent"] >= 30 and out["train_seconds"] <= args.minutes * 60
    grid(args.grid, folder32, before, after, PROMPTS, SEEDS)
    out["grid"] = str(args.grid)
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print(f"after / before distance ratio: {d['after'] / d['before']:.3f} "
          f"({out['closer_percent']} % closer; bar 30 %)")
    return 0


class _Ref:
    def __init__(self, name: str, weight: float) -> None:
        self.name, self.weight = name, weight


def _call(module, params, *args):
    import torch

    return torch.func.functional_call(module, params, args)


if __name__ == "__main__":
    sys.exit(main())
