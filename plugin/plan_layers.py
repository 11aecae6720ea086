"""A plan's layered SVG -> one SVG per element kind, standard library only (Krita, Blender).

The worker's plan SVG has one Inkscape layer (``<g inkscape:groupmode="layer">``) per element
kind: rooms, walls, doors, windows, labels, dimensions. Hosts insert each as a vector layer
of its own (``HostAdapter.insert_vector_layer``); every part keeps the whole drawing's
viewBox, so the layers line up when placed in the same rectangle.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from plugin.svg import SVG_NS, parse_svg

INKSCAPE_NS = "http://www.inkscape.org/namespaces/inkscape"
ET.register_namespace("inkscape", INKSCAPE_NS)
LAYER_NAMES = {"rooms": "Rooms", "walls": "Walls", "doors": "Doors", "windows": "Windows",
               "labels": "Labels", "dimensions": "Dimensions"}


def split_layers(svg: str) -> list[tuple[str, str]]:
    """[(kind, svg)] in drawing order (rooms first); ``plugin.svg.SvgError`` if not SVG."""
    root, _ = parse_svg(svg)
    attrs = {k: v for k, v in root.attrib.items() if k in ("width", "height", "viewBox")}
    out = []
    for child in root:
        if child.tag != f"{{{SVG_NS}}}g" or child.get(f"{{{INKSCAPE_NS}}}groupmode") != "layer":
            continue
        part = ET.Element(f"{{{SVG_NS}}}svg", attrs)
        part.append(child)
        out.append((child.get("id", "layer"), ET.tostring(part, encoding="unicode")))
    return out


def plan_metadata(svg: str) -> dict | None:
    """The programme and layout a plan SVG carries (``<metadata id="t2i-plan">``)."""
    import json

    root, _ = parse_svg(svg)
    meta = root.find(f"{{{SVG_NS}}}metadata")
    if meta is None or meta.get("id") != "t2i-plan" or not meta.text:
        return None
    try:
        return json.loads(meta.text)
    except ValueError:
        return None
