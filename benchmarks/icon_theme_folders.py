"""Three public style folders for the fine-tuning benchmark, from Debian icon themes.

Each folder holds the same 20 freedesktop icon names (a calculator, a microphone, a battery,
a camera, ...) drawn by one theme, so the three folders differ only in their look:

| folder  | Debian package              | look                                   | licence        |
|---------|-----------------------------|----------------------------------------|----------------|
| tango   | tango-icon-theme 0.8.90     | Tango: shaded, dark outline, 32 px PNG | public domain  |
| oxygen  | oxygen-icon-theme 5.103     | Oxygen: glossy, photographic, 48 px PNG| LGPL-3+        |
| papirus | papirus-icon-theme 20230104 | Papirus: flat, round-cornered, SVG     | GPL-3          |

None of these themes is in the built-in model's training data (iconify sets and emojibase,
t2i_core/data/sources.py). The images are only read to build a benchmark folder; nothing of
them is committed. The themes come from ``/usr/share/icons`` when installed, else from
``apt-get download`` + ``dpkg-deb -x`` into a cache folder (no root needed).
File names are kept ("user-trash.png"): the file-name captions are what a user would get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NAMES = ["accessories-calculator", "audio-input-microphone", "battery", "camera-photo",
         "computer", "drive-harddisk", "emblem-favorite", "face-smile", "folder",
         "input-gaming", "input-keyboard", "input-mouse", "internet-mail", "media-floppy",
         "printer", "user-home", "user-trash", "weather-clear", "weather-showers",
         "weather-snow"]

# folder -> (Debian package, theme dir under usr/share/icons, size dir, extension, licence)
THEMES = {
    "tango": ("tango-icon-theme", "Tango", "32x32", ".png", "public domain"),
    "oxygen": ("oxygen-icon-theme", "oxygen/base", "48x48", ".png", "LGPL-3+"),
    "papirus": ("papirus-icon-theme", "Papirus", "48x48", ".svg", "GPL-3"),
}
TRIGGERS = {"tango": "tango style", "oxygen": "oxygen style", "papirus": "papirus style"}
RASTER = 64  # SVGs are drawn at this size


def package_root(package: str, theme: str, cache: Path) -> Path:
    """``usr/share/icons/<theme>`` of a Debian package: the system's when installed, else the
    package fetched with ``apt-get download`` and extracted into ``cache`` (no root needed)."""
    system = Path("/usr/share/icons") / theme
    if system.is_dir():
        return system
    extracted = cache / package
    root = extracted / "usr/share/icons" / theme
    if not root.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", package], cwd=cache, check=True,
                       capture_output=True)
        deb = next(cache.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(extracted)], check=True)
    return root


def theme_root(folder: str, cache: Path) -> Path:
    """The theme's size folder, from the system or from the package extracted into cache."""
    package, theme, size, _, _ = THEMES[folder]
    base, _, sub = theme.partition("/")
    root = package_root(package, base, cache)
    return (root / sub if sub else root) / size


def build_theme_folder(folder: str, out: Path, cache: Path | None = None) -> Path:
    """Write the 20 icons of theme ``folder`` into ``out`` (PNG; SVG drawn with resvg)."""
    cache = cache or Path(os.environ.get("T2I_BENCH_CACHE",
                                         Path.home() / ".cache/t2i-studio/icon-themes"))
    root = theme_root(folder, cache)
    ext = THEMES[folder][3]
    out.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        src = next(root.glob(f"*/{name}{ext}"))
        dst = out / f"{name}.png"
        if ext == ".png":
            shutil.copyfile(src.resolve(), dst)
        else:
            import resvg_py

            png = resvg_py.svg_to_bytes(svg_path=str(src.resolve()), width=RASTER,
                                        height=RASTER)
            dst.write_bytes(bytes(png))
    return out


def other_icons(folder: str, count: int = 200, cache: Path | None = None) -> list[bytes]:
    """Up to ``count`` icons of the same theme showing *other* subjects (no word of their
    file name in common with the 20 folder names: no "folder-documents" next to "folder"),
    as PNG bytes: what the theme's own artists draw for new subjects, to calibrate the
    style and copy measures (docs/finetune.md "What the copy measure counts")."""
    import numpy as np

    cache = cache or Path(os.environ.get("T2I_BENCH_CACHE",
                                         Path.home() / ".cache/t2i-studio/icon-themes"))
    root = theme_root(folder, cache)
    ext = THEMES[folder][3]
    words = {w for n in NAMES for w in n.split("-")}
    files = sorted(p for p in root.glob(f"*/*{ext}")
                   if not p.is_symlink() and not set(p.stem.split("-")) & words)
    pick = np.random.default_rng(0).choice(len(files), min(count, len(files)), replace=False)
    out = []
    for i in sorted(pick):
        if ext == ".png":
            out.append(files[i].read_bytes())
        else:
            import resvg_py

            out.append(bytes(resvg_py.svg_to_bytes(svg_path=str(files[i]), width=RASTER,
                                                   height=RASTER)))
    return out


if __name__ == "__main__":
    import sys

    base = Path(sys.argv[1] if len(sys.argv) > 1 else "icon-folders")
    for f in THEMES:
        print(build_theme_folder(f, base / f))
