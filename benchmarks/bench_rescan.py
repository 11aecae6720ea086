"""What rescanning the models folder on every ``list_models`` costs, measured on a real worker.

    python benchmarks/bench_rescan.py [--models 20] [--big-mb 1024]

One worker (``--backend diffusers``) serves a folder of ``--models`` tiny SD 1.x single files.
Side by side, alternating rounds on one DEALER:

- ``status``: answered from memory (the baseline: what ``list_models`` cost before it
  rescanned);
- ``list_models``: rescans first (a ``stat`` and a header read per file; hashes cached).

Then a new ``--big-mb`` checkpoint is copied in and ``list_models`` asked again: it waits for
that file's hash, while the worker's heartbeats must keep coming (the rescan runs off the
socket thread). Prints medians, the ratio, and the longest heartbeat gap during the hash.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "diffusers"), str(REPO / "tests" / "worker")]
os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"})


def _rtt(raw, type_: str) -> float:
    t = time.perf_counter()
    ev = raw.call(type_, timeout=600)
    assert ev.type == "result", ev.body
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--big-mb", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()

    import tiny_models as tm
    import torch
    from safetensors.torch import load_file, save_file
    from worker_helpers import Raw, start_worker

    root = Path(tempfile.mkdtemp(prefix="bench-rescan-"))
    models = root / "models"
    models.mkdir()
    first = tm.save_single_file(tm.build("sd1", root / "tok"), models / "m0.safetensors")
    for i in range(1, args.models):
        shutil.copy(first, models / f"m{i}.safetensors")
    sd = load_file(str(first))
    sd["zz_padding"] = torch.zeros(args.big_mb * 2**18)  # float32: 4 bytes each
    big = root / "big.safetensors"
    save_file(sd, str(big))
    wp = start_worker(root / "worker", "--backend", "diffusers", "--backend-option",
                      f"diffusers.models_dir={models}", "--backend-option",
                      f"diffusers.cache_dir={root / 'cache'}", "--backend-option",
                      "diffusers.device=cpu")
    raw = Raw(wp.endpoint, wp.token)
    try:
        _rtt(raw, "list_models")  # start-up scan done, hashes cached
        status, listing = [], []
        for _ in range(args.rounds):
            status.append(_rtt(raw, "status"))
            listing.append(_rtt(raw, "list_models"))
        shutil.copy(big, models / "big.safetensors")
        rid = raw.send("list_models")
        t0 = time.perf_counter()
        beats, last, waited = [], t0, 0.0
        while True:
            msg = raw.recv(600, heartbeats=True)
            assert msg is not None
            now = time.perf_counter()
            if msg.type == "heartbeat":
                beats.append(now - last)
                last = now
            elif msg.id == rid:
                waited = now - t0
                found = "big" in {m["id"] for m in msg.body["models"]}
                break
    finally:
        raw.close()
        wp.stop()
        shutil.rmtree(root, ignore_errors=True)
    ms = {k: statistics.median(v) * 1000 for k, v in (("status", status),
                                                      ("list_models", listing))}
    print(json.dumps({"models": args.models, "rounds": args.rounds,
                      "status_ms": round(ms["status"], 2),
                      "list_models_with_rescan_ms": round(ms["list_models"], 2),
                      "ratio": round(ms["list_models"] / ms["status"], 2),
                      "new_file_mb": args.big_mb, "new_file_list_models_s": round(waited, 2),
                      "new_file_found": found,
                      "longest_heartbeat_gap_s": round(max(beats, default=0.0), 2),
                      "heartbeats_during_hash": len(beats)}, indent=1))


if __name__ == "__main__":
    main()
