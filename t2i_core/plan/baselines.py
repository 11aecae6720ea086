"""Two baselines for the benchmark, on the same programmes and footprints as the solver.

- ``room_growth``: the classic procedural generator (as in ProcTHOR's
  ``floorplan_generation``, written here from its description): rooms are seeded at random
  cells of a grid over the footprint, grown as rectangles one row or column at a time in
  proportion to their target areas, then allowed to grow in L-shapes, and the cells left
  over go to a neighbouring room. Fast; no constraints beyond "fill the footprint".
- ``random_packing``: each room a rectangle of its target area, random proportions within
  its aspect limit, dropped at a random place that does not overlap what is placed (100
  tries, else anywhere). Shows what no search at all gives.

Both return one shapely polygon per room; ``metrics.evaluate_polygons`` scores them.
"""

from __future__ import annotations

import math
import random

from shapely import box
from shapely.geometry import Polygon
from shapely.ops import unary_union

from t2i_core.plan.programme import Programme

GRID = 0.3


def _targets(prog: Programme, width: float, depth: float) -> dict[str, float]:
    t = prog.target_areas()
    scale = width * depth / sum(t.values())
    return {k: v * scale for k, v in t.items()}


def room_growth(prog: Programme, width: float, depth: float, seed: int = 0,
                grid: float = GRID) -> dict[str, Polygon]:
    rng = random.Random(seed)
    W, H = max(1, round(width / grid)), max(1, round(depth / grid))
    owner: list[list[str | None]] = [[None] * W for _ in range(H)]
    targets = _targets(prog, width, depth)
    want = {k: v / grid ** 2 for k, v in targets.items()}
    rects: dict[str, list[int]] = {}  # x0, y0, x1, y1 (exclusive)
    cells: dict[str, int] = {}
    free = [(x, y) for y in range(H) for x in range(W)]
    rng.shuffle(free)
    for r in prog.rooms:
        while free:
            x, y = free.pop()
            if owner[y][x] is None:
                owner[y][x] = r.id
                rects[r.id] = [x, y, x + 1, y + 1]
                cells[r.id] = 1
                break

    def grow_rect(rid: str) -> bool:
        x0, y0, x1, y1 = rects[rid]
        options = []
        if x0 > 0 and all(owner[y][x0 - 1] is None for y in range(y0, y1)):
            options.append(("W", [(x0 - 1, y) for y in range(y0, y1)]))
        if x1 < W and all(owner[y][x1] is None for y in range(y0, y1)):
            options.append(("E", [(x1, y) for y in range(y0, y1)]))
        if y0 > 0 and all(owner[y0 - 1][x] is None for x in range(x0, x1)):
            options.append(("S", [(x, y0 - 1) for x in range(x0, x1)]))
        if y1 < H and all(owner[y1][x] is None for x in range(x0, x1)):
            options.append(("N", [(x, y1) for x in range(x0, x1)]))
        if not options:
            return False
        side, new = rng.choice(options)
        for x, y in new:
            owner[y][x] = rid
        cells[rid] += len(new)
        if side == "W":
            rects[rid][0] -= 1
        elif side == "E":
            rects[rid][2] += 1
        elif side == "S":
            rects[rid][1] -= 1
        else:
            rects[rid][3] += 1
        return True

    def grow_l(rid: str) -> bool:
        border = [(x + dx, y + dy) for y in range(H) for x in range(W) if owner[y][x] == rid
                  for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
                  if 0 <= x + dx < W and 0 <= y + dy < H and owner[y + dy][x + dx] is None]
        if not border:
            return False
        x, y = rng.choice(border)
        owner[y][x] = rid
        cells[rid] += 1
        return True

    for grow in (grow_rect, grow_l):
        active = {r.id for r in prog.rooms if r.id in rects}
        while active:
            # pick a room in proportion to how much area it still wants
            rid = max(active, key=lambda k: (want[k] - cells[k]) / want[k] + rng.random() * 0.1)
            if cells[rid] >= want[rid] or not grow(rid):
                active.discard(rid)
    # Leftover cells go to a neighbouring room (repeat until none is left).
    changed = True
    while changed:
        changed = False
        for y in range(H):
            for x in range(W):
                if owner[y][x] is None:
                    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                        if 0 <= x + dx < W and 0 <= y + dy < H and owner[y + dy][x + dx]:
                            owner[y][x] = owner[y + dy][x + dx]
                            changed = True
                            break
    polys: dict[str, Polygon] = {}
    for r in prog.rooms:
        parts = [box(x * grid, y * grid, (x + 1) * grid, (y + 1) * grid)
                 for y in range(H) for x in range(W) if owner[y][x] == r.id]
        polys[r.id] = unary_union(parts) if parts else Polygon()
    return polys


def random_packing(prog: Programme, width: float, depth: float,
                   seed: int = 0) -> dict[str, Polygon]:
    rng = random.Random(seed)
    targets = _targets(prog, width, depth)
    placed: dict[str, Polygon] = {}
    for r in sorted(prog.rooms, key=lambda r: -targets[r.id]):
        area = targets[r.id]
        aspect = rng.uniform(1.0, r.rule.max_aspect)
        w = math.sqrt(area * aspect)
        h = area / w
        if rng.random() < 0.5:
            w, h = h, w
        w, h = min(w, width), min(h, depth)
        occupied = unary_union(list(placed.values())) if placed else Polygon()
        choice = None
        for _ in range(100):
            x, y = rng.uniform(0, width - w), rng.uniform(0, depth - h)
            cand = box(x, y, x + w, y + h)
            if choice is None:
                choice = cand
            if cand.intersection(occupied).area < 1e-9:
                choice = cand
                break
        placed[r.id] = choice
    return placed
