"""Krita's raw pixel order <-> the worker's.

Krita's ``Node.pixelData``/``setPixelData`` use the layer's colour space in memory order:
for RGBA/U8 that is B, G, R, A per pixel (straight alpha). The worker and the panel speak
R, G, B, A. Swapping the two colour bytes with slice assignment runs the copying in C
without numpy (which Krita's Python lacks): ~40 ms for 1024 px, ~50x the per-pixel loop
(benchmarks/bench_krita_pixels.py).
"""

from __future__ import annotations


def swap_red_blue(data: bytes) -> bytes:
    """RGBA -> BGRA, and BGRA -> RGBA (the same swap)."""
    if len(data) % 4:
        raise ValueError(f"4-channel pixels need a multiple of 4 bytes, got {len(data)}")
    out = bytearray(data)
    out[0::4], out[2::4] = data[2::4], data[0::4]
    return bytes(out)


def clip_rect(x: int, y: int, width: int, height: int, canvas_w: int, canvas_h: int
              ) -> tuple[int, int, int, int] | None:
    """The part of a rectangle inside the canvas, or None when they do not overlap."""
    left, top = max(0, x), max(0, y)
    right, bottom = min(canvas_w, x + width), min(canvas_h, y + height)
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top
