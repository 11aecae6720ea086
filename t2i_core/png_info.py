"""PNG files that remember how they were made.

A1111, ComfyUI's loaders and many viewers read the ``parameters`` tEXt chunk (prompt, a
"Negative prompt:" line, then "Steps: 20, Sampler: ..., Seed: ..."). We write it, plus a
``t2i-provenance`` chunk with the full provenance as JSON so nothing is lost to parsing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from t2i_core.backends.base import Provenance


def save_png(path: Path, rgba: np.ndarray, provenance: Provenance | None = None,
             compress_level: int = 6) -> Path:
    """Write atomically (temp file + rename). ``compress_level`` 1 is ~4x faster than the
    default 6 for ~15% bigger files: the worker's history uses it on the hot path."""
    info = PngImagePlugin.PngInfo()
    if provenance is not None:
        info.add_text("parameters", provenance.a1111_parameters())
        info.add_text("t2i-provenance", json.dumps(provenance.to_dict()))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    Image.fromarray(rgba, "RGBA").save(tmp, format="PNG", pnginfo=info,
                                       compress_level=compress_level)
    tmp.replace(path)
    return path


def read_provenance(path: Path) -> Provenance | None:
    with Image.open(path) as im:
        raw = im.info.get("t2i-provenance")
    return Provenance.from_dict(json.loads(raw)) if raw else None
