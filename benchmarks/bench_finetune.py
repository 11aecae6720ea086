"""Fine-tuning benchmark (issue 16): does an adapter take a folder's look and keep the subject?

    .venv/bin/python benchmarks/bench_finetune.py [--folders tango oxygen papirus]
        [--prompts 100] [--seeds 2] [--dial-prompts 25] [--threads 1] [--grid docs/finetune.png]

For each public style folder (benchmarks/icon_theme_folders.py: 20 icons of one Debian icon
theme the built-in model never saw), with the default recipe (or the one given by the flags):

1. trains an adapter with ``t2i train``'s code path (the whole ``train()`` call is timed; the
   load average before and after says how busy the shared machine was);
2. generates "<test prompt>, <trigger>" (``--prompts`` test prompts x ``--seeds`` seeds) with
   the base model and with the adapter at weight 1, and checks that weight 0 gives the base
   model's pixels exactly;
3. measures (benchmarks/finetune_eval.py) R-precision (subject kept: weight 1 >= 0.8 x base),
   style distance to the folder (style learned: >= 30 % closer than base), copies (< 2 % of
   samples nearer a folder image than the folder's 5th-percentile pair distance), the style
   distance at weights 0, 0.25, 0.5, 0.75, 1 on ``--dial-prompts`` of the prompts (the dial:
   monotone), and training time (<= 5 min);
4. draws docs/finetune.png: per folder, the folder and six prompts (2 seeds) before, at weight
   0.5 and at weight 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune_eval import (  # noqa: E402
    SHIPPED_ENCODER,
    FolderMeasure,
    folder_at_32,
    load_encoder,
    test_prompts,
)
from icon_theme_folders import THEMES, TRIGGERS, build_theme_folder, other_icons  # noqa: E402

GRID_PROMPTS = ["a house", "a cat", "a car", "a tree", "an apple", "a bicycle"]
DIAL = (0.0, 0.25, 0.5, 0.75, 1.0)


def generate(backend, prompts: list[str], ids: list[int], trigger: str, seeds: int,
             loras: list) -> np.ndarray:
    """Images for "<prompt>, <trigger>"; prompt i always gets seed 1000 + 10 * ids[i]."""
    from t2i_core.backends.base import GenerateRequest

    out = []
    for p, i in zip(prompts, ids, strict=True):
        req = GenerateRequest(prompt=f"{p}, {trigger}" if trigger else p,
                              seed=1000 + 10 * i, count=seeds, width=32, height=32,
                              steps=20, guidance=3.0, loras=list(loras))
        out.extend(backend.generate(req).images)
    return np.stack(out)


def bench_folder(backend, name: str, folder: Path, args, overrides: dict
                 ) -> tuple[dict, dict[str, np.ndarray]]:
    """Train on one folder and make every picture the measures need; returns the numbers
    that do not depend on the judge and the pictures (kept in ``--json``'s .npz, so another
    evaluation encoder can measure the same pictures: ``--draw-from``)."""
    from t2i_core.backends.base import LoraRef
    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    trigger = TRIGGERS[name]
    out: dict = {"folder": name, "package": THEMES[name][0], "licence": THEMES[name][4],
                 "trigger": trigger, "load_before": [round(x, 2) for x in os.getloadavg()]}
    req = TrainRequest(folder=str(folder), name=name, trigger=trigger, sample_every=0,
                       **overrides)
    t0 = time.monotonic()
    res = train(backend, req)
    out |= {"train_seconds": round(time.monotonic() - t0, 1), "steps": res.steps,
            "batch": req.batch, "images_per_s": res.images_per_s,
            "final_loss": round(res.loss, 4),
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "recipe": req.settings()}
    print(f"[{name}] trained {res.steps} steps in {out['train_seconds']} s", flush=True)

    images: dict[str, np.ndarray] = {"folder": folder_at_32(folder)}
    for o in THEMES:
        if o != name:
            images[f"other_{o}"] = folder_at_32(build_theme_folder(o, folder.parent / o))
    # calibration (not the bar): the theme's own icons of other subjects
    images["theme"] = folder_at_32_bytes(other_icons(name, cache=args.cache))
    prompts = test_prompts(args.prompts)
    ids = list(range(len(prompts)))
    images["base"] = generate(backend, prompts, ids, trigger, args.seeds, [])
    images["weight1"] = generate(backend, prompts, ids, trigger, args.seeds,
                                 [LoraRef(name, 1.0)])
    zero = generate(backend, prompts[:3], ids[:3], trigger, args.seeds, [LoraRef(name, 0.0)])
    out["weight0_equals_base"] = bool(np.array_equal(zero, images["base"][: 3 * args.seeds]))
    if args.parts:  # its look alone; without its look (= the previous recipe: LoRA + the
        # switch of retrieval to the folder's kind of picture), in the same run
        for part in ("look_only", "previous"):
            images[part] = generate(backend, prompts, ids, trigger, args.seeds,
                                    [LoraRef(split_adapter(backend, name, part), 1.0)])
    # the dial, on an even spread of the prompts (same prompts and seeds at every weight)
    sub = dial_prompts(args)
    for w in DIAL[1:-1]:
        images[f"dial_{w}"] = generate(backend, [prompts[i] for i in sub], sub, trigger,
                                       args.seeds, [LoraRef(name, w)])
    grid_ids = [len(prompts) + j for j in range(len(GRID_PROMPTS))]
    for i, loras in enumerate(([], [LoraRef(name, 0.5)], [LoraRef(name, 1.0)])):
        images[f"grid_{i}"] = generate(backend, GRID_PROMPTS, grid_ids, trigger, 2, loras)
    return out, images


def dial_prompts(args) -> list[int]:
    step = max(1, args.prompts // args.dial_prompts)
    return list(range(args.prompts))[::step][: args.dial_prompts]


def measure(enc, out: dict, images: dict[str, np.ndarray], args) -> dict:
    """Every measure of one folder's pictures by one evaluation encoder."""
    meas = FolderMeasure(enc, images["folder"])
    others = [FolderMeasure(enc, v) for k, v in images.items() if k.startswith("other_")]
    prompts = test_prompts(args.prompts)
    m: dict = {}
    for key in ("base", "weight1", "look_only", "previous"):
        if key in images:
            m[key] = meas.all(images[key], prompts, args.seeds)
            m[key]["theme_accuracy"] = round(meas.theme_accuracy(images[key], others), 4)
    theme = images["theme"]
    theme_threshold = meas.theme_threshold(theme)
    m["theme_other_icons"] = {
        "count": len(theme), "copy_rate": round(meas.copy_rate(theme), 4),
        "style_closer_percent": round(100 * (1 - meas.style_distance(theme)
                                             / m["base"]["style_distance"]), 1)}
    # copies beside the bar's figure (information): the same nearest-folder-image distance,
    # against the theme's own icons of other subjects (5 % of them fall under it by design)
    m["copy_threshold"] = {"folder_pairs_p5": round(meas.thresholds["white"], 3),
                           "theme_other_icons_p5": round(theme_threshold, 3)}
    for key in ("base", "weight1"):
        d = meas.nearest(images[key])[0]
        m[key]["copy_rate_theme_calibrated"] = round(float((d < theme_threshold).float()
                                                           .mean()), 4)
    m["weight1_flagged"] = [int(i) for i in meas.flagged(images["weight1"])]
    rows = np.concatenate([np.arange(i * args.seeds, (i + 1) * args.seeds)
                           for i in dial_prompts(args)])
    dial = {}
    for w in DIAL:
        imgs = (images["base"][rows] if w == 0.0 else images["weight1"][rows] if w == 1.0
                else images[f"dial_{w}"])
        dial[str(w)] = round(meas.style_distance(imgs), 4)
    m["dial_style_distance"] = dial
    vals = list(dial.values())
    b, a = m["base"], m["weight1"]
    m["bar"] = {
        "subject_kept": a["r_precision"] >= 0.8 * b["r_precision"],
        "r_precision_ratio": round(a["r_precision"] / max(b["r_precision"], 1e-9), 3),
        "style_closer_percent": round(100 * (1 - a["style_distance"] / b["style_distance"]), 1),
        "style_learned": a["style_distance"] <= 0.7 * b["style_distance"],
        "no_copies": a["copy_rate"] < 0.02,
        "dial_monotone": all(x > y for x, y in zip(vals, vals[1:], strict=False)),
        "fast": out["train_seconds"] <= 300,
        "weight0_is_base": out["weight0_equals_base"],
    }
    return m


