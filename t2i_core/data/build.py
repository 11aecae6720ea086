"""`t2i data build`: icons and emoji -> a captioned, split, 32 px RGBA training set.

Steps (each deterministic for the pinned package versions):
1. fetch ``@iconify/json`` and ``emojibase-data`` with npm (sources.py), keep permissive sets;
2. pick icons: colour emoji without skin-tone variants (captioned from emojibase labels and
   tags), multicolour UI icons, and one drawing per concept of each monochrome set (variants
   such as ``-outline``/``-filled`` collapse), capped per set with everyday concepts first;
3. rasterize each SVG with resvg at the target size, alpha kept;
4. split train/val/test by *concept group* (set + concept), so every variant of a drawing
   lands in the same split and the test split is never trained on;
5. write ``images.npy`` (N,H,W,4 uint8), ``meta.jsonl`` and ``ATTRIBUTION.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from t2i_core.data.sources import (
    BRAND_CATEGORY_WORDS,
    EMOJI_SETS,
    IconSet,
    allowed_icon_sets,
    fetch_npm_package,
    load_emoji_labels,
)

# Words that name a drawing style or a size, not the thing drawn.
VARIANT_WORDS = {
    "outline", "outlined", "outlines", "filled", "fill", "solid", "line", "linear", "lined",
    "bold", "duotone", "twotone", "sharp", "round", "rounded", "light", "thin", "regular",
    "broken", "bulk", "alt", "baseline", "small", "sm", "md", "lg", "mini", "micro", "glyph",
    "stroke", "full", "variant", "color", "colored", "flat", "remix", "o",
}
# Skin-tone variants ("-medium-dark-skin-tone", twemoji/noto; "-medium-dark", fluent; "tone3",
# emojione) would be half of each emoji set and teach nothing new: keep the default only.
SKIN_TONE = re.compile(
    r"(light|medium|dark)-skin-tone|-tone\d?$|tone[1-5]|-(medium-)?(light|medium|dark)$")
MAX_MONO_PER_SET = 400
MAX_COLOR_PER_SET = 1200


@dataclass
class Item:
    set: str
    name: str
    caption: str  # canonical caption: "house emoji", "home icon", ...
    alt: list[str] = field(default_factory=list)  # synonyms and tags, for augmentation
    style: str = "icon"  # "emoji" | "color" | "icon"
    concept: str = ""  # words of the drawn thing, without style words
    split: str = "train"


def concept_words(name: str) -> list[str]:
    """'home-variant-outline' -> ['home']; 'account-arrow-left' -> ['account','arrow','left']."""
    words = [w for w in re.split(r"[-_:\s]+", name.lower()) if w]
    kept = [w for w in words if w not in VARIANT_WORDS and not w.isdigit()]
    return kept or words


def split_of(group: str, val: float = 0.05, test: float = 0.05) -> str:
    h = int(hashlib.sha1(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "val" if h < test + val else "train"


def _svg(icon: dict, defaults: dict) -> str:
    w = icon.get("width", defaults.get("width", 16))
    h = icon.get("height", defaults.get("height", 16))
    left, top = icon.get("left", defaults.get("left", 0)), icon.get("top", defaults.get("top", 0))
    side = max(w, h)  # centre non-square icons in a square canvas
    x0, y0 = left - (side - w) / 2, top - (side - h) / 2
    body = icon["body"].replace("currentColor", "#000000")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{x0} {y0} {side} {side}">{body}</svg>')


def _rasterize(job: tuple[str, int]) -> bytes | None:
    import resvg_py  # imported in the worker process

    svg, size = job
    try:
        png = resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size)
        img = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
        if img.size != (size, size):
            img = img.resize((size, size), Image.LANCZOS)
        arr = np.asarray(img, dtype=np.uint8)
        return arr.tobytes() if arr[..., 3].max() > 0 else None
    except Exception:  # a broken SVG is skipped, not fatal
        return None


def _icons_of_set(s: IconSet, data: dict, emoji: dict[str, dict], everyday: set[str],
                  rng: random.Random) -> list[tuple[Item, str]]:
    hidden = {n for n, ic in data["icons"].items() if ic.get("hidden")}
    brand = set()
    for cat, names in data.get("categories", {}).items():
        if any(w in cat.lower() for w in BRAND_CATEGORY_WORDS):
            brand.update(names)
    aliases = defaultdict(list)
    for alias, info in data.get("aliases", {}).items():
        aliases[info.get("parent", "")].append(alias)
    cats = defaultdict(list)
    for cat, names in data.get("categories", {}).items():
        for n in names:
            cats[n].append(cat.lower())
    out: list[tuple[Item, str]] = []
    if s.prefix in EMOJI_SETS:
        by_name = {name: hexcode.upper() for hexcode, name in data.get("chars", {}).items()}
        for name, icon in data["icons"].items():
            if name in hidden or SKIN_TONE.search(name):
                continue
            info = emoji.get(by_name.get(name, "").replace("-FE0F", ""))
            label = info["label"] if info else " ".join(name.split("-"))
            tags = info["tags"] if info else []
            item = Item(set=s.prefix, name=name, caption=f"{label} emoji", style="emoji",
                        alt=[label, *tags, *[a.replace("-", " ") for a in aliases[name]]],
                        concept=label)
            out.append((item, _svg(icon, data)))
        return out
    # Icon sets: one drawing per concept (the shortest name wins), then a per-set cap.
    by_concept: dict[str, str] = {}
    for name in sorted(data["icons"], key=lambda n: (len(n), n)):
        if name in hidden or name in brand:
            continue
        key = " ".join(concept_words(name))
        by_concept.setdefault(key, name)
    concepts = sorted(by_concept)
    rng.shuffle(concepts)
    concepts.sort(key=lambda c: not (set(c.split()) & everyday))  # stable: everyday first
    cap = MAX_COLOR_PER_SET if s.multicolor else MAX_MONO_PER_SET
    style = "color" if s.multicolor else "icon"
    noun = "color icon" if s.multicolor else "icon"
    for key in concepts[:cap]:
        name = by_concept[key]
        alt = [key, *[" ".join(concept_words(a)) for a in aliases[name]], *cats[name]]
        item = Item(set=s.prefix, name=name, caption=f"{key} {noun}", style=style,
                    alt=list(dict.fromkeys(a for a in alt if a)), concept=key)
        out.append((item, _svg(data["icons"][name], data)))
    return out


def default_cache_dir() -> Path:
    """Where fetched npm tarballs are kept between builds (XDG cache)."""
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "t2i-studio" / "npm"


def build_dataset(out_dir: Path, size: int = 32, cache_dir: Path | None = None,
                  workers: int = 2, limit_sets: int | None = None) -> dict:
    """Build the data set into ``out_dir``; returns summary counts."""
    cache_dir = cache_dir or default_cache_dir()
    iconify = fetch_npm_package("@iconify/json", cache_dir)
    emojibase = fetch_npm_package("emojibase-data", cache_dir)
    emoji = load_emoji_labels(emojibase)
    everyday = {w for e in emoji.values() for w in e["label"].lower().split()}
    sets = allowed_icon_sets(iconify)[:limit_sets]
    rng = random.Random(0)
    items: list[Item] = []
    svgs: list[str] = []
    used_sets: list[IconSet] = []
    for s in tqdm(sets, desc="selecting icons", unit="set"):
        data = json.loads((iconify / "json" / f"{s.prefix}.json").read_text())
        picked = _icons_of_set(s, data, emoji, everyday, rng)
        if picked:
            used_sets.append(s)
        for item, svg in picked:
            item.split = split_of(f"{item.set}:{item.concept}")
            items.append(item)
            svgs.append(svg)
    images = np.zeros((len(items), size, size, 4), dtype=np.uint8)
    keep = np.zeros(len(items), dtype=bool)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_rasterize, [(s, size) for s in svgs], chunksize=64)
        for i, raw in enumerate(tqdm(results, total=len(svgs), desc="rasterizing", unit="icon")):
            if raw is not None:
                images[i] = np.frombuffer(raw, dtype=np.uint8).reshape(size, size, 4)
                keep[i] = True
    items = [it for it, k in zip(items, keep, strict=True) if k]
    images = images[keep]
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / f"images{size}.npy", images)
    with open(out_dir / "meta.jsonl", "w") as f:
        for it in items:
            f.write(json.dumps(asdict(it)) + "\n")
    counts = Counter(it.set for it in items)
    write_attribution(out_dir / "ATTRIBUTION.md", [s for s in used_sets if counts[s.prefix]],
                      counts)
    summary = {"images": len(items), "sets": len(counts), "size": size,
               "splits": dict(Counter(it.split for it in items)),
               "styles": dict(Counter(it.style for it in items))}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def write_attribution(path: Path, sets: list[IconSet], counts: Counter) -> None:
    lines = [
        "# Attribution of the built-in model's training data", "",
        "The built-in model was trained on icons and emoji from the npm package `@iconify/json` "
        "(which redistributes each set under its own licence) with emoji captions from "
        "`emojibase-data` (MIT). Every set used, its author and licence:", "",
        "| set | name | author | licence | icons used |", "|---|---|---|---|---|",
    ]
    for s in sets:
        author = f"[{s.author}]({s.author_url})" if s.author_url else s.author
        lic = f"[{s.licence}]({s.licence_url})" if s.licence_url else s.licence
        lines.append(f"| `{s.prefix}` | {s.name} | {author} | {lic} | {counts[s.prefix]} |")
    lines += ["", "Emoji captions: emojibase-data 17.0.0, MIT, by Miles Johnson.", ""]
    path.write_text("\n".join(lines))
