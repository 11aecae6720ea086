"""Vector results: a generation whose images also come back as SVG drawings.

The icon models draw at 32 px. For a vector request the backend runs at that native size,
each image is traced (``trace_rgba``), and the raster that goes with it is the SVG rendered
at the requested size, so a 512 px result is as sharp as the drawing, not a blown-up 32 px
image. At 32 px the raster is the generator's own output. Provenance records ``vector``.
"""

from __future__ import annotations

import dataclasses
import json
from xml.sax.saxutils import escape

from t2i_core.backends.base import (
    Backend,
    CancelFlag,
    GenerateRequest,
    GenerateResult,
    ProgressCallback,
)
from t2i_core.errors import T2IError
from t2i_core.vector.render import render_svg
from t2i_core.vector.trace import TraceOptions, trace_rgba

NATIVE = 32  # the icon models' drawing size: what gets traced
# Live previews (model ``live``, redrawn as the user types) trace coarser and faster: half the
# upsampling, Lanczos instead of the learned enhancer, a looser outline and a smaller file.
# 2.1x faster per trace than the default on held-out colour icons, -1.1 dB at 512 px
# (docs/vector.md, "Live previews"); the full trace is what Pin / a normal generate gives.
# Its palette stays the input's solid pixels with nearest-colour edges: a 2x Lanczos raster
# has too few flat pixels for the full trace's palette (-0.9 dB on validation icons).
LIVE_TRACE = TraceOptions(scale=2, tolerance=0.15, upsample="lanczos", max_bytes=12_000,
                          palette_from="solid", colour_edges="nearest", min_colour_share=0.015)


def trace_options_for(request: GenerateRequest) -> TraceOptions:
    """The live model's previews get ``LIVE_TRACE``; every other result the full trace."""
    return LIVE_TRACE if request.model == "live" else TraceOptions()


def generate_vector(backend: Backend, request: GenerateRequest,
                    progress: ProgressCallback | None = None,
                    cancel: CancelFlag | None = None,
                    options: TraceOptions | None = None) -> GenerateResult:
    """``backend.generate`` at the native size, traced (``options``, default
    ``trace_options_for(request)``), rasters rendered from the SVGs."""
    if request.width != request.height:
        raise T2IError("bad_size", f"vector output is square; got {request.width}x"
                       f"{request.height}")
    size = request.width
    native = dataclasses.replace(request, width=NATIVE, height=NATIVE, vector=False)
    result = backend.generate(native, progress, cancel)
    options = options or trace_options_for(request)
    images, svgs = [], []
    for image in result.images:
        svg = trace_rgba(image, size=size, options=options).svg
        svgs.append(svg)
        images.append(render_svg(svg, size) if size > NATIVE else image)
    provenance = [dataclasses.replace(p, width=size, height=size, vector=True)
                  for p in result.provenance]
    return GenerateResult(images=images, provenance=provenance, warnings=result.warnings,
                          svgs=svgs)


def with_metadata(svg: str, provenance: dict) -> str:
    """The SVG with its provenance as JSON in a ``<metadata>`` element (for saved files:
    the drawing says how it was made, as a PNG's text chunk does)."""
    close = svg.find(">", svg.find("<svg"))
    if close < 0:
        raise T2IError("bad_svg", "not an SVG document")
    meta = f'<metadata id="t2i-provenance">{escape(json.dumps(provenance))}</metadata>'
    return svg[: close + 1] + meta + svg[close + 1:]
