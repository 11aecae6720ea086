"""Programme -> layout: rectangle rooms tiling a rectangular footprint, solved by CP-SAT.

Every rule of docs/floorplans.md is a constraint here, and each group of constraints sits
behind its own assumption literal, so that when a programme cannot be solved, CP-SAT names
the smallest set of groups it found in conflict ("area of bedroom_3 >= 7.5 m²", "the rooms
tile the 30 m² footprint"), which becomes the error message.

Coordinates are integers on a grid of ``grid`` metres (0.1 m), x to the east and y to the
north, (0, 0) the south-west corner. Areas are measured to the walls' centre lines.

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
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from t2i_core.errors import Cancelled, T2IError
from t2i_core.plan.programme import CIRCULATION, ON_OUTSIDE, WANT_WINDOW, Programme

GRID = 0.3  # m: the planning module (a 300 mm grid); finer only where a given footprint needs
GRIDS = (0.3, 0.25, 0.2, 0.1)
WORK_LIMIT = 0.3  # CP-SAT deterministic seconds per variant (~0.7 CPU s here for 10 rooms)
BACKSTOP_S = 120.0  # wall seconds: only for a machine so busy the work limit never comes
WORKERS = 1  # deterministic: one request, one answer (and a 2-core machine has no spare core)
DOOR_WALL = 1.0  # m of shared wall a door needs (0.9 m leaf + frame)
OPEN_WALL = 2.0  # m of shared wall for an open-plan join
ASPECTS = (1.3, 1.0, 1.6, 0.8, 1.15, 1.45)  # footprint width/depth per variant (no footprint)
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


class _Model:
    """The CP-SAT model of one footprint, with named assumption literals."""

    def __init__(self, prog: Programme, width: float, depth: float, grid: float,
                 bands: int = 3) -> None:
        self.prog, self.grid = prog, grid
        self.m = cp_model.CpModel()
        self.W, self.H = round(width / grid), round(depth / grid)
        self.names: dict[int, str] = {}  # assumption literal index -> what it stands for
        self.lits: list[cp_model.IntVar] = []
        m, W, H = self.m, self.W, self.H
        cells = 1.0 / grid ** 2
        targets = prog.target_areas()
        scale = W * H / cells / sum(targets.values())  # the footprint rounds the plan's area
        self.targets = {k: v * scale for k, v in targets.items()}
        self.x, self.y, self.w, self.h, self.a = {}, {}, {}, {}, {}
        for r in prog.rooms:
            x, y = m.NewIntVar(0, W, f"x_{r.id}"), m.NewIntVar(0, H, f"y_{r.id}")
            w, h = m.NewIntVar(1, W, f"w_{r.id}"), m.NewIntVar(1, H, f"h_{r.id}")
            a = m.NewIntVar(1, W * H, f"a_{r.id}")
            m.Add(x + w <= W)
            m.AddMultiplicationEquality(a, [w, h])
            self.x[r.id], self.y[r.id], self.w[r.id], self.h[r.id], self.a[r.id] = x, y, w, h, a
        # Bands: the footprint is cut into ``bands`` strips running east-west (the classic
        # single- or double-loaded plan); each room lies in one band, spans its depth, and the
        # rooms of a band fill its width. This keeps the search one-dimensional per band,
        # which is what makes 10+ rooms solvable in well under a second.
        depths = [m.NewIntVar(1, H, f"band_depth_{b}") for b in range(bands)]
        starts = [0]
        for b in range(1, bands):
            s = m.NewIntVar(0, H, f"band_y_{b}")
            m.Add(s == starts[-1] + depths[b - 1])
            starts.append(s)
        m.Add(sum(depths) == H)
        fill = self.lit(f"the rooms tile the {width:g} × {depth:g} m footprint "
                        f"({width * depth:.1f} m²) with no gap")
        self.band: dict[str, list[cp_model.IntVar]] = {}
        widths: list[list[cp_model.IntVar]] = [[] for _ in range(bands)]
        intervals: list[list[cp_model.IntervalVar]] = [[] for _ in range(bands)]
        for r in prog.rooms:
            zs = [m.NewBoolVar(f"{r.id}_in_band_{b}") for b in range(bands)]
            m.AddExactlyOne(zs)
            self.band[r.id] = zs
            xe = m.NewIntVar(1, W, f"xe_{r.id}")
            m.Add(xe == self.x[r.id] + self.w[r.id])
            for b, z in enumerate(zs):
                m.Add(self.y[r.id] == starts[b]).OnlyEnforceIf(z)
                m.Add(self.h[r.id] == depths[b]).OnlyEnforceIf(z)
                wb = m.NewIntVar(0, W, f"w_{r.id}_{b}")
                m.Add(wb == self.w[r.id]).OnlyEnforceIf(z)
                m.Add(wb == 0).OnlyEnforceIf(z.Not())
                widths[b].append(wb)
                intervals[b].append(m.NewOptionalIntervalVar(
                    self.x[r.id], self.w[r.id], xe, z, f"i_{r.id}_{b}"))
        for b in range(bands):
            m.AddNoOverlap(intervals[b])
            m.Add(sum(widths[b]) == W).OnlyEnforceIf(fill)
        m.Add(sum(self.a.values()) == W * H).OnlyEnforceIf(fill)
        for r in prog.rooms:
            lo, hi = area_bounds(prog, r.id)
            lit = self.lit(f"area of {r.id} between {lo:.1f} and {hi:.1f} m²")
            m.Add(self.a[r.id] >= math.ceil(lo * cells)).OnlyEnforceIf(lit)
            m.Add(self.a[r.id] <= math.floor(hi * cells)).OnlyEnforceIf(lit)
            side = math.ceil(r.rule.min_side / grid - 1e-9)
            lit = self.lit(f"{r.id} at least {r.rule.min_side:g} m wide")
            m.Add(self.w[r.id] >= side).OnlyEnforceIf(lit)
            m.Add(self.h[r.id] >= side).OnlyEnforceIf(lit)
            asp = round(r.rule.max_aspect * 10)
            lit = self.lit(f"{r.id} no longer than {r.rule.max_aspect:g} × its width")
            m.Add(10 * self.w[r.id] <= asp * self.h[r.id]).OnlyEnforceIf(lit)
            m.Add(10 * self.h[r.id] <= asp * self.w[r.id]).OnlyEnforceIf(lit)
        self.side = {r.id: self._sides(r.id) for r in prog.rooms}
        self.penalties: list[cp_model.LinearExprT] = []
        for r in prog.rooms:
            on_outside = list(self.side[r.id].values())
            if r.rule.habitable or r.kind in ON_OUTSIDE:
                lit = self.lit(f"{r.id} on an outside wall (daylight)")
                m.AddBoolOr(on_outside).OnlyEnforceIf(lit)
            elif r.kind in WANT_WINDOW:
                inside = m.NewBoolVar(f"inside_{r.id}")
                m.AddBoolOr([*on_outside, inside])
                self.penalties.append(2000 * inside)
            if r.facing:
                lit = self.lit(f"{r.id} facing {r.facing}")
                m.Add(self.side[r.id][r.facing] == 1).OnlyEnforceIf(lit)
        self.adj: dict[tuple[str, str, int], list[cp_model.IntVar]] = {}
        door = math.ceil(DOOR_WALL / grid - 1e-9)
        for rel in prog.relations:
            if rel.kind == "away":
                lit = self.lit(f"{rel.a} away from {rel.b} (no shared wall)")
                m.AddBoolOr(self._apart(rel.a, rel.b)).OnlyEnforceIf(lit)
            else:
                length = door
                if rel.kind == "open":
                    length = math.ceil(min(OPEN_WALL, prog.room(rel.a).rule.min_side,
                                       prog.room(rel.b).rule.min_side) / grid - 1e-9)
                what = {"open": "open to", "ensuite": "en-suite to", "off": "off",
                        "adjacent": "next to"}[rel.kind]
                lit = self.lit(f"{rel.a} {what} {rel.b} (a shared wall of "
                               f"{length * grid:.1f} m)")
                m.AddBoolOr(self.touch(rel.a, rel.b, length)).OnlyEnforceIf(lit)
        self.access = access_candidates(prog)
        for rid, cands in self.access.items():
            if not cands:
                continue
            lit = self.lit(f"{rid} has a door to {' or '.join(cands)}")
            options = [b for c in cands for b in self.touch(rid, c, door)]
            m.AddBoolOr(options).OnlyEnforceIf(lit)
        self.entrance_room = next(rid for rid, c in self.access.items() if not c)
        sides = self.side[self.entrance_room]
        if prog.entrance:
            lit = self.lit(f"the entrance ({self.entrance_room}) on the {prog.entrance} side")
            m.Add(sides[prog.entrance] == 1).OnlyEnforceIf(lit)
        else:
            lit = self.lit(f"the entrance ({self.entrance_room}) on an outside wall")
            m.AddBoolOr(list(sides.values())).OnlyEnforceIf(lit)
        # Objective: area error (cells), a small hall, then the soft window wishes.
        errs = []
        for r in prog.rooms:
            t = round(self.targets[r.id] * cells)
            e = m.NewIntVar(0, W * H, f"err_{r.id}")
            m.AddAbsEquality(e, self.a[r.id] - t)
            # Relative error: a WC 0.5 m² off matters as much as a living room 5 m² off.
            errs.append(max(1, round(200 / max(self.targets[r.id], 0.5))) * e)
            if r.kind == "hall":
                self.penalties.append(self.a[r.id])
        m.Minimize(sum(errs) + sum(self.penalties))

    def lit(self, name: str) -> cp_model.IntVar:
        v = self.m.NewBoolVar(name)
        self.names[v.Index()] = name
        self.lits.append(v)
        return v

    def _sides(self, rid: str) -> dict[str, cp_model.IntVar]:
        m = self.m
        x, y, w, h = self.x[rid], self.y[rid], self.w[rid], self.h[rid]
        out = {}
        for d, expr, val in (("N", y + h, self.H), ("E", x + w, self.W), ("S", y, 0),
                             ("W", x, 0)):
            b = m.NewBoolVar(f"{d}_{rid}")
            m.Add(expr == val).OnlyEnforceIf(b)
            out[d] = b
        return out

    def touch(self, a: str, b: str, length: int) -> list[cp_model.IntVar]:
        """Four booleans, one per way a and b can share >= length of wall; any true = they
        do. Cached: access and relations reuse them."""
        key = (min(a, b), max(a, b), length)
        if key in self.adj:
            return self.adj[key]
        m = self.m
        X, Y, Wd, Ht = self.x, self.y, self.w, self.h
        out = []
        for first, second in ((a, b), (b, a)):
            v = m.NewBoolVar(f"{first}_west_of_{second}")
            m.Add(X[first] + Wd[first] == X[second]).OnlyEnforceIf(v)
            # overlap = min(ends) - max(starts) >= length: all four end-start pairs
            m.Add(Y[first] + Ht[first] >= Y[second] + length).OnlyEnforceIf(v)
            m.Add(Y[second] + Ht[second] >= Y[first] + length).OnlyEnforceIf(v)
            m.Add(Ht[first] >= length).OnlyEnforceIf(v)
            m.Add(Ht[second] >= length).OnlyEnforceIf(v)
            out.append(v)
            v = m.NewBoolVar(f"{first}_south_of_{second}")
            m.Add(Y[first] + Ht[first] == Y[second]).OnlyEnforceIf(v)
            m.Add(X[first] + Wd[first] >= X[second] + length).OnlyEnforceIf(v)
            m.Add(X[second] + Wd[second] >= X[first] + length).OnlyEnforceIf(v)
            m.Add(Wd[first] >= length).OnlyEnforceIf(v)
            m.Add(Wd[second] >= length).OnlyEnforceIf(v)
            out.append(v)
        self.adj[key] = out
        return out

    def _apart(self, a: str, b: str) -> list[cp_model.IntVar]:
        m = self.m
        X, Y, Wd, Ht = self.x, self.y, self.w, self.h
        out = []
        for first, second in ((a, b), (b, a)):
            v = m.NewBoolVar(f"{first}_clear_west_of_{second}")
            m.Add(X[first] + Wd[first] + 1 <= X[second]).OnlyEnforceIf(v)
            out.append(v)
            v = m.NewBoolVar(f"{first}_clear_south_of_{second}")
            m.Add(Y[first] + Ht[first] + 1 <= Y[second]).OnlyEnforceIf(v)
            out.append(v)
        return out

    def differ_from(self, earlier: Layout, cells: int) -> None:
        """The next variant moves the rooms by at least ``cells`` in total."""
        m = self.m
        moves = []
        for r in earlier.rooms:
            for var, val in ((self.x[r.id], r.x), (self.y[r.id], r.y)):
                d = m.NewIntVar(0, max(self.W, self.H), f"d_{var.Name()}")
                m.AddAbsEquality(d, var - round(val / self.grid))
                moves.append(d)
        m.Add(sum(moves) >= cells)


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
    infeasible: list[tuple[_Model, float, float]] = []
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
            model = _Model(sub, w, d, grid or grid_for(width, depth), bands)
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


def _explain(model: _Model, width: float, depth: float) -> str:
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


def _layout(model: _Model, solver: cp_model.CpSolver, k: int, seconds: float,
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
