"""The CP-SAT model of one footprint: rooms in bands, every rule behind a named literal.

``BandModel`` builds the variables and constraints (docs/floorplans.md, "Solver: bands");
``solver.solve`` runs it. Each group of constraints is enforced only if its assumption
literal is true, and every literal has a name a person can read, so that an impossible
programme is explained by the literals CP-SAT finds in conflict.
"""

from __future__ import annotations

import math

from ortools.sat.python import cp_model

from t2i_core.plan.layout import DOOR_WALL, OPEN_WALL, Layout, access_candidates, area_bounds
from t2i_core.plan.programme import ON_OUTSIDE, WANT_WINDOW, Programme


class BandModel:
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
