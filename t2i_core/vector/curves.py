"""Closed polygons -> SVG path data with smooth cubic Bézier outlines and kept corners.

The contours come from scikit-image (``find_contours``, marching squares) and are thinned by
Douglas-Peucker (shapely's ``simplify``), so every vertex lies on the traced outline.
What is left is to draw a smooth curve *through* those vertices: a Catmull-Rom-style
spline, one cubic Bézier per edge, whose tangent at a vertex follows the chord between its
neighbours and whose handles are a third of the edge long (so unevenly spaced vertices do
not overshoot). A vertex where the outline
turns sharply stays a corner (its tangents follow its own edges), and an edge between two
corners stays a straight line (``L``), so squares stay square and circles stay round.

No library on the package index here fits Béziers to points and is maintained (potrace's
fitter is GPL); this conversion is a dozen lines. docs/vector.md records the measurement
that justifies it against the plain polygon (the same vertices drawn with straight lines).
"""

from __future__ import annotations

import numpy as np


def corner_flags(poly: np.ndarray, corner_degrees: float) -> np.ndarray:
    """True where the closed polygon ``poly`` (N, 2) turns by more than ``corner_degrees``."""
    prev = poly - np.roll(poly, 1, axis=0)
    nxt = np.roll(poly, -1, axis=0) - poly
    cross = prev[:, 0] * nxt[:, 1] - prev[:, 1] * nxt[:, 0]
    dot = (prev * nxt).sum(axis=1)
    turn = np.degrees(np.abs(np.arctan2(cross, dot)))
    return turn > corner_degrees


def bezier_segments(poly: np.ndarray, corners: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """One segment per edge i -> i+1 of the closed polygon: ``(end,)`` for a straight line,
    ``(c1, c2, end)`` for a cubic Bézier (Catmull-Rom through the vertices)."""
    n = len(poly)
    prev = np.roll(poly, 1, axis=0)
    nxt = np.roll(poly, -1, axis=0)
    # The tangent direction at each vertex: smooth vertices take the chord of their
    # neighbours (Catmull-Rom); corners take none, so each side leaves along its own edge.
    # Each handle is a third of *its own* edge long (not a sixth of the neighbours' chord):
    # a short edge next to a long one would otherwise overshoot into a visible flare.
    chord = nxt - prev
    direction = chord / np.maximum(np.linalg.norm(chord, axis=1, keepdims=True), 1e-9)
    segments: list[tuple[np.ndarray, ...]] = []
    for i in range(n):
        j = (i + 1) % n
        if corners[i] and corners[j]:
            segments.append((poly[j],))
            continue
        edge = poly[j] - poly[i]
        third = float(np.linalg.norm(edge)) / 3.0
        c1 = poly[i] + (edge / 3.0 if corners[i] else direction[i] * third)
        c2 = poly[j] - (edge / 3.0 if corners[j] else direction[j] * third)
        segments.append((c1, c2, poly[j]))
    return segments


def path_data(polygons: list[np.ndarray], corner_degrees: float | None,
              decimals: int = 2) -> str:
    """SVG path data for closed polygons (x, y): one subpath each. ``corner_degrees=None``
    draws the plain polygon (the baseline the curves are measured against)."""
    fmt = f"{{:.{decimals}f}}"

    def pt(p: np.ndarray) -> str:
        return f"{_num(fmt.format(p[0]))} {_num(fmt.format(p[1]))}"

    parts: list[str] = []
    for poly in polygons:
        if len(poly) < 3:
            continue
        parts.append(f"M{pt(poly[0])}")
        if corner_degrees is None:
            parts.append("L" + " ".join(pt(p) for p in poly[1:]))
        else:
            for seg in bezier_segments(poly, corner_flags(poly, corner_degrees)):
                if len(seg) == 1:
                    parts.append(f"L{pt(seg[0])}")
                else:
                    parts.append(f"C{pt(seg[0])} {pt(seg[1])} {pt(seg[2])}")
        parts.append("Z")
    return "".join(parts)


def _num(text: str) -> str:
    """'12.50' -> '12.5', '3.00' -> '3', '-0.00' -> '0': fewer bytes, same value."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
