"""Floor plans from text: programme -> CP-SAT layout -> drawing -> SVG / DXF / JSON.

    from t2i_core.plan import plan_from_text
    result = plan_from_text("a two-bedroom apartment with an open kitchen, 70 m²")
    result.variants[0].svg, result.variants[0].dxf(), result.variants[0].geometry

The pieces, one module each: ``programme`` (dataclasses + rule table), ``parser`` (text ->
programme), ``solver`` (CP-SAT), ``drawing`` (shapely geometry), ``svg`` / ``dxf``
(exporters), ``metrics`` (evaluation), ``baselines`` (room growth, random packing).
docs/floorplans.md explains the decisions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from t2i_core.errors import T2IError
from t2i_core.plan.drawing import Drawing, draw
from t2i_core.plan.metrics import PlanMetrics, evaluate
from t2i_core.plan.parser import parse
from t2i_core.plan.programme import NO_ROOMS_MESSAGE, Programme, complete
from t2i_core.plan.solver import WORK_LIMIT, Layout, solve
from t2i_core.plan.svg import to_svg

MAX_VARIANTS = 6


@dataclass
class PlanVariant:
    layout: Layout
    drawing: Drawing
    metrics: PlanMetrics
    svg: str

    @property
    def geometry(self) -> dict:
        return {**self.drawing.to_dict(), "layout": self.layout.to_dict()}

    def dxf(self) -> str:
        from t2i_core.plan.dxf import to_dxf

        return to_dxf(self.drawing)


@dataclass
class PlanResult:
    programme: Programme  # completed: what was solved (the table the user edits)
    variants: list[PlanVariant] = field(default_factory=list)
    seconds: float = 0.0

    def provenance(self) -> dict:
        return {"kind": "plan", "programme": self.programme.to_dict(),
                "source": self.programme.source}


def programme_from_text(text: str) -> Programme:
    """Parse and complete; raises ``no_rooms`` (with examples) when there is nothing."""
    if not text or not text.strip():
        raise T2IError("no_rooms", NO_ROOMS_MESSAGE)
    parsed = parse(text)
    if not parsed.rooms and not parsed.unit:
        words = f" (not understood: {', '.join(parsed.unknown[:12])})" if parsed.unknown else ""
        raise T2IError("no_rooms", NO_ROOMS_MESSAGE + words)
    return complete(parsed)


def plan_programme(prog: Programme, variants: int = 3, seed: int = 0,
                   time_limit: float = WORK_LIMIT,
                   cancel=None, progress=None) -> PlanResult:
    if not 1 <= variants <= MAX_VARIANTS:
        raise T2IError("bad_request", f"variants must be 1-{MAX_VARIANTS}, got {variants}")
    if not 0.05 <= time_limit <= 30:
        raise T2IError("bad_request", f"time_limit must be 0.05-30 (solver work seconds per "
                       f"variant), got {time_limit}")
    t0 = time.perf_counter()
    prog.validate()
    result = PlanResult(prog)
    for layout in solve(prog, variants, seed, time_limit, cancel=cancel, progress=progress):
        drawing = draw(layout)
        meta = {"t2i": "plan", "programme": prog.to_dict(), "layout": layout.to_dict()}
        result.variants.append(PlanVariant(layout, drawing, evaluate(prog, layout),
                                           to_svg(drawing, meta)))
    result.seconds = time.perf_counter() - t0
    return result


def plan_from_text(text: str, variants: int = 3, seed: int = 0,
                   time_limit: float = WORK_LIMIT) -> PlanResult:
    return plan_programme(programme_from_text(text), variants, seed, time_limit)


__all__ = ["PlanResult", "PlanVariant", "Programme", "plan_from_text", "plan_programme",
           "programme_from_text"]
