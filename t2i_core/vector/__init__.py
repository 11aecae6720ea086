"""Vector output: trace a small RGBA raster into a flat-colour SVG, and render SVG back.

``trace_rgba`` (trace.py) and ``render_svg`` (render.py); docs/vector.md has the design and
the measurements behind it.
"""

from t2i_core.vector.render import render_svg
from t2i_core.vector.trace import Trace, TraceOptions, trace_rgba, upsample_rgba

__all__ = ["Trace", "TraceOptions", "render_svg", "trace_rgba", "upsample_rgba"]
