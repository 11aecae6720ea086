"""Plan metrics: overlaps, gaps, area error, hard-constraint checks, graph edit distance.

Everything is measured on the returned geometry (not on the solver's variables), so the same
functions score the solver, the room-growth baseline and random packing.

Graph edit distance: as House-GAN++ / HouseDiffusion define "compatibility", between the
requested graph (nodes = rooms labelled by kind, edges = the adjacencies asked for: the
relations and each room's door, see ``requested_graph``) and the realised graph (edges = rooms
sharing a wall of any positive length), unit costs for inserting or deleting nodes and edges,
node substitution only between rooms of the same kind (networkx ``graph_edit_distance``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from shapely import box
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import unary_union

from t2i_core.plan.layout import DOOR_WALL, Layout, access_candidates, area_bounds
from t2i_core.plan.programme import ON_OUTSIDE, RULES, Programme


@dataclass
class PlanMetrics:
    overlap_m2: float
    gap_m2: float
    area_errors: list[float]  # |area - target| / target per room
    violations: list[str]  # hard constraints not met, in words
    ged: float | None  # requested (bubble) graph vs realised shared-wall graph

    @property
    def median_area_error(self) -> float:
        return statistics.median(self.area_errors) if self.area_errors else 0.0

    def to_dict(self) -> dict:
        return {"overlap_m2": round(self.overlap_m2, 4), "gap_m2": round(self.gap_m2, 4),
                "median_area_error": round(self.median_area_error, 4),
                "max_area_error": round(max(self.area_errors, default=0.0), 4),
                "violations": self.violations, "ged": self.ged}


def shared_wall(a, b) -> float:
    """Length of wall two rooms share (0 when they only meet at a corner). Rooms are
    ``PlacedRoom``s or shapely polygons."""
    pa, pb = _poly(a), _poly(b)
    # a's outline where it runs along b (within 1 µm: coordinates are sums of floats)
    return pa.boundary.intersection(pb.buffer(EPS, join_style="mitre")).length


EPS = 1e-6


def _poly(r) -> Polygon:
    if isinstance(r, Polygon | MultiPolygon):
        return r
    return box(round(r.x, 6), round(r.y, 6), round(r.x + r.w, 6), round(r.y + r.h, 6))


def evaluate(prog: Programme, layout: Layout, ged_timeout: float = 2.0) -> PlanMetrics:
    polys = {r.id: _poly(r) for r in layout.rooms}
    targets = {r.id: r.target for r in layout.rooms}
    return evaluate_polygons(prog, layout.width, layout.depth, polys, targets, ged_timeout)


def evaluate_polygons(prog: Programme, width: float, depth: float,
                      polys: dict[str, Polygon], targets: dict[str, float],
                      ged_timeout: float = 2.0) -> PlanMetrics:
    """The same figures for any plan given as one polygon per room (the baselines' rooms
    may be L-shaped or overlap)."""
    total = sum(p.area for p in polys.values())
    union = unary_union(list(polys.values())) if polys else Polygon()
    footprint = box(0, 0, width, depth)
    overlap = max(0.0, total - union.area)
    gap = footprint.difference(union).area
    outside = union.difference(footprint).area
    errors = [abs(polys[k].area - t) / t for k, t in targets.items() if t > 0 and k in polys]
    violations = check_hard(prog, width, depth, polys)
    if outside > 1e-6:
        violations.append(f"{outside:.2f} m² outside the footprint")
    if overlap > 1e-6:
        violations.append(f"{overlap:.2f} m² of rooms overlap")
    if gap > 1e-6:
        violations.append(f"{gap:.2f} m² of the footprint is in no room")
    ged = graph_distance(prog, polys, ged_timeout)
    return PlanMetrics(overlap, gap, errors, violations, ged)


def _side_length(p: Polygon, side: str, width: float, depth: float) -> float:
    edge = {"N": ((0, depth), (width, depth)), "S": ((0, 0), (width, 0)),
            "E": ((width, 0), (width, depth)), "W": ((0, 0), (0, depth))}[side]
    return p.boundary.intersection(LineString(edge).buffer(EPS, cap_style="flat")).length


def check_hard(prog: Programme, width: float, depth: float,
               polys: dict[str, Polygon]) -> list[str]:
    """Every hard rule of the solver, checked on the geometry."""
    out = []
    missing = [r.id for r in prog.rooms if r.id not in polys]
    if missing:
        return [f"rooms missing: {', '.join(missing)}"]
    for spec in prog.rooms:
        p = polys[spec.id]
        rule = spec.rule
        area = p.area
        lo, hi = area_bounds(prog, spec.id)
        if not (lo - 0.02 <= area <= hi + 0.02):
            out.append(f"{spec.id} area {area:.1f} outside {lo:.1f}-{hi:.1f} m²")
        x0, y0, x1, y1 = p.bounds
        w, h = x1 - x0, y1 - y0
        if abs(w * h - area) > 1e-6:
            out.append(f"{spec.id} is not a rectangle")
        if min(w, h) < rule.min_side - 1e-6:
            out.append(f"{spec.id} narrower than {rule.min_side} m")
        if min(w, h) > 0 and max(w, h) > rule.max_aspect * min(w, h) + 1e-6:
            out.append(f"{spec.id} aspect over {rule.max_aspect}")
        sides = [s for s in "NESW" if _side_length(p, s, width, depth) >= 0.9 - 1e-6]
        if (rule.habitable or spec.kind in ON_OUTSIDE) and not sides:
            out.append(f"{spec.id} has no outside wall")
        if spec.facing and spec.facing not in sides:
            out.append(f"{spec.id} does not face {spec.facing}")
    for rel in prog.relations:
        length = shared_wall(polys[rel.a], polys[rel.b])
        if rel.kind == "away":
            if length > 1e-3:
                out.append(f"{rel.a} shares a wall with {rel.b} (asked: away)")
        elif length < (min(2.0, RULES[prog.room(rel.a).kind].min_side,
                           RULES[prog.room(rel.b).kind].min_side)
                       if rel.kind == "open" else DOOR_WALL) - 1e-6:
            out.append(f"{rel.a}-{rel.b} share {length:.2f} m of wall (asked: {rel.kind})")
    for rid, cands in access_candidates(prog).items():
        if cands and not any(shared_wall(polys[rid], polys[c]) >= DOOR_WALL - 1e-6
                             for c in cands):
            out.append(f"{rid} has no door to {' or '.join(cands)}")
    return out


def requested_graph(prog: Programme, polys: dict[str, Polygon]):  # -> networkx.Graph
    """The bubble diagram the programme asks for: its relations (not "away") and, for each
    room, a door to the room it opens onto (the first candidate it meets, else the first)."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from((r.id, {"kind": r.kind}) for r in prog.rooms)
    for rel in prog.relations:
        if rel.kind != "away":
            g.add_edge(rel.a, rel.b)
    for rid, cands in access_candidates(prog).items():
        if cands:
            met = [c for c in cands if shared_wall(polys[rid], polys[c]) >= DOOR_WALL - 1e-6]
            g.add_edge(rid, (met or cands)[0])
    return g


def graph_distance(prog: Programme, polys: dict[str, Polygon],
                   timeout: float = 2.0) -> float | None:
    """GED between the requested graph and the realised shared-wall graph (None without
    networkx, which is in the test extra: the worker does not need it)."""
    try:
        import networkx as nx
    except ImportError:
        return None
    requested = requested_graph(prog, polys)
    walls = nx.Graph()
    walls.add_nodes_from(requested.nodes(data=True))
    ids = list(polys)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if shared_wall(polys[a], polys[b]) > 1e-3:
                walls.add_edge(a, b)
    match = lambda u, v: u["kind"] == v["kind"]  # noqa: E731
    try:
        ged = nx.graph_edit_distance(requested, walls, node_match=match, timeout=timeout)
    except Exception:  # noqa: BLE001 - a metric, never fatal
        return None
    return float(ged) if ged is not None else None
