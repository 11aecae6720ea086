"""Programme -> layout: rectangle rooms tiling a rectangular footprint, solved by CP-SAT.

Every rule of docs/floorplans.md is a constraint here, and each group of constraints sits
behind its own assumption literal, so that when a programme cannot be solved, CP-SAT names
the smallest set of groups it found in conflict ("area of bedroom_3 >= 7.5 m²", "the rooms
tile the 30 m² footprint"), which becomes the error message.

Coordinates are integers on a grid of ``grid`` metres (0.3 m, finer when a given footprint
needs it), x to the east and y to the north, (0, 0) the south-west corner. Areas are
measured to the walls' centre lines. The model itself is ``cpsat_model.BandModel``; the
layout types and rules are in ``layout``.

Hard constraints: no overlap and no gap (the rooms' areas add up to the footprint's), area
bounds, a minimum side, a maximum aspect ratio, every habitable room (and a balcony, a
garage) on an outside wall, orientation, a wall shared over at least a door's width for every
requested pair and from every room to a room it may open onto (so all rooms are reachable from
the entrance), strict separation for "away from". Soft (the objective): room areas close to
their targets, a small hall, bathrooms and WCs on an outside wall (a window).
"""

from __future__ import annotations

import math
import time

from ortools.sat.python import cp_model

from t2i_core.errors import Cancelled, T2IError
from t2i_core.plan.cpsat_model import BandModel
from t2i_core.plan.layout import DOOR_WALL, Layout, PlacedRoom, area_bounds
from t2i_core.plan.programme import Programme

GRID = 0.3  # m: the planning module (a 300 mm grid); finer only where a given footprint needs
GRIDS = (0.3, 0.25, 0.2, 0.1)
WORK_LIMIT = 0.3  # CP-SAT deterministic seconds per variant (~0.7 CPU s here for 10 rooms)
BACKSTOP_S = 120.0  # wall seconds: only for a machine so busy the work limit never comes
WORKERS = 1  # deterministic: one request, one answer (and a 2-core machine has no spare core)
ASPECTS = (1.3, 1.0, 1.6, 0.8, 1.15, 1.45)  # footprint width/depth per variant (no footprint)


def footprints(prog: Programme, count: int) -> list[tuple[float, float]]:
    """Footprint (width, depth) per variant: the given one, or the plan's area at several
    proportions."""
    if prog.footprint is not None:
        return [prog.footprint] * count
    area = prog.plan_area()
    out = []
    for k in range(count):
        r = ASPECTS[k % len(ASPECTS)]
        w = round(math.sqrt(area * r) / GRID) * GRID
        d = round(area / w / GRID) * GRID
        out.append((round(w, 3), round(d, 3)))
    return out


def check_programme(prog: Programme, width: float, depth: float) -> None:
    """Arithmetic checks that name the conflict before any search."""
    area = width * depth
    mins = sum(area_bounds(prog, r.id)[0] for r in prog.rooms)
    if mins > area + 1e-6:
        parts = {}
        for r in prog.rooms:
            parts.setdefault(r.kind, []).append(area_bounds(prog, r.id)[0])
        listed = ", ".join(f"{len(v)} {k}{'s' if len(v) > 1 else ''} × {v[0]:g} m²"
                           for k, v in parts.items())
        raise T2IError("plan_infeasible", f"the rooms cannot fit: their minimum areas add up "
                       f"to {mins:.1f} m² ({listed}), more than the {area:.1f} m² footprint "
                       f"({width:g} × {depth:g} m). Conflicting constraints: minimum room "
                       "areas vs. total area. Ask for fewer rooms or a larger area "
                       f"(at least {math.ceil(mins * 1.05)} m²).")
    for r in prog.rooms:
        side = r.rule.min_side
        if side > min(width, depth) + 1e-6 and side > max(width, depth):
            raise T2IError("plan_infeasible", f"{r.id} needs a side of {side} m, wider than "
                           f"the {width:g} × {depth:g} m footprint")


