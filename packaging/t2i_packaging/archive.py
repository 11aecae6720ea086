"""Reproducible zips: sorted entries, fixed timestamps, no caches."""

from __future__ import annotations

import zipfile
from pathlib import Path

EPOCH = (2020, 1, 1, 0, 0, 0)  # zip cannot store dates before 1980; any fixed date will do
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


def included(path: Path) -> bool:
    return not (set(path.parts) & SKIP_DIRS) and path.suffix not in SKIP_SUFFIXES


def write_zip(root: Path, out: Path, directories: bool = False) -> list[str]:
    """Zip the *contents* of ``root`` (its top folders become the zip's top folders).
    Returns the archive names. The file is written beside ``out`` and renamed into place.
    ``directories``: also store folder entries (``name/``); Krita's plugin importer finds a
    plugin's module by its folder entry."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    names = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file() or directories):
            rel = path.relative_to(root)
            if not included(rel):
                continue
            if path.is_dir():
                info = zipfile.ZipInfo(rel.as_posix() + "/", EPOCH)
                info.external_attr = (0o40755 << 16) | 0x10  # a folder, for unzip and Krita
                zf.writestr(info, b"")
                names.append(info.filename)
                continue
            info = zipfile.ZipInfo(rel.as_posix(), EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            zf.writestr(info, path.read_bytes())
            names.append(info.filename)
    tmp.replace(out)
    return names
