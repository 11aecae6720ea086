"""How much the worker process costs, compared with doing the same thing in-process.

    python benchmarks/bench_worker.py            # all three, prints ours vs baseline + ratio
    python benchmarks/bench_worker.py --quick    # fewer repetitions

1. transport: a 1024x1024 RGBA image out and back through a ROUTER/DEALER pair over TCP
   loopback with the real protocol encode/decode (echo in another process), vs a plain
   in-process memory copy of the same image; then a full generate request returning a
   1024x1024 result through the real worker (synthetic backend: no model time) vs calling
   that backend in-process.
2. overhead: a full generate request through the worker vs ``backend.generate`` in-process,
   same model, same threads, same preview rate, calls interleaved so machine load hits both
   alike (target < 2 %). With the history on, it also prints the time the worker spent
   writing it before sending (``timing.history_s``) and the CPU of the background pass that
   compresses it afterwards (waited for outside the timed calls, so it slows neither side).
3. cold start: spawning a worker until the first result, vs a fresh in-process Python that
   imports, loads and generates once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
os.environ.update(ENV)

from worker import protocol as P  # noqa: E402
from worker.client import WorkerClient  # noqa: E402
from worker.runner import PROGRESS_INTERVAL  # noqa: E402

SIDE = 1024


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _echo(endpoint: str) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(endpoint)
    while True:
        frames = sock.recv_multipart(copy=False)
        msg = P.decode(frames[1:])
        if msg.type == "shutdown":
            break
        reply = P.Message("result", msg.id, {}, [P.Image(msg.images[0].shape,
                                                         msg.images[0].data)])
        sock.send_multipart([frames[0], *P.encode(reply)], copy=False)
    sock.close(0)
    ctx.term()


def bench_transport(n: int) -> dict:
    img = np.random.default_rng(0).integers(0, 255, (SIDE, SIDE, 4), dtype=np.uint8)
    dst = np.empty_like(img)
    copies = []
    for _ in range(n):
        t = time.perf_counter()
        np.copyto(dst, img)
        copies.append(time.perf_counter() - t)
    with socket.socket() as s:  # a free port for the echo process
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    proc = mp.get_context("spawn").Process(target=_echo, args=(endpoint,), daemon=True)
    proc.start()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(endpoint)
    trips = []
    for i in range(n + 3):
        t = time.perf_counter()
        sock.send_multipart(P.encode(P.Message("generate", f"e{i}", {}, [
            P.Image.from_numpy(img, "init_image")])), copy=False)
        back = P.decode(sock.recv_multipart(copy=False), requests=False)
        arr = back.images[0].to_numpy()
        if i >= 3:  # the first trips include the TCP connect
            trips.append(time.perf_counter() - t)
    assert np.array_equal(arr, img)
    sock.send_multipart(P.encode(P.Message("shutdown", "end")))
    proc.join(5)
    sock.close(0)
    ctx.term()
    return {"round_trip_ms": median_ms(trips), "memcpy_ms": median_ms(copies),
            "ratio": statistics.median(trips) / statistics.median(copies)}


def bench_result_path(n: int, tmp: Path, side: int, steps: int) -> dict:
    """A generate request whose backend costs ~nothing: what the worker itself adds."""
    from t2i_core.backends.base import GenerateRequest
    from worker.testing import SyntheticBackend

    backend = SyntheticBackend()
    req = dict(prompt="x", width=side, height=side, steps=steps, model="synthetic")
    client = WorkerClient(connection_file=tmp / "none.json", env=ENV,
                          worker_args=["--backend", "synthetic", "--no-history"])
    try:
        client.hello(timeout=60)
        client.generate(**req, timeout=60)
        through, local = [], []
        for _ in range(n):
            t = time.perf_counter()
            res = client.generate(**req, timeout=60)
            res.images[0].to_numpy()
            through.append(time.perf_counter() - t)
            t = time.perf_counter()
            backend.generate(GenerateRequest(**req), progress=lambda s, n, p: None)
            local.append(time.perf_counter() - t)
    finally:
        client.close()
    through.sort()
    return {"side": side, "steps": steps, "worker_ms": median_ms(through),
            "worker_p90_ms": through[int(0.9 * (len(through) - 1))] * 1000,
            "in_process_ms": median_ms(local), "added_ms": median_ms(through) - median_ms(local)}


def builtin_weights(arg: str | None, tmp: Path) -> tuple[Path, str]:
    from t2i_core.backends.builtin import DEFAULT_WEIGHTS_DIR, WEIGHTS_FILE, make_random_weights

    if arg:
        return Path(arg), "given"
    if (DEFAULT_WEIGHTS_DIR / WEIGHTS_FILE).exists():
        return DEFAULT_WEIGHTS_DIR, "committed"
    return make_random_weights(tmp / "tiny"), "tiny random (committed weights not found)"


def throttled_progress(interval: float = PROGRESS_INTERVAL):
    """The in-process twin of the runner's progress callback: previews for the first and the
    last step and at most one per ``interval`` (``wants_preview`` tells the backend when to
    decode one), so both sides of the comparison decode the same number of previews."""
    last = [0.0]

    def wants_preview(step: int, total: int) -> bool:
        return step in (1, total) or time.monotonic() - last[0] >= interval

    def progress(step: int, total: int, preview=None) -> None:
        if wants_preview(step, total):
            last[0] = time.monotonic()

    progress.wants_preview = wants_preview
    return progress


def bench_overhead(n: int, weights: Path, history: bool, tmp: Path, **params) -> dict:
    import torch

    from t2i_core.backends.base import GenerateRequest
    from t2i_core.backends.builtin import BuiltinBackend

    torch.set_num_threads(1)
    backend = BuiltinBackend(weights)
    backend.models()  # load
    args = ["--weights-dir", str(weights), "--threads", "1"]
    history_dir = Path(tempfile.mkdtemp(prefix="history-", dir=tmp))
    args += ["--history-dir", str(history_dir)] if history else ["--no-history"]
    client = WorkerClient(connection_file=tmp / "none.json", env=ENV, worker_args=args)
    req = {"prompt": "a red apple", "seed": 1, **params}
    try:
        client.hello(timeout=120)
        for _ in range(2):  # warm both
            client.generate(**req, timeout=120)
            backend.generate(GenerateRequest(**req))
        through, local, bare, saving = [], [], [], []
        for i in range(n):
            # Interleaved, alternating order: drift in machine load hits both sides alike.
            order = (0, 1, 2) if i % 2 == 0 else (2, 1, 0)
            for which in order:
                t = time.perf_counter()
                if which == 0:
                    res = client.generate(**req, timeout=120)
                    through.append(time.perf_counter() - t)
                    saving.append(res.body["timing"].get("history_s", 0.0))
                    # The worker compresses the history in the background after the result;
                    # let that finish so it does not slow down the in-process calls (its CPU
                    # time is reported on its own below).
                    compaction = wait_history_idle(client) if history else None
                elif which == 1:  # what the worker does: progress callback, same preview rate
                    backend.generate(GenerateRequest(**req), progress=throttled_progress())
                    local.append(time.perf_counter() - t)
                else:  # no progress callback: the backend skips its previews
                    backend.generate(GenerateRequest(**req))
                    bare.append(time.perf_counter() - t)
    finally:
        client.close()
    w, li, b = (statistics.median(x) for x in (through, local, bare))
    # Paired: each worker call against the in-process call next to it, so the load of the
    # moment cancels; the quartiles of the paired ratio show how noisy the machine was.
    ratios = sorted(x / y for x, y in zip(through, local, strict=True))
    q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
    out = {"worker_ms": w * 1000, "in_process_ms": li * 1000,
           "overhead_pct": 100 * (statistics.median(ratios) - 1),
           "overhead_iqr_pct": [100 * (q1 - 1), 100 * (q3 - 1)],
           "in_process_no_progress_ms": b * 1000, "history": history, "params": params,
           # The one deterministic part: time the runner spent writing the history before
           # sending the result, as measured inside the worker.
           "history_save_ms": 1000 * statistics.median(saving),
           "history_save_pct": 100 * statistics.median(saving) / w}
    if history and compaction and compaction["compacted"]:
        pngs = list(history_dir.rglob("*.png"))
        out["history_compact_cpu_ms_per_image"] = (1000 * compaction["compact_cpu_s"]
                                                   / compaction["compacted"])
        out["history_png_kib"] = sum(p.stat().st_size for p in pngs) / len(pngs) / 1024
        out["history_compaction"] = compaction
    return out


def wait_history_idle(client: WorkerClient, timeout: float = 60) -> dict | None:
    deadline = time.monotonic() + timeout
    while True:
        stats = client.status(timeout=10).history
        if not stats or not stats["pending"] or time.monotonic() > deadline:
            return stats
        time.sleep(0.01)


def bench_cold_start(weights: Path, tmp: Path) -> dict:
    t = time.perf_counter()
    client = WorkerClient(connection_file=tmp / "none.json", env=ENV,
                          worker_args=["--weights-dir", str(weights), "--threads", "1",
                                       "--history-dir", str(tmp / "history")])
    try:
        client.generate(prompt="a red apple", timeout=300)
        worker_s = time.perf_counter() - t
    finally:
        client.close()
    code = ("import torch; torch.set_num_threads(1)\n"
            "from pathlib import Path\n"
            "from t2i_core.backends.builtin import BuiltinBackend\n"
            "from t2i_core.backends.base import GenerateRequest\n"
            f"BuiltinBackend(Path({str(weights)!r})).generate("
            "GenerateRequest(prompt='a red apple'))")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **ENV},
                   check=True, capture_output=True)
    local_s = time.perf_counter() - t
    return {"worker_first_result_s": worker_s, "in_process_first_result_s": local_s,
            "ratio": worker_s / local_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--weights-dir", default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    n = 10 if args.quick else 40
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t = out["transport"] = bench_transport(n)
        print(f"1024x1024 RGBA round trip through the socket: {t['round_trip_ms']:.2f} ms; "
              f"in-process memcpy: {t['memcpy_ms']:.3f} ms; ratio {t['ratio']:.1f}x")
        for side, steps in ((128, 20), (SIDE, 1)):
            r = bench_result_path(n * 5 if side < SIDE else n, tmp, side, steps)
            out.setdefault("result_path", []).append(r)
            print(f"generate -> {side}x{side} result, {steps} steps, synthetic backend (no "
                  f"model time): through the worker {r['worker_ms']:.2f} ms (p90 "
                  f"{r['worker_p90_ms']:.2f}); in-process {r['in_process_ms']:.2f} ms; the "
                  f"worker adds {r['added_ms']:.2f} ms")
        weights, origin = builtin_weights(args.weights_dir, tmp)
        out["weights"] = origin
        print(f"built-in model weights: {origin}")
        for history in (True, False):
            for params in ({}, {"width": 512, "height": 512, "count": 4}):
                o = bench_overhead(max(6, n // 2), weights, history, tmp, **params)
                out.setdefault("overhead", []).append(o)
                print(f"full generate {params or 'defaults (128 px, 20 steps)'}, history "
                      f"{'on' if history else 'off'}: worker {o['worker_ms']:.1f} ms, "
                      f"in-process {o['in_process_ms']:.1f} ms, overhead "
                      f"{o['overhead_pct']:+.2f} % (paired median; quartiles "
                      f"{o['overhead_iqr_pct'][0]:+.1f} to {o['overhead_iqr_pct'][1]:+.1f} %; "
                      f"target < 2 %); in-process without a progress callback "
                      f"{o['in_process_no_progress_ms']:.1f} ms")
                if history:
                    print(f"  history written before the result was sent: "
                          f"{o['history_save_ms']:.2f} ms per request (median) = "
                          f"{o['history_save_pct']:.2f} % of the request")
                if "history_compact_cpu_ms_per_image" in o:
                    print(f"  history compressed in the background after each result: "
                          f"{o['history_compact_cpu_ms_per_image']:.1f} ms CPU per image "
                          f"(nice 19, off the request's path), {o['history_png_kib']:.0f} KiB "
                          f"per PNG; {o['history_compaction']}")
        c = out["cold_start"] = bench_cold_start(weights, tmp)
        print(f"cold start to first result: worker {c['worker_first_result_s']:.2f} s; fresh "
              f"in-process python {c['in_process_first_result_s']:.2f} s; ratio "
              f"{c['ratio']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
