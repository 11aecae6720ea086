"""The data set's item list, ``meta.jsonl`` (one JSON object a line: caption, alt texts,
split, source, licence), as ``t2i data build`` writes it (build.py)."""

from __future__ import annotations

import json
from pathlib import Path


def load_meta(data_dir: Path) -> list[dict]:
    with open(data_dir / "meta.jsonl") as f:
        return [json.loads(line) for line in f]
