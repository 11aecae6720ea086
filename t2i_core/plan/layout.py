"""What a layout is, and the rules it is held to, as plain data (no OR-Tools here).

``PlacedRoom`` and ``Layout`` are the solver's answer (rectangles in metres, x east, y north,
(0, 0) the south-west corner, areas to the walls' centre lines); ``area_bounds`` and
``access_candidates`` are the rules the solver enforces and ``metrics`` re-checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from t2i_core.plan.programme import CIRCULATION, Programme

DOOR_WALL = 1.0  # m of shared wall a door needs (0.9 m leaf + frame)
OPEN_WALL = 2.0  # m of shared wall for an open-plan join
# Rooms reach the entrance through rooms of a lower rank (a tree, so everything connects).
RANK = ("hall", "living", "dining", "kitchen", "master", "bedroom", "study", "bathroom", "wc",
        "utility", "storage", "ensuite", "balcony", "garage")


@dataclass
class PlacedRoom:
    id: str
    kind: str
    label: str
    x: float
    y: float
    w: float
    h: float
    target: float  # wanted area, m²

    @property
    def area(self) -> float:
        return self.w * self.h

    def sides(self, width: float, depth: float) -> list[str]:
        """Outside walls it touches: N, E, S, W."""
        eps = 1e-6
        out = []
        if self.y + self.h >= depth - eps:
            out.append("N")
        if self.x + self.w >= width - eps:
            out.append("E")
        if self.y <= eps:
            out.append("S")
        if self.x <= eps:
            out.append("W")
        return out


@dataclass
class Layout:
    width: float
    depth: float
    rooms: list[PlacedRoom]
    doors: list[tuple[str, str]]  # (room entered, room it opens from); ("x", "outside")
    opens: list[tuple[str, str]]  # open-plan joins: no wall between
    entrance: tuple[str, str]  # (room, side)
    variant: int = 0
    seconds: float = 0.0
    optimal: bool = False
    objective: float = 0.0
    notes: list[str] = field(default_factory=list)

    def room(self, room_id: str) -> PlacedRoom:
        return next(r for r in self.rooms if r.id == room_id)

    def to_dict(self) -> dict:
        return {"width": self.width, "depth": self.depth, "variant": self.variant,
                "seconds": round(self.seconds, 4), "optimal": self.optimal,
                "entrance": list(self.entrance), "doors": [list(d) for d in self.doors],
                "opens": [list(o) for o in self.opens],
                "rooms": [{"id": r.id, "kind": r.kind, "label": r.label, "x": r.x, "y": r.y,
                           "w": r.w, "h": r.h, "area": round(r.area, 3),
                           "target": round(r.target, 3)} for r in self.rooms]}


def area_bounds(prog: Programme, room_id: str) -> tuple[float, float]:
    room = prog.room(room_id)
    targets = prog.target_areas()
    if room.area is not None:
        return 0.9 * room.area, 1.1 * room.area
    lo = room.rule.min_area
    hi = max(room.rule.max_area, 1.3 * targets[room_id])
    return lo, hi


def access_candidates(prog: Programme) -> dict[str, list[str]]:
    """For each room, the rooms its door may open onto (empty: it is the entrance room)."""
    rank = {r.id: (RANK.index(r.kind), i) for i, r in enumerate(prog.rooms)}
    entrance = min(prog.rooms, key=lambda r: rank[r.id]).id
    forced: dict[str, list[str]] = {}
    for rel in prog.relations:
        if rel.kind in ("ensuite", "off"):
            forced.setdefault(rel.a, []).append(rel.b)
    out: dict[str, list[str]] = {}
    for r in prog.rooms:
        if r.id == entrance:
            out[r.id] = []
            continue
        if r.id in forced:
            out[r.id] = forced[r.id]
            continue
        lower = [o for o in prog.rooms if rank[o.id] < rank[r.id]]
        pref = [o.id for k in r.rule.access for o in lower if o.kind == k]
        if not pref:
            pref = [o.id for o in lower if o.kind in CIRCULATION] or [o.id for o in lower]
        out[r.id] = pref
    return out