def grid_for(width: float, depth: float) -> float:
    """The coarsest grid that divides the footprint (a coarse grid searches much faster)."""
    for g in GRIDS:
        if all(abs(v / g - round(v / g)) < 1e-6 for v in (width, depth)):
            return g
    return GRIDS[-1]


def solve(prog: Programme, variants: int = 3, seed: int = 0, time_limit: float = WORK_LIMIT,
          grid: float | None = None, cancel=None, progress=None) -> list[Layout]:
    """Up to ``variants`` layouts (at least one, or a ``T2IError`` naming the problem)."""
    prog.validate()
    fps = footprints(prog, variants)
    if prog.footprint is not None:
        fps = [(round(round(w / GRIDS[-1]) * GRIDS[-1], 3),
                round(round(d / GRIDS[-1]) * GRIDS[-1], 3)) for w, d in fps]
    check_programme(prog, *fps[0])
    layouts: list[Layout] = []
    failures: list[str] = []
    infeasible: list[tuple[BandModel, float, float]] = []
    for k, (width, depth) in enumerate(fps):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress is not None:
            progress(k, variants)
        # Variety: odd variants run the bands north-south (solved transposed), and the band
        # count that suits the room count is tried first, the other one if it cannot work.
        counts = [3, 2] if len(prog.rooms) >= 6 else [2, 3]
        if len(prog.rooms) <= 2:
            counts = [1, 2]
        flips = [k % 2 == 1, k % 2 == 0]
        options = [(b, f) for b in counts for f in flips]
        budget = time_limit  # deterministic seconds for this variant
        t0 = time.perf_counter()
        for n_opt, (bands, transposed) in enumerate(options):
            left = budget
            if left <= 0.05:
                break
            # The first try gets most of the time; a quick "impossible" passes it on.
            left = left * (0.6 if n_opt == 0 else 1.0)
            sub = _transpose_programme(prog) if transposed else prog
            w, d = (depth, width) if transposed else (width, depth)
            model = BandModel(sub, w, d, grid or grid_for(width, depth), bands)
            for earlier in layouts:
                if (earlier.width, earlier.depth) == (width, depth) and not transposed:
                    model.differ_from(earlier, round(4.0 / model.grid))
            solver = cp_model.CpSolver()
            # A deterministic work limit: the same request gives the same plan on a busy or
            # an idle machine; the wall-clock limit is only a backstop.
            solver.parameters.max_deterministic_time = left
            solver.parameters.max_time_in_seconds = BACKSTOP_S
            solver.parameters.num_workers = WORKERS
            solver.parameters.random_seed = seed + k
            model.m.AddAssumptions(model.lits)
            status = solver.Solve(model.m)
            budget -= solver.deterministic_time
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                layout = _layout(model, solver, k, time.perf_counter() - t0,
                                 status == cp_model.OPTIMAL)
                layouts.append(_transpose_layout(layout) if transposed else layout)
                break
            if status == cp_model.INFEASIBLE:
                infeasible.append((model, width, depth))  # explained only if nothing fits
                failures.append("infeasible")
            else:
                failures.append(f"no layout found within the work limit ({time_limit:g}) for "
                                f"{width:g} × {depth:g} m")
    if progress is not None:
        progress(variants, variants)
    if not layouts:
        if all(f.startswith("no layout found") for f in failures):
            raise T2IError("plan_timeout", f"{failures[0]} ({len(prog.rooms)} rooms). Give "
                           "the solver more time (time_limit), ask for fewer rooms, or drop "
                           "some relations")
        raise T2IError("plan_infeasible", _explain(*infeasible[0]))
    return layouts


_SWAP = {"N": "E", "E": "N", "S": "W", "W": "S"}


