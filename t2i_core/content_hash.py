"""The content hash of a weights file: its SHA-256, read in chunks (files are gigabytes).

One function for every backend: a model's hash is what provenance records and what A1111
shows as "Model hash" (the first 10 hex digits), so all must compute it the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 22


def file_sha256(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