def measure_all(out: dict, images: dict[str, np.ndarray], encoders: list[Path], args) -> dict:
    """``out`` with every encoder's measures under ``by_encoder`` (keyed by file name) and
    the first encoder's at the top level (the bar's figures)."""
    out["by_encoder"] = {}
    for path in encoders:
        out["by_encoder"][Path(path).name] = measure(load_encoder(path), out, images, args)
    out |= out["by_encoder"][Path(encoders[0]).name]
    out["encoder"] = str(encoders[0])
    return out


def folder_at_32_bytes(pngs: list[bytes]) -> np.ndarray:
    """Icons (PNG bytes) at the model's 32 px, as the folder's images are measured."""
    from t2i_core.finetune.augment import centre
    from t2i_core.finetune.dataset import decode_square
    from t2i_core.models.autoencoder import to_pixels

    imgs = []
    for data in pngs:
        try:
            imgs.append(decode_square(data))
        except ValueError:  # an icon too small or unreadable: left out, as a folder would
            continue
    return to_pixels(centre(np.stack(imgs))).numpy()


def split_adapter(backend, name: str, part: str) -> str:
    """A copy of adapter ``name`` with only its look ("look_only") or without it
    ("previous"), written next to it; returns the copy's name."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = backend.adapter_library.path_of(name)
    drop = "look." if part == "previous" else ".lora_"
    tensors = {k: v for k, v in load_file(str(path)).items() if drop not in k}
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    copy = f"{name}-{part}".replace("_", "-")
    save_file(tensors, str(path.with_name(f"{copy}.safetensors")), metadata=meta)
    return copy


def draw_grid(path: Path, results: list[dict], cell: int = 48) -> None:
    from PIL import Image, ImageDraw

    label, gap, seeds = 90, 14, 2
    cols = 3 * seeds
    w = label + cols * (cell + 2) + 2 * gap
    block = 16 + (cell + 2) * (1 + len(GRID_PROMPTS)) + 8
    img = Image.new("RGB", (w, 18 + block * len(results)), "white")
    d = ImageDraw.Draw(img)
    heads = ["before (base)", "adapter 0.5", "adapter 1"]
    for c, h in enumerate(heads):
        d.text((label + c * (seeds * (cell + 2) + gap), 4), h, fill="black")

    def tile(rgba: np.ndarray) -> Image.Image:
        t = Image.new("RGBA", (cell, cell), (235, 235, 235, 255))
        t.alpha_composite(Image.fromarray(rgba).resize((cell, cell), Image.NEAREST))
        return t.convert("RGB")

    for bi, r in enumerate(results):
        folder, *runs = r["_grid"]
        y0 = 18 + bi * block
        d.text((4, y0 + 2), f"{r['folder']} folder ({r['trigger']})", fill="black")
        for c in range(min(cols, len(folder))):
            img.paste(tile(folder[c * 3 % len(folder)]),
                      (label + c * (cell + 2) + gap * (c // seeds), y0 + 14))
        for pi, p in enumerate(GRID_PROMPTS):
            y = y0 + 14 + (pi + 1) * (cell + 2)
            d.text((4, y + cell // 2 - 6), p, fill="black")
            for ri, imgs in enumerate(runs):
                for s in range(seeds):
                    x = label + (ri * seeds + s) * (cell + 2) + gap * ri
                    img.paste(tile(imgs[pi * seeds + s]), (x, y))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def draw_copies(path: Path, results: list[dict], images: list[dict], cell: int = 40,
                most: int = 16) -> None:
    """Per folder: the weight-1 samples nearest to a folder image (upper row, the bar's flags
    first, then the nearest others), the folder image each is nearest to (lower row), and the
    distance against the two thresholds (folder pairs / the theme's own other icons)."""
    from PIL import Image, ImageDraw

    label = 70
    block = 14 + 2 * (cell + 2) + 14
    img = Image.new("RGB", (label + most * (cell + 2), 4 + block * len(results)), "white")
    d = ImageDraw.Draw(img)

    def tile(rgba: np.ndarray) -> Image.Image:
        t = Image.new("RGBA", (cell, cell), (255, 255, 255, 255))
        t.alpha_composite(Image.fromarray(rgba).resize((cell, cell), Image.NEAREST))
        return t.convert("RGB")

    for bi, (r, im) in enumerate(zip(results, images, strict=True)):
        meas = FolderMeasure(_NoJudge(), im["folder"])
        dist, which = meas.nearest(im["weight1"])
        order = torch.argsort(dist)[:most]
        th = r["copy_threshold"]
        y0 = 4 + bi * block
        flagged = int((dist < th["folder_pairs_p5"]).sum())
        d.text((4, y0), f"{r['folder']}: {flagged} of {len(dist)} weight-1 samples under the "
               f"bar's threshold {th['folder_pairs_p5']:.1f} (theme's own icons: "
               f"{th['theme_other_icons_p5']:.1f}); upper: sample, lower: nearest folder "
               "image, figure: distance", fill="black")
        for c, i in enumerate(order.tolist()):
            x = label + c * (cell + 2)
            img.paste(tile(im["weight1"][i]), (x, y0 + 14))
            img.paste(tile(im["folder"][int(which[i])]), (x, y0 + 16 + cell))
            colour = "red" if dist[i] < th["folder_pairs_p5"] else "black"
            d.text((x + 4, y0 + 18 + 2 * cell), f"{float(dist[i]):.1f}", fill=colour)
        d.text((4, y0 + 14 + cell // 2), "sample", fill="black")
        d.text((4, y0 + 16 + cell + cell // 2), "folder", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


class _NoJudge:
    """Pixel distances need no evaluation encoder."""

    def images(self, images: np.ndarray) -> torch.Tensor:
        return torch.zeros(len(images), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folders", nargs="+", default=list(THEMES), choices=list(THEMES))
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--dial-prompts", type=int, default=25)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--encoder", type=Path, default=SHIPPED_ENCODER,
                    help="the evaluation encoder whose figures are the bar's (default: the "
                         "shipped t2i_core/weights/eval_encoder.safetensors)")
    ap.add_argument("--also-encoder", type=Path, action="append", default=[],
                    help="also measure the same pictures with this evaluation encoder "
                         "(repeatable; under 'by_encoder' in --json)")
    ap.add_argument("--grid", type=Path, default=Path("docs/finetune.png"))
    ap.add_argument("--copies", type=Path, default=Path("docs/finetune_copies.png"))
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--work", type=Path, default=None, help="folders and adapters go here")
    ap.add_argument("--cache", type=Path, default=None,
                    help="where the Debian icon themes are extracted (default: "
                         "$T2I_BENCH_CACHE or ~/.cache/t2i-studio/icon-themes)")
    for flag, kind in (("steps", int), ("batch", int), ("rank", int), ("alpha", float),
                       ("learning-rate", float), ("layers", str), ("prior", float),
                       ("render-steps", int)):
        ap.add_argument(f"--{flag}", type=kind, default=None, help="recipe override")
    ap.add_argument("--no-auto-captions", action="store_true")
    ap.add_argument("--parts", action="store_true",
                    help="also measure the adapter's look alone and the adapter without its "
                         "look (the previous recipe)")
    ap.add_argument("--draw-from", type=Path, nargs="+", default=None,
                    help="measure again (with --encoder / --also-encoder) and draw from "
                         "earlier runs' --json files and their .npz pictures (one per folder, "
                         "run in parallel); the merged numbers go to --json")
    args = ap.parse_args()
    encoders = [args.encoder, *args.also_encoder]
    for path in encoders:  # a wrong path fails now, not after the training
        load_encoder(path)
    if args.draw_from:
        return merge(args, encoders)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    from t2i_core.backends.builtin import BuiltinBackend

    overrides = {k: getattr(args, k) for k in ("steps", "batch", "rank", "alpha",
                                               "learning_rate", "layers", "prior",
                                               "render_steps")
                 if getattr(args, k) is not None}
    if args.no_auto_captions:
        overrides["auto_captions"] = False
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    backend = BuiltinBackend(adapters_dir=work / f"adapters-{time.time_ns()}")
    results, pictures = [], []
    for name in args.folders:
        folder = build_theme_folder(name, work / "folders" / name)
        out, images = bench_folder(backend, name, folder, args, overrides)
        results.append(measure_all(out, images, encoders, args))
        pictures.append(images)
        print(json.dumps(out), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.json.with_suffix(".npz"),
                            **{f"{r['folder']}__{k}": v for r, im in zip(results, pictures,
                                                                         strict=True)
                               for k, v in im.items()})
    return finish(args, results, pictures)


def finish(args, results: list[dict], pictures: list[dict]) -> int:
    draw_grid(args.grid, [r | {"_grid": [im["folder"], im["grid_0"], im["grid_1"],
                                         im["grid_2"]]}
                          for r, im in zip(results, pictures, strict=True)])
    draw_copies(args.copies, results, pictures)
    summary = {"machine": f"{os.cpu_count()} cores (shared), torch threads {args.threads}",
               "prompts": args.prompts, "seeds": args.seeds, "dial_prompts": args.dial_prompts,
               "encoder": str(args.encoder),
               "also_encoders": [str(p) for p in args.also_encoder],
               "folders": results, "grid": str(args.grid), "copies": str(args.copies)}
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def merge(args, encoders: list[Path]) -> int:
    """Measure earlier runs' pictures again with ``encoders`` and draw one grid."""
    results, pictures = [], []
    for path in args.draw_from:
        run = json.loads(path.read_text())
        saved = np.load(path.with_suffix(".npz"))
        args.prompts, args.seeds = run["prompts"], run["seeds"]
        args.dial_prompts = run["dial_prompts"]
        for r in run["folders"]:
            prefix = f"{r['folder']}__"
            images = {k[len(prefix):]: saved[k] for k in saved.files if k.startswith(prefix)}
            keep = {k: v for k, v in r.items() if k not in ("by_encoder",)}
            results.append(measure_all(keep, images, encoders, args))
            pictures.append(images)
    return finish(args, results, pictures)


if __name__ == "__main__":
    sys.exit(main())
