"""Speed of vector results on this machine (benchmarks/bench_vector.py): a 512 px vector
result end to end vs the 128 px raster result, live previews at 256 px (raster, vector, the
full trace), and the CPU time of one trace per style.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from vector_scores import SIZE

from t2i_core.vector import TraceOptions, trace_rgba


def speed(backend, rounds: int = 8) -> dict:
    from t2i_core.backends.base import GenerateRequest
    from t2i_core.vector.result import generate_vector

    raster, vector = [], []
    for i in range(rounds + 1):  # the first round warms up
        req = GenerateRequest(prompt="a red apple", seed=i, steps=20)
        t = time.perf_counter()
        backend.generate(GenerateRequest(**{**req.__dict__, "width": 128, "height": 128}))
        a = time.perf_counter() - t
        t = time.perf_counter()
        generate_vector(backend, GenerateRequest(**{**req.__dict__, "width": 512,
                                                    "height": 512, "vector": True}))
        b = time.perf_counter() - t
        if i:
            raster.append(a)
            vector.append(b)
    r, v = statistics.median(raster), statistics.median(vector)
    return {"raster_128_s": round(r, 3), "vector_512_s": round(v, 3),
            "vector_512_over_raster_128": round(v / r, 2), "rounds": rounds}


def live_speed(n: int = 30) -> dict:
    """Live previews at 256 px (the size the issue names): the live model's raster, its
    vector output as shipped (the coarser ``LIVE_TRACE``) and with the full trace (what live
    used before), in-process, batch 1, interleaved."""
    from t2i_core.backends.base import GenerateRequest
    from t2i_core.backends.live import LiveBackend
    from t2i_core.vector.result import generate_vector

    live = LiveBackend()
    prompts = ["a red apple", "house icon", "smiling face emoji", "a blue star", "cat icon",
               "sun", "a bicycle", "heart emoji"]
    times: dict[str, list[float]] = {"raster": [], "vector": [], "vector_full_trace": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}  # process time: load-independent
    for i in range(n + 2):
        req = GenerateRequest(prompt=prompts[i % len(prompts)], seed=i, width=256, height=256,
                              model="live", steps=1, guidance=0.0)
        vec = GenerateRequest(**{**req.__dict__, "vector": True})
        for name in times:
            t, c = time.perf_counter(), time.process_time()
            if name == "raster":
                live.generate(req)
            else:
                generate_vector(live, vec, options=None if name == "vector" else TraceOptions())
            if i >= 2:  # two warm-up rounds
                times[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
    med = {k: statistics.median(v) for k, v in times.items()}
    out: dict = {"n": n}
    for k, v in med.items():
        out[f"live_{k}_256_ms"] = round(1000 * v, 1)
        out[f"live_{k}_256_images_per_s"] = round(1 / v, 1)
        out[f"live_{k}_256_cpu_ms"] = round(1000 * statistics.median(cpu[k]), 1)
    out["full_trace_over_live_trace"] = round(med["vector_full_trace"] / med["vector"], 2)
    return out


def trace_cpu(items: list[dict], images: np.ndarray) -> dict:
    """CPU time (``time.process_time``: waiting for a core does not count) of one trace for
    a 512 px result, median / p90 per style: as shipped, the live previews' trace, and the
    settings before the colour changes of issue 15 (8 colours, blurred colour mask)."""
    before = TraceOptions(max_colours=8, min_colour_share=0.03, merge_distance=40.0,
                          corner_degrees=65.0, label_blur=0.35, palette_from="solid",
                          colour_edges="nearest")
    from t2i_core.vector.result import LIVE_TRACE

    out: dict = {}
    for kind in ("mono", "colour"):
        xs = [np.array(images[it["index"]]) for it in items if it["kind"] == kind]
        for name, opts in (("shipped", None), ("live", LIVE_TRACE), ("before", before)):
            ms = []
            for x in xs:
                t = time.process_time()
                trace_rgba(x, SIZE, opts)
                ms.append(1000 * (time.process_time() - t))
            out[f"{kind}/{name}"] = [round(float(np.median(ms)), 1),
                                     round(float(np.percentile(ms, 90)), 1)]
    return out
