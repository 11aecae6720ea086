"""How the plugin's data lives in a Krita document: annotations saved inside the .kra.

Krita keeps document annotations (``Document.setAnnotation(type, description, bytes)``) in
the .kra (``<image>/annotations/<type>``, listed in maindoc.xml) and restores them on open.
Layers have no free-form metadata in Krita's scripting API, but every layer has a UUID that
the .kra keeps, so one annotation maps layer UUIDs to the provenance of generated layers::

    t2i-provenance: {"version": 1, "layers": {"{uuid}": {"name": ..., "provenance": {...}}}}

Other panel data (the generation history) is one annotation per key. An annotation that
cannot be read (edited by hand, another version) counts as empty: the layers matter more.
"""

from __future__ import annotations

import json
import re

PROVENANCE_TYPE = "t2i-provenance"
DESCRIPTIONS = {PROVENANCE_TYPE: "T2I Studio: how each generated layer was made (JSON)"}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def annotation_type(key: str) -> str:
    """The annotation type for a panel data key. It becomes a file name inside the .kra,
    so only letters, digits, ``_ . -`` are kept; every type starts with ``t2i-``."""
    key = _SAFE.sub("_", key)
    return key if key.startswith("t2i-") else f"t2i-{key}"


def description(type_: str) -> str:
    return DESCRIPTIONS.get(type_, f"T2I Studio panel data ({type_})")


def read_layers(raw: bytes | None) -> dict[str, dict]:
    """The layer table of a ``t2i-provenance`` annotation (empty when missing or damaged)."""
    if not raw:
        return {}
    try:
        data = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, dict):
        return {}
    return {k: v for k, v in layers.items() if isinstance(v, dict)}


def with_layer(raw: bytes | None, uuid: str, name: str, provenance: dict) -> bytes:
    """The annotation with one layer's provenance added (or replaced)."""
    layers = read_layers(raw)
    layers[uuid] = {"name": name, "provenance": provenance}
    return json.dumps({"version": 1, "layers": layers}, sort_keys=True).encode("utf-8")
