"""``t2i plan "a two-bedroom apartment, 70 m²" -o plan.svg``: a floor plan, through the worker.

Like ``t2i generate`` it goes through the worker (the advertised one, or one started for the
command), exactly as the panels do; ``--local`` solves in this process instead. The output's
suffix picks the format: .svg (layered), .dxf (metres, one layer per element kind) or .json
(the plain geometry). With several variants the files are numbered: plan.svg, plan-2.svg, ...
``--programme FILE`` solves an edited programme (the JSON ``--save-programme`` wrote, or a
plan SVG's metadata) instead of text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

FORMATS = {".svg": "svg", ".dxf": "dxf", ".json": "geometry"}


def add_plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", nargs="?", default="",
                   help="the dwelling in words, e.g. 'a two-bedroom apartment with an open "
                        "kitchen, 70 m², living room facing south'")
    p.add_argument("-o", "--output", type=Path, default=Path("plan.svg"),
                   help="plan.svg, plan.dxf or plan.json (numbered per variant)")
    p.add_argument("--variants", type=int, default=3, help="how many layouts (1-6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=0.3,
                   help="solver work per variant (deterministic seconds, default 0.3)")
    p.add_argument("--programme", type=Path, default=None,
                   help="solve this programme (JSON, or a plan SVG) instead of the text")
    p.add_argument("--save-programme", type=Path, default=None,
                   help="write the programme (the editable table) as JSON")
    p.add_argument("--local", action="store_true", help="solve in this process, not the worker")
    p.add_argument("--endpoint", default=None, help="a running worker's endpoint")
    p.add_argument("--timeout", type=float, default=300.0)


def load_programme(path: Path) -> dict:
    """A programme from a JSON file or from a plan SVG's ``<metadata id="t2i-plan">``."""
    import html
    import re

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".svg":
        m = re.search(r'<metadata id="t2i-plan">(.*?)</metadata>', text, re.S)
        if m is None:
            raise ValueError(f"{path} is not a plan SVG made by t2i (no t2i-plan metadata)")
        return json.loads(html.unescape(m.group(1)))["programme"]
    data = json.loads(text)
    return data.get("programme", data) if isinstance(data, dict) else data


def output_paths(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    return [output] + [output.with_name(f"{output.stem}-{k}{output.suffix}")
                       for k in range(2, count + 1)]


def cmd_plan(args: argparse.Namespace) -> int:
    fmt = FORMATS.get(args.output.suffix.lower())
    if fmt is None:
        print(f"error: -o must end in .svg, .dxf or .json, not '{args.output.suffix}'",
              file=sys.stderr)
        return 2
    body: dict = {"prompt": args.prompt, "variants": args.variants, "seed": args.seed,
                  "time_limit": args.time_limit, "formats": [fmt]}
    if args.programme is not None:
        try:
            body["programme"] = load_programme(args.programme)
        except (OSError, ValueError, KeyError) as e:
            print(f"error: cannot read the programme: {e}", file=sys.stderr)
            return 2
    elif not args.prompt.strip():
        print("error: describe the plan, e.g. t2i plan \"a two-bedroom apartment with an open "
              "kitchen, 70 m²\" -o plan.svg (or pass --programme FILE)", file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        result = _local(body) if args.local else _worker(args, body)
    except _Failed as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    programme, variants, files = result
    if programme.get("unknown"):
        print(f"not understood: {', '.join(programme['unknown'])}", file=sys.stderr)
    for note in programme.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    print(_table(programme), file=sys.stderr)
    if args.save_programme is not None:
        args.save_programme.write_text(json.dumps(programme, indent=2, ensure_ascii=False),
                                       encoding="utf-8")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for path, v, data in zip(output_paths(args.output, len(variants)), variants, files,
                             strict=True):
        path.write_bytes(data)
        m = v["metrics"]
        print(f"{path}  ({v['layout']['width']:g} × {v['layout']['depth']:g} m, "
              f"{len(v['layout']['rooms'])} rooms, median area error "
              f"{100 * m['median_area_error']:.0f} %)")
    print(f"done in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


def _table(programme: dict) -> str:
    rows = ["room            kind       area m²   facing"]
    for r in programme["rooms"]:
        area = f"{r['area']:.1f}" if r.get("area") is not None else "auto"
        rows.append(f"{r['id']:15s} {r['kind']:10s} {area:>7s}   {r.get('facing') or ''}")
    for rel in programme["relations"]:
        rows.append(f"  {rel['a']} {rel['kind']} {rel['b']}")
    return "\n".join(rows)


class _Failed(Exception):
    pass


def _local(body: dict) -> tuple[dict, list[dict], list[bytes]]:
    from t2i_core.errors import T2IError
    from t2i_core.plan.api import plan_programme
    from t2i_core.plan.parser import programme_from_text
    from t2i_core.plan.programme import Programme

    try:
        prog = Programme.from_dict(body["programme"]) if "programme" in body else \
            programme_from_text(body["prompt"])
        result = plan_programme(prog, body["variants"], body["seed"], body["time_limit"])
    except T2IError as e:
        raise _Failed(e.message) from e
    fmt = body["formats"][0]
    files = [(v.svg if fmt == "svg" else v.dxf() if fmt == "dxf"
              else json.dumps(v.geometry)).encode("utf-8") for v in result.variants]
    variants = [{"metrics": v.metrics.to_dict(), "layout": v.layout.to_dict()}
                for v in result.variants]
    return prog.to_dict(), variants, files


def _worker(args: argparse.Namespace, body: dict) -> tuple[dict, list[dict], list[bytes]]:
    from worker.client import WorkerClient, WorkerError
    from worker.replies import PlanResult

    client = WorkerClient(endpoint=args.endpoint)
    try:
        handle = client.request("plan", body)
        try:
            result = handle.reply(PlanResult, timeout=args.timeout)
        except KeyboardInterrupt:
            handle.cancel().wait(timeout=10)
            raise
    except WorkerError as e:
        raise _Failed(e.message) from e
    finally:
        client.close()
    files = [im.to_bytes() for im in result.files]
    variants = [{"metrics": v.metrics, "layout": v.layout} for v in result.variants]
    return result.programme, variants, files
