"""The plan pipeline in one call: text or programme -> layouts -> drawings -> files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from t2i_core.errors import T2IError
from t2i_core.plan.drawing import Drawing, draw
from t2i_core.plan.metrics import PlanMetrics, evaluate
from t2i_core.plan.parser import programme_from_text
from t2i_core.plan.programme import MAX_VARIANTS, Programme
from t2i_core.plan.solver import WORK_LIMIT, Layout, solve
from t2i_core.plan.svg import to_svg


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


