"""Upscaler quality and speed against the true drawing, side by side in one run.

    python benchmarks/bench_upscale.py --pairs runs/upscaler-pairs [--large 100] \
        [--json docs/upscale.json] [--grid docs/upscale.png]

Test set: the held-out test icons of `t2i upscaler pairs` (300 mono + 300 colour from the data
set's test split; every icon sharing a stem with them is out of the training set). Inputs are
the 32 px renders, clean and degraded like the generator's own output (Gaussian blur on
premultiplied RGBA, sigma calibrated on real samples: t2i_core/enhance/calibrate.py). Truth:
the same SVG rendered at 128 px (4x, all icons), 256 px and 512 px (8x, 16x; the first
``--large`` icons of each kind).

Scores, composite over white and over black (black ink over black shows nothing: mono icons
have no black figures): PSNR, SSIM (scikit-image), alpha IoU (alpha >=
0.5) and the blur ratio: semi-transparent pixels (0.05 < alpha < 0.95) of the result over the
truth's, summed over icons (1 = as crisp as the truth; bicubic is ~3-5). Methods: Lanczos (what
the built-in backend did before), bicubic, bicubic + alpha contrast around 0.5 (the
no-learning baseline of issue 15) and ours (t2i_core.enhance), each timed per icon, batch 1,
one thread, interleaved so machine load hits all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from t2i_core.enhance.calibrate import CALIBRATED_SIGMA, blurred  # noqa: E402
from t2i_core.enhance.upscale import Enhancer  # noqa: E402
from t2i_core.imaging import resize_rgba  # noqa: E402
from t2i_core.models.upscaler import (  # noqa: E402
    UpscalerConfig,
    baseline_upscale,
    to_premultiplied,
    to_straight,
)

SEMI = (0.05, 0.95)


def torch_resample(rgba: np.ndarray, scale: int, slope: float) -> np.ndarray:
    x = to_premultiplied(torch.from_numpy(rgba).permute(2, 0, 1)[None].float() / 255)
    with torch.inference_mode():
        y = to_straight(baseline_upscale(x, scale, slope))[0].permute(1, 2, 0).numpy()
    return (y * 255 + 0.5).astype(np.uint8)


def make_methods(enhancer: Enhancer) -> dict:
    slope = UpscalerConfig().alpha_contrast
    return {
        "lanczos": lambda im, s: resize_rgba(im, im.shape[0] * s),
        "bicubic": lambda im, s: torch_resample(im, s, 1.0),
        "bicubic+contrast": lambda im, s: torch_resample(im, s, slope),
        "ours": enhancer.upscale,
    }


def composite(rgba: np.ndarray, background: float) -> np.ndarray:
    f = rgba.astype(np.float32) / 255
    return f[..., :3] * f[..., 3:] + background * (1 - f[..., 3:])


def score(pred: np.ndarray, true: np.ndarray) -> dict:
    from skimage.metrics import structural_similarity

    out = {}
    for name, bg in (("white", 1.0), ("black", 0.0)):
        p, t = composite(pred, bg), composite(true, bg)
        mse = float(((p - t) ** 2).mean())
        # black ink over black is identical whatever the alpha: no figure (NaN), not infinity
        same = not np.any(np.abs(t - bg) > 1e-6)
        out[f"psnr_{name}"] = np.nan if same else 10 * np.log10(1 / max(mse, 1e-10))
        out[f"ssim_{name}"] = np.nan if same else float(structural_similarity(
            p, t, channel_axis=-1, data_range=1.0))
    ap, at = pred[..., 3] >= 128, true[..., 3] >= 128
    union = (ap | at).sum()
    out["iou"] = float((ap & at).sum() / union) if union else 1.0
    fp, ft = pred[..., 3] / 255, true[..., 3] / 255
    out["semi"] = int(((fp > SEMI[0]) & (fp < SEMI[1])).sum())
    out["semi_true"] = int(((ft > SEMI[0]) & (ft < SEMI[1])).sum())
    return out


def run(pairs: Path, large: int, limit: int | None, weights: Path | None) -> dict:
    meta = [json.loads(line) for line in (pairs / "test.jsonl").open()]
    kinds = np.array([m["kind"] for m in meta])
    lo = np.load(pairs / "test32.npy")
    truth = {4: np.load(pairs / "test128.npy", mmap_mode="r"),
             8: np.load(pairs / "test256.npy", mmap_mode="r"),
             16: np.load(pairs / "test512.npy", mmap_mode="r")}
    inputs = {"clean": lo, "degraded": blurred(lo, CALIBRATED_SIGMA)}
    enhancer = Enhancer(weights)
    if not enhancer.learned:
        print(f"warning: {enhancer.notice}", file=sys.stderr)
    methods = make_methods(enhancer)
    for fn in methods.values():  # warm up (first-call allocations, model load)
        fn(lo[0], 4)
    rows: dict[str, list] = {}
    for scale in (4, 8, 16):
        idx = []
        for kind in ("mono", "colour"):
            sel = np.flatnonzero(kinds == kind)
            idx += list(sel[: (limit if scale == 4 else min(large, limit or large))])
        for cond, x in inputs.items():
            for i in idx:
                true = np.asarray(truth[scale][i])
                for name, fn in methods.items():
                    t0 = time.perf_counter()
                    pred = fn(x[i], scale)
                    ms = (time.perf_counter() - t0) * 1000
                    rec = score(pred, true) | {"ms": ms}
                    rows.setdefault(f"{scale}|{cond}|{kinds[i]}|{name}", []).append(rec)
            print(f"{scale}x {cond}: {len(idx)} icons", file=sys.stderr)
    return summarise(rows)


def summarise(rows: dict[str, list]) -> dict:
    warnings.filterwarnings("ignore", "Mean of empty slice")
    out = {}
    for key, recs in rows.items():
        scale, cond, kind, name = key.split("|")
        mean = {k: float(np.nanmean([r[k] for r in recs]))
                for k in ("psnr_white", "psnr_black", "ssim_white", "ssim_black", "iou", "ms")}
        mean["blur_ratio"] = sum(r["semi"] for r in recs) / max(1, sum(r["semi_true"]
                                                                       for r in recs))
        mean["icons"] = len(recs)
        out.setdefault(scale, {}).setdefault(cond, {}).setdefault(kind, {})[name] = {
            k: round(v, 4) if isinstance(v, float) else v for k, v in mean.items()}
    return out


def print_tables(res: dict) -> None:
    for scale, by_cond in res.items():
        print(f"\n### {scale}x (32 px -> {32 * int(scale)} px)\n")
        print("| input | kind | method | PSNR white | PSNR black | SSIM white | SSIM black | "
              "alpha IoU | blur ratio | ms/icon | vs baseline (dB, white/black) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for cond, by_kind in by_cond.items():
            for kind, by_method in by_kind.items():
                base = by_method["bicubic+contrast"]
                for name, m in by_method.items():
                    dw = m["psnr_white"] - base["psnr_white"]
                    db = m["psnr_black"] - base["psnr_black"]
                    print(f"| {cond} | {kind} ({m['icons']}) | {name} | {m['psnr_white']:.2f} "
                          f"| {m['psnr_black']:.2f} | {m['ssim_white']:.3f} | "
                          f"{m['ssim_black']:.3f} | {m['iou']:.3f} | {m['blur_ratio']:.2f} | "
                          f"{m['ms']:.1f} | {dw:+.2f} / {db:+.2f} |")
    four = res.get("4", {})
    print("\nBar at 4x (ours vs bicubic + alpha contrast: >= +1 dB, blur ratio <= 1.3):")
    for cond, by_kind in four.items():
        for kind, by_method in by_kind.items():
            o, b = by_method["ours"], by_method["bicubic+contrast"]
            d = np.nanmin([o["psnr_white"] - b["psnr_white"], o["psnr_black"] - b["psnr_black"]])
            ok = d >= 1.0 and o["blur_ratio"] <= 1.3
            print(f"  {cond:8s} {kind:6s}: {d:+.2f} dB (worse background), blur ratio "
                  f"{o['blur_ratio']:.2f} -> {'MET' if ok else 'NOT MET'}")


def sample_grid(pairs: Path, path: Path, weights: Path | None, per_kind: int = 4,
                scale: int = 8) -> None:
    """Rows: held-out icons (mono, then colour); columns: the 32 px input (nearest), Lanczos,
    ours, the truth, all at 8x (256 px), composited on white."""
    meta = [json.loads(line) for line in (pairs / "test.jsonl").open()]
    kinds = np.array([m["kind"] for m in meta])
    lo = np.load(pairs / "test32.npy")
    truth = np.load(pairs / "test256.npy", mmap_mode="r")
    enhancer = Enhancer(weights)
    picks = []
    for kind in ("mono", "colour"):
        sel = np.flatnonzero(kinds == kind)
        picks += list(sel[:: max(1, len(sel) // per_kind)][:per_kind])
    side = 32 * scale
    rows = []
    for i in picks:
        cells = [np.repeat(np.repeat(lo[i], scale, 0), scale, 1), resize_rgba(lo[i], side),
                 enhancer.upscale(lo[i], scale), np.asarray(truth[i])]
        cells = [(composite(c, 1.0) * 255 + 0.5).astype(np.uint8) for c in cells]
        gap = np.full((side, 6, 3), 200, np.uint8)
        rows.append(np.concatenate([x for c in cells for x in (c, gap)][:-1], axis=1))
        rows.append(np.full((6, rows[-1].shape[1], 3), 200, np.uint8))
    grid = np.concatenate(rows[:-1], axis=0)
    head = Image.new("RGB", (grid.shape[1], 28), (255, 255, 255))
    from PIL import ImageDraw, ImageFont

    draw = ImageDraw.Draw(head)
    font = ImageFont.load_default(size=18)
    for k, label in enumerate(("32 px input", "Lanczos 8x", "ours 8x", "truth (SVG, 256 px)")):
        draw.text((k * (side + 6) + 8, 4), label, fill=(0, 0, 0), font=font)
    Image.fromarray(np.concatenate([np.asarray(head), grid], axis=0)).save(path)


def speed(n: int = 5) -> dict:
    """End to end with the real built-in model: a 512 px result (sampling at 32 px + the
    learned 16x) vs a 128 px one, and the enlargement alone (ours vs Lanczos vs the live
    resampler at 256 px), interleaved."""
    from t2i_core.backends.base import GenerateRequest
    from t2i_core.backends.builtin import BuiltinBackend
    from t2i_core.imaging import enlarge_rgba

    backend = BuiltinBackend()
    prompts = ["a red apple", "house icon", "smiling face emoji", "bicycle icon", "sun"]
    times: dict[str, list[float]] = {}
    small = []
    for i in range(n):
        for size in (32, 128, 512):
            req = GenerateRequest(prompt=prompts[i % len(prompts)], seed=i, width=size,
                                  height=size)
            t0 = time.perf_counter()
            img = backend.generate(req).images[0]
            times.setdefault(f"generate {size} px (s)", []).append(time.perf_counter() - t0)
            if size == 32:
                small.append(img)
    for img in small:
        for name, fn in (("ours 16x -> 512 px", lambda x: enlarge_rgba(x, 512)),
                         ("lanczos -> 512 px", lambda x: resize_rgba(x, 512)),
                         ("ours 8x -> 256 px", lambda x: enlarge_rgba(x, 256)),
                         ("resampler 8x -> 256 px (live)",
                          lambda x: enlarge_rgba(x, 256, learned=False)),
                         ("lanczos -> 256 px", lambda x: resize_rgba(x, 256))):
            t0 = time.perf_counter()
            fn(img)
            times.setdefault(f"{name} (ms)", []).append((time.perf_counter() - t0) * 1000)
    return {k: round(float(np.median(v)), 4) for k, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=Path, default=Path("runs/upscaler-pairs"))
    p.add_argument("--large", type=int, default=100, help="icons per kind at 8x and 16x")
    p.add_argument("--limit", type=int, default=None, help="icons per kind at 4x (all: 300)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--grid", type=Path, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--weights", type=Path, default=None, help="default: the committed ones")
    p.add_argument("--speed", action="store_true", help="also time the built-in model end "
                   "to end at 32/128/512 px (loads the real model)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.grid:
        sample_grid(args.pairs, args.grid, args.weights)
    res = run(args.pairs, args.large, args.limit, args.weights)
    print_tables(res)
    if args.speed:
        res["speed"] = speed()
        print("\nSpeed (median, 1 thread):", json.dumps(res["speed"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
