"""Plan metrics: overlaps, gaps, area error, hard-constraint checks, graph edit distance.

Everything is measured on the returned geometry (not on the solver's variables), so the same
functions score the solver, the room-growth baseline and random packing.

Graph edit distance: as House-GAN++ / HouseDiffusion define "compatibility", between the
requested graph (nodes = rooms labelled by kind, edges = the adjacencies asked for: the
relations and each room's door) and the realised graph (edges = rooms sharing a wall of any
positive length), unit costs for inserting or deleting nodes and edges, node substitution only
between rooms of the same kind (networkx ``graph_edit_distance``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import networkx as nx
from shapely import box
from shapely.ops import unary_union

from t2i_core.plan.programme import ON_OUTSIDE, RULES, Programme
from t2i_core.plan.solver import DOOR_WALL, Layout, access_candidates


@dataclass
class PlanMetrics:
    overlap_m2: float
    gap_m2: float
    area_errors: list[float]  # |area - target| / target per room
    violations: list[str]  # hard constraints not met, in words
    ged: float | None  # requested vs realised shared-wall graph
    ged_doors: float | None  # requested vs realised door graph

    @property
    def median_area_error(self) -> float:
        return statistics.median(self.area_errors) if self.area_errors else 0.0

    def to_dict(self) -> dict:
        return {"overlap_m2": round(self.overlap_m2, 4), "gap_m2": round(self.gap_m2, 4),
                "median_area_error": round(self.median_area_error, 4),
                "max_area_error": round(max(self.area_errors, default=0.0), 4),
                "violations": self.violations, "ged": self.ged, "ged_doors": self.ged_doors}


def shared_wall(a, b) -> float:
    """Length of wall two axis-aligned rooms share (0 when they only meet at a corner)."""
    ax0, ay0, ax1, ay1 = a.x, a.y, a.x + a.w, a.y + a.h
    bx0, by0, bx1, by1 = b.x, b.y, b.x + b.w, b.y + b.h
    eps = 1e-6
    if abs(ax1 - bx0) < eps or abs(bx1 - ax0) < eps:
        return max(0.0, min(ay1, by1) - max(ay0, by0))
    if abs(ay1 - by0) < eps or abs(by1 - ay0) < eps:
        return max(0.0, min(ax1, bx1) - max(ax0, bx0))
    return 0.0


def evaluate(prog: Programme, layout: Layout, ged_timeout: float = 2.0) -> PlanMetrics:
    rects = [box(r.x, r.y, r.x + r.w, r.y + r.h) for r in layout.rooms]
    total = sum(p.area for p in rects)
    union = unary_union(rects)
    overlap = total - union.area
    footprint = box(0, 0, layout.width, layout.depth)
    gap = footprint.difference(union).area
    outside = union.difference(footprint).area
    errors = [abs(r.area - r.target) / r.target for r in layout.rooms if r.target > 0]
    violations = check_hard(prog, layout)
    if outside > 1e-6:
        violations.append(f"{outside:.2f} m² outside the footprint")
    ged, ged_doors = graph_distances(prog, layout, ged_timeout)
    return PlanMetrics(overlap, gap, errors, violations, ged, ged_doors)


def check_hard(prog: Programme, layout: Layout) -> list[str]:
    """Every hard rule of the solver, checked on the geometry."""
    out = []
    by_id = {r.id: r for r in layout.rooms}
    missing = [r.id for r in prog.rooms if r.id not in by_id]
    if missing:
        return [f"rooms missing: {', '.join(missing)}"]
    targets_sum = sum(r.target for r in layout.rooms)
    for spec in prog.rooms:
        r = by_id[spec.id]
        rule = spec.rule
        if spec.area is not None:
            lo, hi = 0.9 * spec.area, 1.1 * spec.area
        else:
            lo, hi = rule.min_area, max(rule.max_area, 1.3 * r.target)
        if not (lo - 0.02 <= r.area <= hi + 0.02):
            out.append(f"{r.id} area {r.area:.1f} outside {lo:.1f}-{hi:.1f} m²")
        if min(r.w, r.h) < rule.min_side - 1e-6:
            out.append(f"{r.id} narrower than {rule.min_side} m")
        if max(r.w, r.h) > rule.max_aspect * min(r.w, r.h) + 1e-6:
            out.append(f"{r.id} aspect over {rule.max_aspect}")
        sides = r.sides(layout.width, layout.depth)
        if (rule.habitable or spec.kind in ON_OUTSIDE) and not sides:
            out.append(f"{r.id} has no outside wall")
        if spec.facing and spec.facing not in sides:
            out.append(f"{r.id} does not face {spec.facing}")
    for rel in prog.relations:
        a, b = by_id[rel.a], by_id[rel.b]
        length = shared_wall(a, b)
        if rel.kind == "away":
            if length > 1e-6:
                out.append(f"{rel.a} shares a wall with {rel.b} (asked: away)")
        elif length < (min(2.0, RULES[a.kind].min_side, RULES[b.kind].min_side)
                       if rel.kind == "open" else DOOR_WALL) - 1e-6:
            out.append(f"{rel.a}-{rel.b} share {length:.2f} m of wall (asked: {rel.kind})")
    for rid, cands in access_candidates(prog).items():
        if cands and not any(shared_wall(by_id[rid], by_id[c]) >= DOOR_WALL - 1e-6
                             for c in cands):
            out.append(f"{rid} has no door to {' or '.join(cands)}")
    if abs(targets_sum - layout.width * layout.depth) > 0.05 * targets_sum:
        out.append("room targets do not add up to the footprint")
    return out


def graph_distances(prog: Programme, layout: Layout,
                    timeout: float = 2.0) -> tuple[float | None, float | None]:
    """(GED requested vs shared-wall graph, GED requested vs door graph)."""
    kinds = {r.id: r.kind for r in prog.rooms}
    requested = nx.Graph()
    requested.add_nodes_from((k, {"kind": v}) for k, v in kinds.items())
    for rel in prog.relations:
        if rel.kind != "away":
            requested.add_edge(rel.a, rel.b)
    for a, b in layout.doors:
        requested.add_edge(a, b)
    walls = nx.Graph()
    walls.add_nodes_from(requested.nodes(data=True))
    rooms = layout.rooms
    for i, a in enumerate(rooms):
        for b in rooms[i + 1:]:
            if shared_wall(a, b) > 1e-6:
                walls.add_edge(a.id, b.id)
    doors = nx.Graph()
    doors.add_nodes_from(requested.nodes(data=True))
    doors.add_edges_from(layout.doors)
    doors.add_edges_from(layout.opens)
    match = lambda u, v: u["kind"] == v["kind"]  # noqa: E731
    out = []
    for realised in (walls, doors):
        try:
            ged = nx.graph_edit_distance(requested, realised, node_match=match,
                                         timeout=timeout)
        except Exception:  # noqa: BLE001 - a metric, never fatal
            ged = None
        out.append(float(ged) if ged is not None else None)
    return out[0], out[1]
