"""Names and custom properties for generated images (pure Python: tested outside Blender).

Blender custom properties hold strings, 32-bit ints, floats and nested groups, but no None
and no lists of objects. The full provenance is therefore kept as one JSON string
(``t2i_provenance``, the source of truth, read back with ``provenance_from_properties``)
and its scalar fields are copied next to it (``t2i_prompt``, ``t2i_seed``, ...) so that a
person sees them in the Custom Properties panel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PROVENANCE_KEY = "t2i_provenance"
LIVE_IMAGE = "T2I Live"  # the one image that live mode repaints as the user types
PREFIX = "t2i_"
MAX_NAME_BYTES = 63  # Blender's ID name limit (MAX_ID_NAME - 2), in UTF-8 bytes
_INT32 = (-(2 ** 31), 2 ** 31 - 1)
_WEIGHT = re.compile(r"\(([^():]*):\s*[-+]?\d*\.?\d+\s*\)")  # "(red:1.3)" -> "red"
_UNSAFE = re.compile(r"[^\w\s\-,.']+")


def image_name(prompt: str, seed: int, max_words_bytes: int = 40) -> str:
    """A readable datablock name from the prompt: ``"a red apple s7"``."""
    text = _WEIGHT.sub(r"\1", prompt)
    text = " ".join(_UNSAFE.sub(" ", text).split()) or "t2i image"
    if len(text.encode()) > max_words_bytes:
        words, kept = text.split(" "), ""
        for w in words:
            candidate = f"{kept} {w}".strip()
            if len(candidate.encode()) > max_words_bytes:
                break
            kept = candidate
        text = kept or text.encode()[:max_words_bytes].decode(errors="ignore")
    name = f"{text} s{seed}"
    return name.encode()[:MAX_NAME_BYTES].decode(errors="ignore")


def _property_value(value: Any) -> str | int | float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if _INT32[0] <= value <= _INT32[1] else str(value)
    if isinstance(value, float | str):
        return value
    return json.dumps(value, sort_keys=True)


def provenance_properties(provenance: Mapping[str, Any],
                          extra: Mapping[str, Any] | None = None) -> dict[str, str | int | float]:
    """Custom properties for one image: ``{"t2i_provenance": "<json>", "t2i_prompt": ...}``.

    ``extra`` (e.g. the history file) is stored beside it, prefixed the same way."""
    props: dict[str, str | int | float] = {
        PROVENANCE_KEY: json.dumps(dict(provenance), sort_keys=True, allow_nan=False)}
    for key, value in {**provenance, **(extra or {})}.items():
        converted = _property_value(value)
        if converted is not None and re.fullmatch(r"[A-Za-z0-9_]{1,40}", str(key)):
            props[PREFIX + str(key)] = converted
    return props


def provenance_from_properties(props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The provenance stored by ``provenance_properties``, or None if there is none."""
    raw = props.get(PROVENANCE_KEY)
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
