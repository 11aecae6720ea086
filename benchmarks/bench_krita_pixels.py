"""The Krita plugin's pixel-order conversion (pure Python, as it runs inside Krita: RGBA from
the worker <-> Krita's BGRA) against the straightforward per-pixel loop, side by side.

    python benchmarks/bench_krita_pixels.py [--size 1024] [--repeats 5]

Ours swaps the red and blue bytes with two slice assignments (the copying runs in C); the
baseline is what one writes first: a loop over pixels. Both give the same bytes (checked).
Medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

from plugin.hosts.krita.pixels import swap_red_blue


def baseline_swap(data: bytes) -> bytes:
    out = bytearray(len(data))
    for i in range(0, len(data), 4):
        out[i], out[i + 1], out[i + 2], out[i + 3] = data[i + 2], data[i + 1], data[i], \
            data[i + 3]
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
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    n = args.size
    data = random.Random(0).randbytes(n * n * 4)
    assert swap_red_blue(data) == baseline_swap(data)
    ours = median_time(lambda: swap_red_blue(data), args.repeats)
    base = median_time(lambda: baseline_swap(data), args.repeats)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"RGBA <-> BGRA, {n}x{n}: ours {ours * 1000:.1f} ms, per-pixel loop "
          f"{base * 1000:.1f} ms, ratio {base / ours:.0f}x")


if __name__ == "__main__":
    main()
