"""Drawing -> DXF (ezdxf): metres, one layer per element kind, real DIMENSION entities.

Layers: ROOMS (a closed polyline per room), WALLS (solid hatches with their outlines),
DOORS (leaf line + swing arc), WINDOWS (opening outline + glazing line), LABELS (text: name
and area), DIMENSIONS (linear dimensions rendered as blocks). $INSUNITS = 6 (metres).
"""

from __future__ import annotations

import io
import math

import ezdxf
from ezdxf import units
from ezdxf.enums import TextEntityAlignment

from t2i_core.plan.drawing import Drawing

LAYER_COLOURS = {"ROOMS": 8, "WALLS": 7, "DOORS": 1, "WINDOWS": 5, "LABELS": 3,
                 "DIMENSIONS": 2}


def to_dxf(drawing: Drawing) -> str:
    doc = ezdxf.new("R2010", setup=True)
    doc.units = units.M
    doc.header["$INSUNITS"] = 6
    doc.header["$MEASUREMENT"] = 1
    for name, colour in LAYER_COLOURS.items():
        doc.layers.add(name, color=colour)
    msp = doc.modelspace()
    for r in drawing.rooms:
        msp.add_lwpolyline(r["polygon"], close=True, dxfattribs={"layer": "ROOMS"})
    for w in drawing.walls:
        hatch = msp.add_hatch(color=7, dxfattribs={"layer": "WALLS"})
        hatch.paths.add_polyline_path(w["exterior"], is_closed=True, flags=1)
        for hole in w["holes"]:
            hatch.paths.add_polyline_path(hole, is_closed=True, flags=0)
        msp.add_lwpolyline(w["exterior"], close=True, dxfattribs={"layer": "WALLS"})
        for hole in w["holes"]:
            msp.add_lwpolyline(hole, close=True, dxfattribs={"layer": "WALLS"})
    for d in drawing.doors:
        msp.add_line(d["hinge"], d["open"], dxfattribs={"layer": "DOORS"})
        (hx, hy), (cx, cy), (ox, oy) = d["hinge"], d["closed"], d["open"]
        a0 = math.degrees(math.atan2(cy - hy, cx - hx))
        a1 = math.degrees(math.atan2(oy - hy, ox - hx))
        # ARC runs counter-clockwise from start to end: order the two leaf angles so.
        start, end = (a0, a1) if (a1 - a0) % 360 <= 180 else (a1, a0)
        msp.add_arc((hx, hy), d["width"], start, end, dxfattribs={"layer": "DOORS"})
    for w in drawing.windows:
        msp.add_lwpolyline(w["opening"], close=True, dxfattribs={"layer": "WINDOWS"})
        msp.add_line(*w["segment"], dxfattribs={"layer": "WINDOWS"})
    for lab in drawing.labels:
        x, y = lab["at"]
        h = lab["height"]
        msp.add_text(lab["text"], height=h, dxfattribs={"layer": "LABELS"}).set_placement(
            (x, y + h * 0.6), align=TextEntityAlignment.MIDDLE_CENTER)
        msp.add_text(lab["area"].replace("m²", "m2"), height=h * 0.85,
                     dxfattribs={"layer": "LABELS"}).set_placement(
            (x, y - h * 0.6), align=TextEntityAlignment.MIDDLE_CENTER)
    for dim in drawing.dimensions:
        (x0, y0), (x1, y1) = dim["from"], dim["to"]
        ox, oy = dim["offset"]
        angle = 0 if abs(y1 - y0) < 1e-9 else 90
        base = ((x0 + x1) / 2 + ox, (y0 + y1) / 2 + oy)
        msp.add_linear_dim(base=base, p1=(x0, y0), p2=(x1, y1), angle=angle,
                           override={"dimtxt": 0.2, "dimasz": 0.12, "dimdec": 2},
                           dxfattribs={"layer": "DIMENSIONS"}).render()
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue()
