"""Floor plans from text: programme -> CP-SAT layout -> drawing -> SVG / DXF / JSON.

    from t2i_core.plan import plan_from_text
    result = plan_from_text("a two-bedroom apartment with an open kitchen, 70 m²")
    result.variants[0].svg, result.variants[0].dxf(), result.variants[0].geometry

The pieces, one module each: ``programme`` (dataclasses + rule table), ``lexicon``,
``parser`` and ``reading`` (text -> programme), ``layout`` (the answer's types and rules),
``cpsat_model`` and ``solver`` (CP-SAT), ``drawing`` (shapely geometry), ``svg`` / ``dxf``
(exporters), ``metrics`` and ``parser_eval`` (evaluation), ``baselines`` (room growth,
random packing), ``api`` (the whole pipeline). docs/floorplans.md explains the decisions.

The package itself imports nothing heavy: the parser and the programme load without OR-Tools
or shapely (the worker reads a request on its socket thread), the rest on first use.
"""

from __future__ import annotations

from typing import Any

from t2i_core.plan.programme import MAX_VARIANTS  # light: no OR-Tools, no shapely

__all__ = ["MAX_VARIANTS"]
_API = ("PlanResult", "PlanVariant", "plan_from_text", "plan_programme")


def __getattr__(name: str) -> Any:
    if name in _API:
        from t2i_core.plan import api

        return getattr(api, name)
    if name == "programme_from_text":
        from t2i_core.plan.parser import programme_from_text

        return programme_from_text
    raise AttributeError(name)
