"""Floor plans: our parser vs keyword spotting, our CP-SAT layouts vs room growth and random
packing, on the 200 hand-written prompts of tests/plan/data/prompts.jsonl. One run, side by
side, with the ratio.

    python benchmarks/bench_plan.py               # everything (~3-6 min on 2 busy cores)
    python benchmarks/bench_plan.py --quick       # every 4th prompt
    python benchmarks/bench_plan.py --json out.json

1. Parser: precision / recall / F1 per slot (micro), dev and held-out test split.
2. Layouts, on the programmes our parser made from the prompts labelled feasible: plans
   found, plans meeting every hard constraint, overlap and gap, median room-area error,
   GED (requested bubble graph vs realised shared-wall graph), time per plan (CPU seconds of
   this process, which is what an idle 2-core machine would show as wall time, and wall
   seconds on this shared machine). Every method gets the same programme and footprint.
3. Bad input: the infeasible / no-room / too-many prompts must fail with their code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from t2i_core.errors import T2IError  # noqa: E402
from t2i_core.plan.baselines import random_packing, room_growth  # noqa: E402
from t2i_core.plan.metrics import evaluate, evaluate_polygons  # noqa: E402
from t2i_core.plan.parser import parse, programme_from_text  # noqa: E402
from t2i_core.plan.parser_eval import (  # noqa: E402
    SLOTS,
    keyword_baseline,
    load_gold,
    score,
    slots_of_gold,
    slots_of_programme,
)
from t2i_core.plan.solver import WORK_LIMIT, footprints, solve  # noqa: E402

GOLD = REPO / "tests" / "plan" / "data" / "prompts.jsonl"
# HouseDiffusion (Shabani et al. 2023), compatibility = GED to the input bubble diagram.
HOUSEDIFFUSION_GED = {5: 1.5, 6: 1.2, 7: 1.7}


def parser_table(rows: list[dict]) -> dict:
    out = {}
    for split in ("dev", "test", "all"):
        sel = [g for g in rows if split == "all" or g["split"] == split]
        ours = score([(slots_of_programme(parse(g["text"])), slots_of_gold(g["gold"]))
                      for g in sel])
        base = score([(slots_of_programme(keyword_baseline(g["text"])),
                       slots_of_gold(g["gold"])) for g in sel])
        out[split] = {s: {"ours": [ours[s].precision, ours[s].recall, ours[s].f1],
                          "keywords": [base[s].precision, base[s].recall, base[s].f1]}
                      for s in SLOTS}
    return out


def layouts(rows: list[dict], time_limit: float) -> dict:
    methods = ("cp-sat (ours)", "room growth", "random packing")
    stats = {m: {"plans": 0, "valid": 0, "overlap": [], "gap": [], "err": [], "ged": {},
                 "cpu": [], "wall": [], "cpu_le10": [], "broken": [], "failed": []}
             for m in methods}
    n = 0
    for g in rows:
        if g["expect"] != "plan":
            continue
        n += 1
        try:
            prog = programme_from_text(g["text"])
        except T2IError:
            continue
        width, depth = footprints(prog, 1)[0]
        rooms = len(prog.rooms)
        for m in methods:
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                if m.startswith("cp-sat"):
                    lay = solve(prog, variants=1, time_limit=time_limit)[0]
                    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
                    met = evaluate(prog, lay)
                else:
                    fn = room_growth if m == "room growth" else random_packing
                    polys = fn(prog, width, depth, seed=g["id"])
                    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
                    t = prog.target_areas()
                    scale = width * depth / sum(t.values())
                    met = evaluate_polygons(prog, width, depth, polys,
                                            {k: v * scale for k, v in t.items()})
            except T2IError as e:
                stats[m]["failed"].append((g["id"], e.code))
                continue
            s = stats[m]
            if met.violations and m.startswith("cp-sat"):
                s["broken"].append((g["id"], met.violations[:2]))
            s["plans"] += 1
            s["valid"] += not met.violations
            s["overlap"].append(met.overlap_m2)
            s["gap"].append(met.gap_m2)
            s["err"] += met.area_errors
            s["cpu"].append(cpu)
            s["wall"].append(wall)
            if rooms <= 10:
                s["cpu_le10"].append(cpu)
            if met.ged is not None:
                s["ged"].setdefault(rooms, []).append(met.ged)
    out = {"feasible_prompts": n}
    for m, s in stats.items():
        out[m] = {"plans": s["plans"], "valid": s["valid"],
                  "mean_overlap_m2": statistics.fmean(s["overlap"]) if s["overlap"] else None,
                  "mean_gap_m2": statistics.fmean(s["gap"]) if s["gap"] else None,
                  "median_area_error": statistics.median(s["err"]) if s["err"] else None,
                  "p95_cpu_s_le10_rooms": _p95(s["cpu_le10"]),
                  "median_cpu_s": statistics.median(s["cpu"]) if s["cpu"] else None,
                  "p95_wall_s": _p95(s["wall"]),
                  "ged_by_rooms": {k: statistics.fmean(v) for k, v in sorted(s["ged"].items())},
                  "ged_all": statistics.fmean([x for v in s["ged"].values() for x in v])
                  if s["ged"] else None, "broken": s["broken"], "failed": s["failed"]}
    return out


def _p95(xs: list[float]) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def bad_input(rows: list[dict]) -> dict:
    want = {"infeasible": "plan_infeasible", "no_rooms": "no_rooms", "too_many": "too_many_rooms"}
    out = {"cases": 0, "right_code": 0, "wrong": []}
    for g in rows:
        if g["expect"] not in want:
            continue
        out["cases"] += 1
        try:
            solve(programme_from_text(g["text"]), variants=1)
            out["wrong"].append((g["id"], "planned"))
        except T2IError as e:
            if e.code == want[g["expect"]]:
                out["right_code"] += 1
            else:
                out["wrong"].append((g["id"], e.code))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--time-limit", type=float, default=WORK_LIMIT)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows = load_gold(GOLD)
    if args.quick:
        rows = rows[::4]
    res = {"machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start",
           "parser": parser_table(rows), "layouts": layouts(rows, args.time_limit),
           "bad_input": bad_input(rows)}
    print(f"machine: {res['machine']}\n")
    print("PARSER  P / R / F1 per slot      ours                keywords")
    for split in ("dev", "test"):
        print(f"  [{split}]")
        for s in SLOTS:
            o, k = res["parser"][split][s]["ours"], res["parser"][split][s]["keywords"]
            print(f"  {s:12s} {o[0]:.2f} / {o[1]:.2f} / {o[2]:.2f}    "
                  f"{k[0]:.2f} / {k[1]:.2f} / {k[2]:.2f}")
    lay = res["layouts"]
    print(f"\nLAYOUTS on {lay['feasible_prompts']} feasible prompts")
    names = [m for m in lay if m != "feasible_prompts"]
    print(f"  {'':28s}" + "".join(f"{m:>18s}" for m in names))

    def row(label: str, key: str, fmt: str) -> None:
        vals = [lay[m][key] for m in names]
        print(f"  {label:28s}" + "".join(f"{format(v, fmt) if v is not None else '-':>18s}"
                                         for v in vals))

    for label, key, fmt in (("plans", "plans", "d"), ("all hard constraints met", "valid", "d"),
                            ("mean overlap m²", "mean_overlap_m2", ".3f"),
                            ("mean gap m²", "mean_gap_m2", ".3f"),
                            ("median room-area error", "median_area_error", ".3f"),
                            ("GED (all plans)", "ged_all", ".2f"),
                            ("p95 CPU s (<= 10 rooms)", "p95_cpu_s_le10_rooms", ".3f"),
                            ("median CPU s", "median_cpu_s", ".3f"),
                            ("p95 wall s (busy machine)", "p95_wall_s", ".3f")):
        row(label, key, fmt)
    ours = lay[names[0]]
    print("\n  GED by room count      " + "".join(f"{m:>18s}" for m in names)
          + "   HouseDiffusion")
    for k in sorted({k for m in names for k in lay[m]["ged_by_rooms"]}):
        vals = [lay[m]["ged_by_rooms"].get(k) for m in names]
        hd = HOUSEDIFFUSION_GED.get(k)
        print(f"  {k:2d} rooms              " + "".join(
            f"{v:18.2f}" if v is not None else f"{'-':>18s}" for v in vals)
              + (f"   {hd:.1f}" if hd else ""))
    for m in names[1:]:
        other = lay[m]
        if other["median_area_error"] and ours["median_area_error"]:
            print(f"  ratio area error {m} / ours: "
                  f"{other['median_area_error'] / ours['median_area_error']:.1f}x")
    print(f"\n  ours, no plan: {ours['failed']}")
    print(f"  ours, a hard constraint not met: {ours['broken']}")
    b = res["bad_input"]
    print(f"\nBAD INPUT: {b['right_code']} / {b['cases']} refused with the right code "
          f"{b['wrong'] or ''}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