def _transpose_programme(prog: Programme) -> Programme:
    """The programme as seen with x and y swapped (north <-> east, south <-> west)."""
    import copy

    p = copy.deepcopy(prog)
    for r in p.rooms:
        r.facing = _SWAP[r.facing] if r.facing else None
    p.entrance = _SWAP[p.entrance] if p.entrance else None
    if p.footprint is not None:
        p.footprint = (p.footprint[1], p.footprint[0])
    return p


def _transpose_layout(layout: Layout) -> Layout:
    for r in layout.rooms:
        r.x, r.y, r.w, r.h = r.y, r.x, r.h, r.w
    layout.width, layout.depth = layout.depth, layout.width
    layout.entrance = (layout.entrance[0], _SWAP.get(layout.entrance[1], layout.entrance[1]))
    return layout


def _explain(model: BandModel, width: float, depth: float) -> str:
    """The conflicting constraints: a core of the assumptions, made minimal by dropping one
    at a time (generic ones first, so that what remains names the user's own wishes)."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 2.0
    status = solver.Solve(model.m)
    core: list[int] = []
    if status == cp_model.INFEASIBLE:
        core = [i for i in solver.SufficientAssumptionsForInfeasibility() if i in model.names]
    generic = ("area of", "the rooms tile")

    def rank(i: int) -> int:
        name = model.names[i]
        return 0 if name.startswith(generic) or " at least " in name or "no longer" in name \
            else 1

    by_index = {v.Index(): v for v in model.lits}
    for i in sorted(core, key=rank)[:30]:
        trial = [j for j in core if j != i]
        model.m.ClearAssumptions()
        model.m.AddAssumptions([by_index[j] for j in trial])
        check = cp_model.CpSolver()
        check.parameters.num_workers = 1
        check.parameters.max_deterministic_time = 0.3
        if check.Solve(model.m) == cp_model.INFEASIBLE:
            core = trial
    names = [model.names[i] for i in core]
    listed = "; ".join(names[:8]) if names else "(the solver gave no smaller set)"
    return (f"no layout fits {width:g} × {depth:g} m. Conflicting constraints: {listed}. "
            "Relax one of them: a larger area, fewer rooms or relations, or no orientation")


def _layout(model: BandModel, solver: cp_model.CpSolver, k: int, seconds: float,
            optimal: bool) -> Layout:
    g = model.grid
    prog = model.prog
    rooms = [PlacedRoom(r.id, r.kind, r.display(), round(solver.Value(model.x[r.id]) * g, 3),
                        round(solver.Value(model.y[r.id]) * g, 3),
                        round(solver.Value(model.w[r.id]) * g, 3),
                        round(solver.Value(model.h[r.id]) * g, 3), model.targets[r.id])
             for r in prog.rooms]
    width, depth = round(model.W * g, 3), round(model.H * g, 3)
    layout = Layout(width, depth, rooms, [], [], ("", ""), k, seconds, optimal,
                    solver.ObjectiveValue())
    door = math.ceil(DOOR_WALL / g - 1e-9)

    def touching(a: str, b: str, length: int) -> bool:
        key = (min(a, b), max(a, b), length)
        return key in model.adj and any(solver.Value(v) for v in model.adj[key])

    for rid, cands in model.access.items():
        for c in cands:
            if touching(rid, c, door):
                layout.doors.append((rid, c))
                break
    for rel in prog.relations:
        if rel.kind == "open":
            layout.opens.append((rel.a, rel.b))
        elif rel.kind == "adjacent" and (rel.a, rel.b) not in layout.doors and \
                (rel.b, rel.a) not in layout.doors and touching(rel.a, rel.b, door):
            layout.doors.append((rel.a, rel.b))
    opened = {frozenset(o) for o in layout.opens}
    layout.doors = [d for d in layout.doors if frozenset(d) not in opened]
    ent = model.entrance_room
    sides = layout.room(ent).sides(width, depth)
    side = prog.entrance if prog.entrance in sides else sides[0]
    layout.entrance = (ent, side)
    return layout
