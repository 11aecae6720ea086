"""Layout -> drawing: walls with thickness, doors with swing arcs, windows, labels, dimensions.

Geometry is built with shapely and kept as plain data (``Drawing.to_dict``: lists of
coordinates in metres, y to the north) so that hosts without shapely (Blender's and Krita's
Python) can draw it: rooms as polygons, walls as polygons with holes and as axis-aligned
boxes (for extrusion), doors and windows with their openings and heights.

Walls: exterior 0.25 m, interior 0.10 m, centred on the rooms' edges (room areas are
measured to the centre lines); an open-plan join has no wall. Doors: 0.8 m inside, 0.9 m at
the entrance, hinged 0.15 m from a corner, swinging into the room they serve. Windows: on
every outside edge of a room that needs daylight (or wants a window: bathroom, WC), 40 % of
the edge, at most 2.4 m, sill 0.9 m, head 2.1 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shapely import box
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.ops import unary_union

from t2i_core.plan.layout import Layout, PlacedRoom
from t2i_core.plan.programme import RULES, WANT_WINDOW

EXTERIOR_WALL = 0.25
INTERIOR_WALL = 0.10
DOOR = 0.8
ENTRANCE_DOOR = 0.9
DOOR_OFFSET = 0.15  # from the corner to the hinge
DOOR_HEAD = 2.1
WINDOW_SILL, WINDOW_HEAD = 0.9, 2.1
LAYERS = ("rooms", "walls", "doors", "windows", "labels", "dimensions")


@dataclass
class Drawing:
    width: float
    depth: float
    rooms: list[dict] = field(default_factory=list)
    walls: list[dict] = field(default_factory=list)  # {"exterior": ring, "holes": [ring]}
    wall_boxes: list[list[float]] = field(default_factory=list)  # [x0, y0, x1, y1]
    doors: list[dict] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    dimensions: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"units": "m", "width": self.width, "depth": self.depth,
                "exterior_wall": EXTERIOR_WALL, "interior_wall": INTERIOR_WALL,
                "rooms": self.rooms, "walls": self.walls, "wall_boxes": self.wall_boxes,
                "doors": self.doors, "windows": self.windows, "labels": self.labels,
                "dimensions": self.dimensions}


def draw(layout: Layout) -> Drawing:
    W, D = layout.width, layout.depth
    d = Drawing(W, D)
    rects = {r.id: box(r.x, r.y, r.x + r.w, r.y + r.h) for r in layout.rooms}
    # Interiors: each room (open-plan groups merged, so no wall between them) shrunk by half
    # an interior wall; walls are what is left of the footprint grown by the exterior wall.
    groups = _open_groups(layout)
    interiors = [unary_union([rects[i] for i in g]).buffer(-INTERIOR_WALL / 2,
                                                            join_style="mitre")
                 for g in groups]
    outer = box(0, 0, W, D).buffer(EXTERIOR_WALL - INTERIOR_WALL / 2, join_style="mitre")
    walls = outer.difference(unary_union(interiors))
    openings = []
    for entered, other in layout.doors:
        door = _interior_door(layout.room(entered), rects[entered], rects[other])
        if door is not None:
            door["rooms"] = [entered, other]
            d.doors.append(door)
            openings.append(Polygon(door["opening"]))
    ent_room, side = layout.entrance
    if ent_room:
        door = _entrance_door(layout.room(ent_room), side, W, D)
        d.doors.append(door)
        openings.append(Polygon(door["opening"]))
    for room in layout.rooms:
        for win in _windows(room, W, D, d.doors):
            d.windows.append(win)
            openings.append(Polygon(win["opening"]))
    walls = walls.difference(unary_union(openings)) if openings else walls
    d.walls = [_poly_dict(p) for p in _polygons(walls)]
    d.wall_boxes = _boxes(walls)
    for r in layout.rooms:
        d.rooms.append({"id": r.id, "kind": r.kind, "label": r.label,
                        "area": round(r.area, 2), "target": round(r.target, 2),
                        "rect": [r.x, r.y, r.w, r.h],
                        "polygon": [list(c) for c in rects[r.id].exterior.coords][:-1]})
        d.labels.append({"room": r.id, "text": r.label, "area": f"{r.area:.1f} m²",
                         "size": f"{r.w:.2f} × {r.h:.2f} m",
                         "at": [round(r.x + r.w / 2, 3), round(r.y + r.h / 2, 3)],
                         "height": round(min(0.3, max(0.14, min(r.w, r.h) / 9)), 3)})
    d.dimensions = _dimensions(layout)
    return d


def _open_groups(layout: Layout) -> list[list[str]]:
    parent = {r.id: r.id for r in layout.rooms}

    def find(a: str) -> str:
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in layout.opens:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for r in layout.rooms:
        groups.setdefault(find(r.id), []).append(r.id)
    return list(groups.values())


def _shared(a: Polygon, b: Polygon) -> LineString | None:
    common = a.boundary.intersection(b.boundary)
    lines = [g for g in getattr(common, "geoms", [common]) if isinstance(g, LineString)]
    if isinstance(common, MultiLineString):
        lines = list(common.geoms)
    lines = [ln for ln in lines if ln.length > 1e-6]
    if not lines:
        return None
    merged = unary_union(lines)
    parts = list(getattr(merged, "geoms", [merged]))
    return max(parts, key=lambda g: g.length)


def _door_at(seg: LineString, into_center: Point, width: float, thick: float,
             outside: tuple[float, float] | None = None) -> dict:
    (x0, y0), (x1, y1) = seg.coords[0], seg.coords[-1]
    length = seg.length
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    start = min(DOOR_OFFSET, max(0.0, (length - width) / 2))
    hx, hy = x0 + ux * start, y0 + uy * start
    ex, ey = hx + ux * width, hy + uy * width
    nx, ny = -uy, ux
    if (into_center.x - hx) * nx + (into_center.y - hy) * ny < 0:
        nx, ny = -nx, -ny
    # The opening spans the wall: ``out`` metres on the far side, ``into`` on the room's.
    out, into = (thick / 2 + 0.01, thick / 2 + 0.01) if outside is None else outside
    opening = [[hx - nx * out, hy - ny * out], [ex - nx * out, ey - ny * out],
               [ex + nx * into, ey + ny * into], [hx + nx * into, hy + ny * into]]
    a0 = math.atan2(uy, ux)
    a1 = math.atan2(ny, nx)
    sweep = (a1 - a0 + math.pi) % (2 * math.pi) - math.pi  # +-90 degrees
    arc = [[hx + width * math.cos(a0 + sweep * t / 12), hy + width * math.sin(a0 + sweep * t / 12)]
           for t in range(13)]
    r3 = lambda p: [round(p[0], 4), round(p[1], 4)]  # noqa: E731
    return {"hinge": r3((hx, hy)), "closed": r3((ex, ey)),
            "open": r3((hx + nx * width, hy + ny * width)), "width": width,
            "arc": [r3(p) for p in arc], "opening": [r3(p) for p in opening],
            "head": DOOR_HEAD, "wall": round(thick, 3)}


def _interior_door(room: PlacedRoom, a: Polygon, b: Polygon) -> dict | None:
    seg = _shared(a, b)
    if seg is None or seg.length < DOOR + 0.05:
        return None
    door = _door_at(seg, a.centroid, DOOR, INTERIOR_WALL)
    door["entrance"] = False
    return door


def _edge(room: PlacedRoom, side: str) -> LineString:
    x0, y0, x1, y1 = room.x, room.y, room.x + room.w, room.y + room.h
    return LineString({"N": [(x0, y1), (x1, y1)], "S": [(x0, y0), (x1, y0)],
                       "E": [(x1, y0), (x1, y1)], "W": [(x0, y0), (x0, y1)]}[side])


def _entrance_door(room: PlacedRoom, side: str, W: float, D: float) -> dict:
    seg = _edge(room, side)
    # The wall is thicker outside the centre line: shift the opening outwards to cover it.
    door = _door_at(seg, Point(room.x + room.w / 2, room.y + room.h / 2), ENTRANCE_DOOR,
                    EXTERIOR_WALL, (EXTERIOR_WALL - INTERIOR_WALL / 2 + 0.01,
                                    INTERIOR_WALL / 2 + 0.01))
    door["entrance"] = True
    door["rooms"] = [room.id, "outside"]
    door["side"] = side
    return door


def _windows(room: PlacedRoom, W: float, D: float, doors: list[dict]) -> list[dict]:
    rule = RULES[room.kind]
    if not (rule.habitable or room.kind in WANT_WINDOW):
        return []
    out = []
    for side in room.sides(W, D):
        seg = _edge(room, side)
        if seg.length < 1.2:
            continue
        width = min(2.4, max(0.6, 0.4 * seg.length)) if rule.habitable else 0.6
        lo, hi = 0.0, seg.length
        for door in doors:
            if door.get("entrance") and Point(door["hinge"]).distance(seg) < 1e-6:
                # Keep clear of the entrance door: use the longer stretch beside it.
                t0 = seg.project(Point(door["hinge"]))
                t1 = seg.project(Point(door["closed"]))
                a, b = min(t0, t1), max(t0, t1)
                lo, hi = (b + 0.3, seg.length) if seg.length - b > a else (0.0, a - 0.3)
        if hi - lo < width + 0.3:
            continue
        mid = (lo + hi) / 2
        p0, p1 = seg.interpolate(mid - width / 2), seg.interpolate(mid + width / 2)
        nx, ny = {"N": (0, 1), "S": (0, -1), "E": (1, 0), "W": (-1, 0)}[side]  # outwards
        out_, in_ = EXTERIOR_WALL - INTERIOR_WALL / 2 + 0.01, INTERIOR_WALL / 2 + 0.01
        opening = [[p0.x + nx * out_, p0.y + ny * out_], [p1.x + nx * out_, p1.y + ny * out_],
                   [p1.x - nx * in_, p1.y - ny * in_], [p0.x - nx * in_, p0.y - ny * in_]]
        out.append({"room": room.id, "side": side, "width": round(width, 3),
                    "segment": [[round(p0.x, 4), round(p0.y, 4)],
                                [round(p1.x, 4), round(p1.y, 4)]],
                    "opening": [[round(x, 4), round(y, 4)] for x, y in opening],
                    "sill": WINDOW_SILL, "head": WINDOW_HEAD})
    return out


def _polygons(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def _poly_dict(p: Polygon) -> dict:
    ring = lambda r: [[round(x, 4), round(y, 4)] for x, y in r.coords][:-1]  # noqa: E731
    return {"exterior": ring(p.exterior), "holes": [ring(h) for h in p.interiors]}


def _boxes(walls) -> list[list[float]]:
    """Axis-aligned boxes covering the (rectilinear) walls: vertical slabs between the
    vertices' x coordinates, each cut into its rectangles. For extruding without shapely."""
    xs = sorted({round(x, 4) for p in _polygons(walls) for ring in [p.exterior, *p.interiors]
                 for x, _ in ring.coords})
    out = []
    for x0, x1 in zip(xs, xs[1:], strict=False):
        if x1 - x0 < 1e-6:
            continue
        slab = walls.intersection(box(x0, -1e3, x1, 1e3))
        for part in _polygons(slab):
            bx0, by0, bx1, by1 = part.bounds
            if abs(part.area - (bx1 - bx0) * (by1 - by0)) < 1e-6:
                out.append([round(bx0, 4), round(by0, 4), round(bx1, 4), round(by1, 4)])
                continue
            ys = sorted({round(y, 4) for _, y in part.exterior.coords})
            for y0, y1 in zip(ys, ys[1:], strict=False):
                piece = part.intersection(box(x0, y0, x1, y1))
                if piece.area > 1e-8:
                    b = piece.bounds
                    out.append([round(v, 4) for v in b])
    return out


def _dimensions(layout: Layout) -> list[dict]:
    W, D = layout.width, layout.depth
    off = EXTERIOR_WALL + 0.5
    dims = [{"kind": "overall", "from": [0.0, 0.0], "to": [W, 0.0], "offset": [0.0, -off - 0.5],
             "text": f"{W:.2f} m"},
            {"kind": "overall", "from": [0.0, 0.0], "to": [0.0, D], "offset": [-off - 0.5, 0.0],
             "text": f"{D:.2f} m"}]
    south = sorted((r for r in layout.rooms if r.y <= 1e-6), key=lambda r: r.x)
    for r in south:
        dims.append({"kind": "room", "from": [r.x, 0.0], "to": [r.x + r.w, 0.0],
                     "offset": [0.0, -off], "text": f"{r.w:.2f}"})
    west = sorted((r for r in layout.rooms if r.x <= 1e-6), key=lambda r: r.y)
    for r in west:
        dims.append({"kind": "room", "from": [0.0, r.y], "to": [0.0, r.y + r.h],
                     "offset": [-off, 0.0], "text": f"{r.h:.2f}"})
    return dims
