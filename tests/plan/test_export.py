"""Drawing and files: walls with thickness, doors with arcs, windows, labels, dimensions;
a layered SVG and a DXF in metres with one layer per element kind."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import ezdxf
import pytest
from shapely.geometry import Polygon

from t2i_core.plan.api import plan_from_text
from t2i_core.plan.drawing import EXTERIOR_WALL, INTERIOR_WALL, LAYERS

SVG = "{http://www.w3.org/2000/svg}"
INK = "{http://www.inkscape.org/namespaces/inkscape}"


@pytest.fixture(scope="module")
def plan():
    return plan_from_text("a two-bedroom apartment with an open kitchen, 70 m², living room "
                          "facing south", variants=1)


def test_drawing_geometry(plan):
    v = plan.variants[0]
    d, lay = v.drawing, v.layout
    walls = [Polygon(w["exterior"], w["holes"]) for w in d.walls]
    wall_area = sum(w.area for w in walls)
    # walls: the outer band (exterior thickness) plus the interior walls, minus openings
    outer_band = (lay.width + 2 * (EXTERIOR_WALL - INTERIOR_WALL / 2)) * (
        lay.depth + 2 * (EXTERIOR_WALL - INTERIOR_WALL / 2)) - lay.width * lay.depth
    assert outer_band * 0.8 < wall_area < outer_band + 2 * lay.width * lay.depth * 0.1
    box_area = sum((b[2] - b[0]) * (b[3] - b[1]) for b in d.wall_boxes)
    assert box_area == pytest.approx(wall_area, rel=1e-6)  # the boxes cover the walls exactly
    assert len(d.doors) == len(lay.doors) + 1  # + the entrance
    entrance = [x for x in d.doors if x["entrance"]]
    assert len(entrance) == 1 and entrance[0]["width"] == 0.9
    for door in d.doors:  # the swing arc is a quarter circle about the hinge
        hx, hy = door["hinge"]
        for x, y in door["arc"]:
            assert ((x - hx) ** 2 + (y - hy) ** 2) ** 0.5 == pytest.approx(door["width"],
                                                                           abs=1e-3)
    rooms_with_windows = {w["room"] for w in d.windows}
    for r in lay.rooms:
        if r.kind in ("living", "bedroom", "kitchen"):
            assert r.id in rooms_with_windows, r.id
    living = lay.room("living_1")
    assert any(w["room"] == "living_1" and w["side"] == "S" for w in d.windows), living
    assert {lab["room"] for lab in d.labels} == {r.id for r in lay.rooms}
    assert any(dim["kind"] == "overall" and dim["text"] == f"{lay.width:.2f} m"
               for dim in d.dimensions)
    # the open kitchen has no wall between it and the living room
    k, li = lay.room("kitchen_1"), lay.room("living_1")
    mid_shared = None
    for a, b in ((k, li), (li, k)):
        if abs(a.x + a.w - b.x) < 1e-6:
            y0, y1 = max(a.y, b.y), min(a.y + a.h, b.y + b.h)
            mid_shared = (b.x, (y0 + y1) / 2)
        if abs(a.y + a.h - b.y) < 1e-6:
            x0, x1 = max(a.x, b.x), min(a.x + a.w, b.x + b.w)
            mid_shared = ((x0 + x1) / 2, b.y)
    from shapely.geometry import Point

    assert mid_shared is not None
    assert not any(w.contains(Point(mid_shared)) for w in walls)


def test_svg_layers(plan):
    svg = plan.variants[0].svg
    root = ET.fromstring(svg)
    layers = [g.get(f"{INK}label") for g in root.findall(f"{SVG}g")
              if g.get(f"{INK}groupmode") == "layer"]
    assert layers == ["Rooms", "Walls", "Doors", "Windows", "Labels", "Dimensions"]
    by_id = {g.get("id"): g for g in root.findall(f"{SVG}g")}
    assert len(by_id["rooms"].findall(f"{SVG}path")) == len(plan.variants[0].layout.rooms)
    texts = [t.text for t in by_id["labels"].iter(f"{SVG}text")]
    assert "Bedroom" in texts and any(t.endswith("m²") for t in texts)
    meta = root.find(f"{SVG}metadata")
    data = json.loads(meta.text)
    assert data["programme"]["rooms"][0]["id"] == plan.programme.rooms[0].id
    w, h = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {w:.0f} {h:.0f}"


def test_dxf_in_metres_one_layer_per_kind(plan):
    v = plan.variants[0]
    doc = ezdxf.read(io.StringIO(v.dxf()))
    assert doc.header["$INSUNITS"] == 6
    names = {layer.dxf.name for layer in doc.layers}
    assert {n.upper() for n in LAYERS} <= names
    msp = doc.modelspace()
    per_layer: dict[str, list] = {}
    for e in msp:
        per_layer.setdefault(e.dxf.layer, []).append(e)
    rooms = [e for e in per_layer["ROOMS"] if e.dxftype() == "LWPOLYLINE"]
    assert len(rooms) == len(v.layout.rooms)
    areas = sorted(round(abs(_shoelace(list(e.get_points("xy")))), 2) for e in rooms)
    assert areas == sorted(round(r.area, 2) for r in v.layout.rooms)  # metres, not pixels
    arcs = [e for e in per_layer["DOORS"] if e.dxftype() == "ARC"]
    assert len(arcs) == len(v.drawing.doors)
    assert len([e for e in per_layer["WINDOWS"] if e.dxftype() == "LWPOLYLINE"]) == len(
        v.drawing.windows)
    assert any(e.dxftype() == "HATCH" for e in per_layer["WALLS"])
    assert {e.dxf.text for e in per_layer["LABELS"]} >= {"Bedroom", "Living room"}
    dims = [e for e in per_layer["DIMENSIONS"] if e.dxftype() == "DIMENSION"]
    assert len(dims) == len(v.drawing.dimensions)
    assert any(abs(d.get_measurement() - v.layout.width) < 1e-6 for d in dims)


def _shoelace(pts):
    pairs = zip(pts, pts[1:] + pts[:1], strict=True)
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs) / 2


def test_geometry_json_is_plain_data(plan):
    geo = plan.variants[0].geometry
    text = json.dumps(geo)  # no shapely objects
    back = json.loads(text)
    assert back["units"] == "m" and back["rooms"] and back["wall_boxes"]
    assert all(len(b) == 4 for b in back["wall_boxes"])
    assert {"hinge", "arc", "opening", "head"} <= set(back["doors"][0])
    assert {"segment", "sill", "head"} <= set(back["windows"][0])
