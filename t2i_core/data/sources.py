"""Where the training images come from, and which of them we may use.

The data are the npm packages ``@iconify/json`` (icon sets, each with its own licence) and
``emojibase-data`` (CLDR labels and tags for every emoji, used as emoji captions). Versions and
integrity hashes are pinned so that ``t2i data build`` is reproducible; the tarballs are fetched
with the ordinary ``npm pack`` client and cached.

The licence policy lives here, in one place, so the model card and ATTRIBUTION can quote it:
only permissive licences (MIT, Apache-2.0, CC-BY, CC0, OFL, ISC, BSD); no share-alike, no GPL,
no non-commercial; no brand-logo sets and no icons that iconify files under a brand category.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from t2i_core.errors import T2IError

# name -> (version, sha1 shown by `npm pack`)
NPM_PACKAGES: dict[str, tuple[str, str]] = {
    "@iconify/json": ("2.2.535", "393e49fdf380f1c633c460af60bf0527191a66a7"),
    "emojibase-data": ("17.0.0", "5816fba6395da6b567fbd54b029ca6b5de2d9255"),
}

PERMISSIVE_LICENCES = {
    "MIT", "Apache-2.0", "CC-BY-4.0", "CC-BY-3.0", "CC0-1.0", "OFL-1.1", "ISC",
    "BSD-2-Clause", "BSD-3-Clause",
}

# Icon-set categories in iconify that are logos, programming-language/file-type icons, or flags.
EXCLUDED_CATEGORIES = {"Logos", "Programming", "Flags / Maps"}
# Sets that are mostly brand marks or symbols of products even though filed elsewhere.
EXCLUDED_SETS = {
    "simple-icons", "fa-brands", "fa6-brands", "bxl", "cib", "brandico", "entypo-social",
    "ri-logos", "openmoji", "emojione-v1", "fluent-emoji",  # fluent-emoji: 3D bitmaps, not SVG
    "token", "web3icons", "cryptocurrency", "arcticons", "game-icons-no", "noto-v1",
}
# Colour emoji sets: captions come from emojibase via the set's codepoint map.
EMOJI_SETS = ["twemoji", "noto", "fluent-emoji-flat", "fxemoji", "emojione", "streamline-emojis"]
# Icon categories inside a set that hold brand marks (e.g. mdi's "Brand / Logo").
BRAND_CATEGORY_WORDS = ("brand", "logo", "social")


@dataclass(frozen=True)
class IconSet:
    prefix: str
    name: str
    author: str
    author_url: str
    licence: str
    licence_url: str
    multicolor: bool
    category: str


def fetch_npm_package(name: str, cache_dir: Path) -> Path:
    """Return the unpacked folder of a pinned npm package, fetching it with `npm pack` once."""
    version, sha1 = NPM_PACKAGES[name]
    dest = cache_dir / f"{name.replace('/', '__')}-{version}"
    if (dest / "package" / "package.json").exists():
        return dest / "package"
    if shutil.which("npm") is None:
        raise T2IError("npm_missing", "`npm` is needed to fetch the icon data; install Node.js "
                       "(Debian: apt-get install npm) and run `t2i data build` again")
    cache_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["npm", "pack", f"{name}@{version}", "--json"], cwd=cache_dir,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise T2IError("npm_failed", f"`npm pack {name}@{version}` failed: {proc.stderr[-500:]}")
    info = json.loads(proc.stdout)[0]
    tarball = cache_dir / info["filename"]
    digest = hashlib.sha1(tarball.read_bytes()).hexdigest()
    if sha1 and digest != sha1:
        raise T2IError("npm_integrity", f"{tarball.name} has sha1 {digest}, expected {sha1}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def allowed_icon_sets(iconify_dir: Path) -> list[IconSet]:
    """The icon sets whose licence and content we accept, in a stable order."""
    collections = json.loads((iconify_dir / "collections.json").read_text())
    sets: list[IconSet] = []
    for prefix, info in sorted(collections.items()):
        spdx = info.get("license", {}).get("spdx", "")
        category = info.get("category") or ""
        if spdx not in PERMISSIVE_LICENCES or prefix in EXCLUDED_SETS:
            continue
        if category in EXCLUDED_CATEGORIES or "logo" in prefix or "brand" in prefix:
            continue
        if category == "Emoji" and prefix not in EMOJI_SETS:
            continue
        author = info.get("author", {})
        sets.append(IconSet(
            prefix=prefix, name=info.get("name", prefix), author=author.get("name", ""),
            author_url=author.get("url", ""), licence=spdx,
            licence_url=info.get("license", {}).get("url", ""),
            multicolor=bool(info.get("palette")), category=category))
    return sets


def load_emoji_labels(emojibase_dir: Path) -> dict[str, dict]:
    """hexcode (upper case, no FE0F) -> {'label', 'tags'} from emojibase's English data."""
    entries = json.loads((emojibase_dir / "en" / "data.json").read_text())
    out: dict[str, dict] = {}
    for entry in entries:
        key = entry["hexcode"].upper().replace("-FE0F", "")
        out[key] = {"label": entry["label"], "tags": entry.get("tags", [])}
    return out
