"""The worker's ``plan`` job: a floor plan from text or from an edited programme.

It runs on the runner thread like every job (one at a time, fair queue, cancel between
variants). What is specific to plans lives here:

- ``prepare_plan``: read the programme (parse the prompt, or check the edited programme)
  before the job is queued, so "no rooms", "200 rooms" or a broken table is answered at once;
- ``run_plan``: solve the variants with a ``progress`` event per variant, write every file
  (SVG, DXF, geometry JSON, programme) to the history before replying, and reply with the
  programme, each variant's metrics and layout in the body, and the files as ``bytes``
  frames (the header has a 64 KiB limit; a DXF alone is bigger).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker import protocol as P
from worker.accept import plan_programme

log = logging.getLogger("worker.plan")
SUFFIX = {"svg": ".svg", "geometry": ".json", "dxf": ".dxf"}


def prepare_plan(job: Any) -> None:
    job.prepared = plan_programme(job.params)  # worker/accept.py, as the gateway


def run_plan(job: Any, send: Callable[[P.Message], None], history: Any,
             session: str) -> P.Message:
    """Solve; returns the terminal ``result``. Raises ``T2IError`` / ``Cancelled`` like a
    backend, for the runner to turn into ``error`` / ``cancelled``."""
    from t2i_core.plan.api import plan_programme

    p: P.PlanParams = job.params
    prog = job.prepared

    def progress(done: int, total: int) -> None:
        job.step = done
        send(P.Message("progress", job.id, {"step": done, "total": total, "phase": "solving"}))

    started = time.monotonic()
    result = plan_programme(prog, p.variants, p.seed, p.time_limit, cancel=job.cancel,
                            progress=progress)
    files: list[dict[str, str | bytes]] = []
    for v in result.variants:
        files.append({"svg": v.svg, "geometry": json.dumps(v.geometry),
                      "dxf": v.dxf()})
    provenance = {**result.provenance(), "seed": p.seed, "variants": p.variants,
                  "time_limit": p.time_limit, "prompt": p.prompt}
    paths: list[str] = []
    warnings = list(job.warnings)
    if history is not None:
        try:
            paths = save_plan(history.root, job.id, files, provenance, session)
        except OSError as e:  # still deliver the plan
            log.exception("plan history write failed")
            warnings.append(f"could not write the history: {e}")
    frames: list[P.Image] = []
    variants = []
    for v, f in zip(result.variants, files, strict=True):
        variants.append({"index": v.layout.variant, "metrics": v.metrics.to_dict(),
                         "layout": v.layout.to_dict(), "frames": list(p.formats)})
        frames += [P.Image.from_bytes(f[name], name) for name in p.formats]
    body = {"programme": prog.to_dict(), "variants": variants, "provenance": provenance,
            "notes": prog.notes, "unknown": prog.unknown, "warnings": warnings,
            "history": paths,
            "timing": {"queued_s": round(job.started - job.submitted, 4),
                       "run_s": round(time.monotonic() - started, 4),
                       "solve_s": [round(v.layout.seconds, 4) for v in result.variants]}}
    return P.Message("result", job.id, body, frames)


def save_plan(root: Path, request_id: str, files: list[dict[str, str | bytes]],
              provenance: dict, session: str) -> list[str]:
    """``<history>/<day>/<HHMMSS>-<id>-plan-<k>.{svg,dxf,json}`` plus one
    ``...-plan.json`` with the programme (the provenance), written as temp file + rename."""
    from worker.history import _atomic

    now = time.time()
    day = Path(root) / time.strftime("%Y-%m-%d", time.localtime(now))
    day.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%H%M%S', time.localtime(now))}-" \
           f"{re.sub(r'[^A-Za-z0-9_-]', '_', request_id)[:64]}-plan"
    base, n = day / stem, 1
    while base.with_name(base.name + ".json").exists():
        base, n = day / f"{stem}{n}", n + 1
    paths = []
    for k, variant in enumerate(files):
        for name, data in variant.items():
            path = base.with_name(f"{base.name}-{k}{'-geometry' if name == 'geometry' else ''}"
                                  f"{SUFFIX[name]}")
            raw = data.encode("utf-8") if isinstance(data, str) else data
            _atomic(path, lambda q, raw=raw: Path(q).write_bytes(raw))
            paths.append(str(path))
    sidecar = {"request_id": request_id, "created": now, "worker_session": session,
               "provenance": provenance, "files": [Path(x).name for x in paths]}
    side = base.with_name(base.name + ".json")
    _atomic(side, lambda q: Path(q).write_text(json.dumps(sidecar, indent=2,
                                                          ensure_ascii=False), "utf-8"))
    return [str(side), *paths]
