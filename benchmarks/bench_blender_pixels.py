"""The Blender add-on's pixel conversion (pure Python, as it runs inside Blender) against the
straightforward per-pixel loop, side by side.

    python benchmarks/bench_blender_pixels.py [--size 512] [--repeats 3]

- results: worker RGBA8 top-down -> Blender float pixels bottom-up (``rgba8_to_blender``);
- init images: Blender floats bottom-up -> RGBA8 top-down (``blender_to_rgba8``), 8-bit
  images (the common case) and float images (sRGB transfer + un-premultiply).
The baseline is what one writes first: index arithmetic per channel in nested loops.
Medians of ``--repeats``; both sides produce the same values (checked).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from array import array

from plugin.hosts.blender.pixels import blender_to_rgba8, rgba8_to_blender


def baseline_to_blender(data: bytes, w: int, h: int) -> list[float]:
    out = [0.0] * (w * h * 4)
    for y in range(h):
        for x in range(w):
            for c in range(4):
                out[((h - 1 - y) * w + x) * 4 + c] = data[(y * w + x) * 4 + c] / 255.0
    return out


def baseline_from_blender(values, w: int, h: int) -> bytes:
    out = bytearray(w * h * 4)
    for y in range(h):
        for x in range(w):
            for c in range(4):
                v = values[((h - 1 - y) * w + x) * 4 + c]
                out[(y * w + x) * 4 + c] = max(0, min(255, int(v * 255.0 + 0.5)))
    return bytes(out)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n = args.size
    data = random.Random(0).randbytes(n * n * 4)
    floats = array("f", rgba8_to_blender(data, n, n))
    assert list(floats) == [float(v) for v in array("f", baseline_to_blender(data, n, n))]
    assert blender_to_rgba8(floats, n, n) == baseline_from_blender(floats, n, n) == data
    rows = [
        ("RGBA8 -> Blender floats", lambda: rgba8_to_blender(data, n, n),
         lambda: baseline_to_blender(data, n, n)),
        ("Blender floats -> RGBA8", lambda: blender_to_rgba8(floats, n, n),
         lambda: baseline_from_blender(floats, n, n)),
    ]
    print(f"{n}x{n} RGBA, median of {args.repeats}")
    print(f"{'':26s} {'ours':>9s} {'baseline':>9s} {'ratio':>7s}")
    for name, ours, base in rows:
        t_ours, t_base = median_time(ours, args.repeats), median_time(base, args.repeats)
        print(f"{name:26s} {t_ours * 1000:7.0f}ms {t_base * 1000:7.0f}ms {t_base / t_ours:6.1f}x")
    t_float = median_time(lambda: blender_to_rgba8(floats, n, n, linear_premultiplied=True),
                          args.repeats)
    print(f"{'float image -> RGBA8':26s} {t_float * 1000:7.0f}ms  (linear -> sRGB, no baseline)")


if __name__ == "__main__":
    main()
