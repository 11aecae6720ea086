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


def bezier_segments(poly: np.ndarray, corners: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each edge i -> i+1 of the closed polygon: its two Bézier control points (N, 2)
    each, and whether it is a straight line (both ends corners). The curve is Catmull-Rom
    through the vertices."""
    prev = np.roll(poly, 1, axis=0)
    nxt = np.roll(poly, -1, axis=0)
    # The tangent direction at each vertex: smooth vertices take the chord of their
    # neighbours (Catmull-Rom); corners take none, so each side leaves along its own edge.
    # Each handle is a third of *its own* edge long (not a sixth of the neighbours' chord):
    # a short edge next to a long one would otherwise overshoot into a visible flare.
    chord = nxt - prev
    direction = chord / np.maximum(np.linalg.norm(chord, axis=1, keepdims=True), 1e-9)
    edge = nxt - poly
    third = np.linalg.norm(edge, axis=1, keepdims=True) / 3.0
    corner_next = np.roll(corners, -1)
    c1 = poly + np.where(corners[:, None], edge / 3.0, direction * third)
    c2 = nxt - np.where(corner_next[:, None], edge / 3.0, np.roll(direction, -1, axis=0)
                        * third)
    return c1, c2, corners & corner_next


def path_data(polygons: list[np.ndarray], corner_degrees: float | None,
              decimals: int = 2) -> str:
    """SVG path data for closed polygons (x, y): one subpath each. ``corner_degrees=None``
    draws the plain polygon (the baseline the curves are measured against)."""
    parts: list[str] = []
    for poly in polygons:
        if len(poly) < 3:
            continue
        pts = _text(poly, decimals)
        parts.append(f"M{pts[0]}")
        if corner_degrees is None:
            parts.append("L" + " ".join(pts[1:]) + f" {pts[0]}")
        else:
            c1, c2, line = bezier_segments(poly, corner_flags(poly, corner_degrees))
            t1, t2 = _text(c1, decimals), _text(c2, decimals)
            ends = pts[1:] + pts[:1]
            parts.extend(f"L{e}" if is_line else f"C{a} {b} {e}"
                         for a, b, e, is_line in zip(t1, t2, ends, line.tolist(), strict=True))
        parts.append("Z")
    return "".join(parts)


def _text(points: np.ndarray, decimals: int) -> list[str]:
    """'x y' per point, rounded, without trailing zeros ('12.5 3', never '-0')."""
    nums = np.char.mod("%g", np.round(points, decimals) + 0.0)
    return [f"{x} {y}" for x, y in nums.tolist()]
