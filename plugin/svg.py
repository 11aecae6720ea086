"""SVG text for vector layers, standard library only (runs inside Krita and Blender).

A result's SVG has its own ``viewBox`` (the drawing's pixel grid) and ``width``/``height``.
Hosts place it in a document rectangle: ``placed_svg`` gives each of the drawing's elements a
transform that maps its viewBox onto that rectangle, inside an SVG the size of the document, so
a host that reads SVG in document coordinates (Krita's ``addShapesFromSvg``, Blender's
importer) puts the shapes exactly there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG_NS = "http://www.w3.org/2000/svg"
MAX_SVG_CHARS = 4 * 1024 * 1024  # a result's SVG is KBs; anything this large is not ours
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


class SvgError(ValueError):
    """The text is not an SVG drawing; the message says why."""


@dataclass(frozen=True)
class SvgBox:
    """An SVG's viewBox (x, y, width, height) and its displayed width and height."""

    x: float
    y: float
    width: float
    height: float
    shown_width: float
    shown_height: float


def parse_svg(svg: str) -> tuple[ET.Element, SvgBox]:
    """The root element and its box; raises ``SvgError`` for anything that is not SVG."""
    if not isinstance(svg, str) or not svg.strip():
        raise SvgError("the SVG text is empty")
    if len(svg) > MAX_SVG_CHARS:
        raise SvgError(f"the SVG is {len(svg)} characters; at most {MAX_SVG_CHARS} are read")
    if "<!ENTITY" in svg:  # no entity expansion (billion laughs): results never use them
        raise SvgError("the SVG declares XML entities, which are not accepted")
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        raise SvgError(f"the SVG is not well-formed XML ({e})") from None
    if root.tag not in (f"{{{SVG_NS}}}svg", "svg"):
        raise SvgError(f"the root element is <{root.tag}>, not <svg>")
    shown_w, shown_h = _length(root.get("width")), _length(root.get("height"))
    box = [float(v) for v in re.split(r"[\s,]+", root.get("viewBox", "").strip()) if v] \
        if root.get("viewBox") else []
    if len(box) == 4 and box[2] > 0 and box[3] > 0:
        x, y, w, h = box
    elif shown_w and shown_h:
        x, y, w, h = 0.0, 0.0, shown_w, shown_h
    else:
        raise SvgError("the SVG has neither a viewBox nor a width and height")
    return root, SvgBox(x, y, w, h, shown_w or w, shown_h or h)


def placed_svg(svg: str, x: float, y: float, width: float, height: float,
               canvas_width: float, canvas_height: float) -> str:
    """``svg`` scaled to fill the rectangle (x, y, width, height) of a canvas of the given
    size, as one SVG in canvas pixels (viewBox = the canvas)."""
    root, box = parse_svg(svg)
    sx, sy = width / box.width, height / box.height
    place = (f"translate({_n(x)} {_n(y)}) scale({_n(sx)} {_n(sy)}) "
             f"translate({_n(-box.x)} {_n(-box.y)})")
    out = ET.Element(f"{{{SVG_NS}}}svg", {
        "width": _n(canvas_width), "height": _n(canvas_height),
        "viewBox": f"0 0 {_n(canvas_width)} {_n(canvas_height)}"})
    for child in root:
        # The placement goes on each top-level element, not on a wrapping group: every
        # colour region stays a shape of its own (one click selects it in Krita).
        if child.tag in (f"{{{SVG_NS}}}defs", f"{{{SVG_NS}}}metadata", f"{{{SVG_NS}}}title"):
            out.append(child)
            continue
        own = child.get("transform")
        child.set("transform", f"{place} {own}" if own else place)
        out.append(child)
    return ET.tostring(out, encoding="unicode")


def sized_svg(svg: str, width: int, height: int) -> str:
    """``svg`` with its displayed size set to ``width`` x ``height`` (viewBox kept, aspect
    stretched to fill as layers are): how a studio layer stores its drawing."""
    root, box = parse_svg(svg)
    root.set("width", str(width))
    root.set("height", str(height))
    root.set("viewBox", f"{_n(box.x)} {_n(box.y)} {_n(box.width)} {_n(box.height)}")
    root.set("preserveAspectRatio", "none")
    return ET.tostring(root, encoding="unicode")


def _length(text: str | None) -> float:
    """'512', '512px', '512.0' -> 512.0; percentages or other units -> 0 (unknown)."""
    if not text:
        return 0.0
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(px)?\s*", text)
    return float(m.group(1)) if m else 0.0


def _n(v: float) -> str:
    return f"{v:.6g}"
