"""SVG -> RGBA raster with resvg (``resvg-py``: a self-contained wheel, no system libraries).

Used for the raster that goes with every vector result (rendered from the SVG at the
requested size, so it is sharp at any size) and by the benchmark to score the SVG.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from t2i_core.errors import T2IError


def render_svg(svg: str, width: int, height: int | None = None) -> np.ndarray:
    """(height, width, 4) uint8 straight-alpha RGBA of ``svg`` scaled to fill the size."""
    import resvg_py

    height = height or width
    try:
        png = resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height,
                                    skip_system_fonts=True)
    except ValueError as e:
        raise T2IError("bad_svg", f"the SVG could not be rendered ({e}); it is not a valid "
                       "SVG drawing") from None
    img = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    if img.size != (width, height):  # resvg keeps the aspect ratio; fill the box as asked
        img = img.resize((width, height), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8)
