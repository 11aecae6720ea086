"""Exact low/high-resolution pairs for the upscaler, rendered from the iconify SVGs.

The training icons are vector drawings, so the truth at any size is free: each selected icon
is rendered with resvg at 32 px (the generator's size, the same renderer as ``t2i data
build``) and at 128 px (4x; the training target), and test icons also at 256 and 512 px
(8x, 16x) for the benchmark.

Split (``stem_split``): the test icons are drawn from the data set's test split, and every
icon whose *stem* (first word of its name, across all sets: home / home-off / home-2, and
also another set's home) is a test stem is removed from training. The data set's own split is
by set + concept, which keeps ``home`` and ``home-off`` apart; near-duplicates would leak.

Layout of ``out_dir`` (``/work/scratch/upscale`` by default in the scripts):
``train32.npy`` / ``train128.npy`` (N,H,W,4 uint8), ``train.jsonl``; ``test{32,128,256,512}.npy``
and ``test.jsonl`` (with ``kind``: mono or colour).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from t2i_core.data.build import _rasterize, _svg, default_cache_dir
from t2i_core.data.sources import fetch_npm_package

TEST_SIZES = (32, 128, 256, 512)
TRAIN_SIZES = (32, 128)


def stem(name: str) -> str:
    """'home-off' -> 'home'; 'home-2' -> 'home'; 'grinning-face' -> 'grinning'."""
    words = [w for w in re.split(r"[-_:\s]+", name.lower()) if w]
    return words[0] if words else name


def kind_of(item: dict) -> str:
    """'mono' for single-colour icon sets, 'colour' for emoji and multicolour sets."""
    return "mono" if item["style"] == "icon" else "colour"


def _order(item: dict) -> str:
    return hashlib.sha1(f"{item['set']}:{item['name']}".encode()).hexdigest()


def stem_split(items: list[dict], n_test_per_kind: int, n_train_per_kind: int
               ) -> tuple[list[dict], list[dict]]:
    """(test, train): test icons from the data set's test split, ``n_test_per_kind`` mono and
    colour each; train icons from its train split minus every test stem, in a fixed order."""
    test: list[dict] = []
    for kind in ("mono", "colour"):
        pool = [it for it in items if it["split"] == "test" and kind_of(it) == kind]
        test += sorted(pool, key=_order)[:n_test_per_kind]
    held = {stem(it["name"]) for it in test}
    train: list[dict] = []
    for kind in ("mono", "colour"):
        pool = [it for it in items if it["split"] == "train" and kind_of(it) == kind
                and stem(it["name"]) not in held]
        train += sorted(pool, key=_order)[:n_train_per_kind]
    return test, train


def load_svgs(items: list[dict], iconify_dir: Path) -> list[str]:
    """The SVG source of each item, exactly as ``t2i data build`` rendered it."""
    by_set: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_set.setdefault(it["set"], []).append(i)
    svgs = [""] * len(items)
    for prefix, idx in by_set.items():
        data = json.loads((iconify_dir / "json" / f"{prefix}.json").read_text())
        for i in idx:
            svgs[i] = _svg(data["icons"][items[i]["name"]], data)
    return svgs


def render(svgs: list[str], size: int, desc: str) -> np.ndarray:
    out = np.zeros((len(svgs), size, size, 4), np.uint8)
    for i, svg in enumerate(tqdm(svgs, desc=desc, unit="icon", leave=False)):
        raw = _rasterize((svg, size))
        if raw is not None:
            out[i] = np.frombuffer(raw, np.uint8).reshape(size, size, 4)
    return out


def build_pairs(data_dir: Path, out_dir: Path, n_test_per_kind: int = 300,
                n_train_per_kind: int = 6000, iconify_dir: Path | None = None) -> dict:
    items = [json.loads(line) for line in (data_dir / "meta.jsonl").open()]
    iconify_dir = iconify_dir or fetch_npm_package("@iconify/json", default_cache_dir())
    test, train = stem_split(items, n_test_per_kind, n_train_per_kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, subset, sizes in (("test", test, TEST_SIZES), ("train", train, TRAIN_SIZES)):
        svgs = load_svgs(subset, iconify_dir)
        for size in sizes:
            path = out_dir / f"{name}{size}.npy"
            if not path.exists():
                arr = render(svgs, size, f"{name} {size}px")
                np.save(path.with_suffix(".tmp.npy"), arr)
                path.with_suffix(".tmp.npy").replace(path)
        with open(out_dir / f"{name}.jsonl", "w") as f:
            for it in subset:
                f.write(json.dumps({"set": it["set"], "name": it["name"], "kind": kind_of(it),
                                    "stem": stem(it["name"]), "caption": it["caption"]}) + "\n")
        summary[name] = {"icons": len(subset),
                         "mono": sum(kind_of(it) == "mono" for it in subset),
                         "colour": sum(kind_of(it) == "colour" for it in subset)}
    summary["test_stems"] = len({stem(it["name"]) for it in test})
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
