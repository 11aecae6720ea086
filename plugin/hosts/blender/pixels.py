"""Pixel layouts between the worker and Blender (pure Python: no bpy, no numpy).

The worker sends 8-bit straight-alpha RGBA, rows top to bottom, in sRGB. Blender's
``Image.pixels`` is a flat list of floats, rows bottom to top. For an 8-bit image Blender
keeps the bytes as they are (``colorspace_settings`` only says how to *display* them) and
``pixels`` is byte / 255, written back as ``int(f * 255 + 0.5)``: so bytes / 255 in and
round(f * 255) out is exact. Float images hold scene-linear, premultiplied values: those
are converted to sRGB and un-premultiplied before they are sent as an init image.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

_BYTE_TO_UNIT = [i / 255.0 for i in range(256)]
# Blender hands 8-bit pixels out as float32(byte / 255): exactly 256 distinct values, so a
# dict lookup converts them back (2.5x faster than arithmetic per value in pure Python).
_UNIT32_TO_BYTE = {v: i for i, v in enumerate(array("f", _BYTE_TO_UNIT))}


def flip_rows(data: bytes | bytearray | memoryview, width: int, height: int,
              channels: int = 4) -> bytes:
    """The same rows in the opposite order (top-down <-> bottom-up)."""
    stride = width * channels
    view = memoryview(data).cast("B")
    if view.nbytes != stride * height:
        raise ValueError(f"{width}x{height}x{channels} needs {stride * height} bytes, "
                         f"got {view.nbytes}")
    return b"".join(view[r * stride:(r + 1) * stride] for r in range(height - 1, -1, -1))


def rgba8_to_blender(data: bytes | bytearray | memoryview, width: int, height: int) -> array:
    """Worker RGBA8 (top-down) -> floats for ``image.pixels.foreach_set`` (bottom-up)."""
    return array("f", map(_BYTE_TO_UNIT.__getitem__, flip_rows(data, width, height)))


def _unit_to_byte(f: float) -> int:
    # Blender's unit_float_to_uchar_clamp: the exact inverse of byte / 255.
    if f <= 0.0:
        return 0
    if f >= 1.0:
        return 255
    return int(f * 255.0 + 0.5)


def linear_to_srgb(c: float) -> float:
    """The sRGB transfer function (IEC 61966-2-1) for one scene-linear component."""
    if c <= 0.0031308:
        return 12.92 * c if c > 0.0 else 0.0
    return 1.055 * c ** (1.0 / 2.4) - 0.055


def blender_to_rgba8(values: Sequence[float], width: int, height: int, *,
                     linear_premultiplied: bool = False) -> bytes:
    """``image.pixels`` (bottom-up floats, 4 channels) -> worker RGBA8 (top-down bytes).

    ``linear_premultiplied``: the values come from a float image (scene-linear RGB,
    premultiplied alpha) and are converted to straight-alpha sRGB first."""
    n = width * height * 4
    if len(values) != n:
        raise ValueError(f"{width}x{height} RGBA needs {n} values, got {len(values)}")
    if not linear_premultiplied:
        try:
            out = bytes(map(_UNIT32_TO_BYTE.__getitem__, values))
        except KeyError:  # values not from an 8-bit buffer (set by a script): round each
            out = bytes(map(_unit_to_byte, values))
    else:
        buf = bytearray(n)
        for i in range(0, n, 4):
            a = values[i + 3]
            scale = 1.0 / a if a > 0.0 else 1.0
            buf[i] = _unit_to_byte(linear_to_srgb(values[i] * scale))
            buf[i + 1] = _unit_to_byte(linear_to_srgb(values[i + 1] * scale))
            buf[i + 2] = _unit_to_byte(linear_to_srgb(values[i + 2] * scale))
            buf[i + 3] = _unit_to_byte(a)
        out = bytes(buf)
    return flip_rows(out, width, height)
