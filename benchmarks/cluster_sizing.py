"""How many artists a cluster serves: the gateway's real scheduler, simulated with measured
service times (docs/cluster.md, "Sizing").

    python benchmarks/cluster_sizing.py --service-s 0.57 --overhead-ms 12
    python benchmarks/cluster_sizing.py --service-s 1.8 --nodes 20 --artists 100

A discrete-event simulation: ``--nodes`` worker slots, ``--artists`` artists who each send
a request (one job of ``--batch`` images, as a panel sends it) every ``--think-s`` seconds on
average (exponential); one request in ``--big-every`` is a batch of 64 instead (four jobs of
16, the most one request may ask). Each job takes ``--service-s`` per image (measured with
benchmarks/bench_worker.py or bench_cluster.py on the node's device) plus the gateway's
measured fixed cost per job. Jobs are dispatched by ``worker.cluster.scheduler.Scheduler``,
the code the gateway runs. Prints the utilisation and, for the ordinary requests, how long
until their job starts (the first preview) and until the images are back.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.cluster.scheduler import ClusterJob, Scheduler  # noqa: E402


def simulate(nodes: int, artists: int, service_s: float, overhead_s: float, think_s: float,
             batch: int, big_every: int, hours: float, seed: int = 0) -> dict | None:
    """Returns None when the offered work exceeds the cluster (the queue only grows)."""
    rng = random.Random(seed)
    s = Scheduler()
    for i in range(nodes):
        s.node_up(f"n{i}", ["builtin"], ["builtin"], ["builtin"], gpu=True)
    events: list[tuple[float, int, str, object]] = []  # (time, tie, kind, payload)
    tie = 0

    def push(t: float, kind: str, payload: object) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (t, tie, kind, payload))

    for a in range(artists):
        push(rng.expovariate(1 / think_s), "request", a)
    end, busy, seq = hours * 3600, 0.0, 0
    images: dict[str, int] = {}
    request_of: dict[str, int] = {}
    pending: dict[int, list] = {}  # request -> [submitted, first start, jobs left, ordinary]
    starts, dones = [], []
    while events:
        now, _, kind, payload = heapq.heappop(events)
        if now > end:
            break
        if kind == "request":
            a = int(payload)  # type: ignore[arg-type]
            big = bool(big_every) and rng.randrange(big_every) == 0
            counts = [16] * 4 if big else [batch]  # a panel's count is at most 16
            seq += 1
            pending[seq] = [now, None, len(counts), not big]
            for n in counts:
                job = ClusterJob(f"{seq}.{len(images)}", f"a{a}", b"", "", "generate",
                                 "builtin", {}, seq=seq)
                images[job.uid], request_of[job.uid] = n, seq
                s.add(job)
            push(now + rng.expovariate(1 / think_s), "request", a)
            if len(s) > 20 * nodes * 16:
                return None
        else:
            job = payload
            s.finished(job, True)  # type: ignore[arg-type]
            req = pending[request_of[job.uid]]
            req[2] -= 1
            if req[2] == 0 and req[3]:
                dones.append(now - req[0])
        while (picked := s.next_assignment()) is not None:
            job, _node = picked
            req = pending[request_of[job.uid]]
            if req[1] is None:
                req[1] = now
                if req[3]:
                    starts.append(now - req[0])
            took = images[job.uid] * service_s + overhead_s
            busy += took
            push(now + took, "done", job)

    def p95(xs: list[float]) -> float:
        return sorted(xs)[int(0.95 * (len(xs) - 1))] if xs else 0.0

    return {"utilisation": busy / (nodes * end), "start_median_s": statistics.median(starts),
            "start_p95_s": p95(starts), "done_median_s": statistics.median(dones),
            "done_p95_s": p95(dones)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--artists", type=int, default=100)
    ap.add_argument("--service-s", type=float, required=True,
                    help="seconds per image on one worker slot (measured)")
    ap.add_argument("--overhead-ms", type=float, default=0.0,
                    help="the gateway's fixed cost per job (bench_cluster.py, line 3)")
    ap.add_argument("--think-s", type=float, nargs="+", default=[120.0, 60.0, 40.0, 30.0],
                    help="mean seconds between an artist's requests (one row each)")
    ap.add_argument("--batch", type=int, default=4, help="images per ordinary request")
    ap.add_argument("--big-every", type=int, default=20,
                    help="one request in N is a batch of 64 (0: never)")
    ap.add_argument("--hours", type=float, default=2.0)
    args = ap.parse_args()
    print(f"{args.artists} artists, {args.nodes} worker slots, {args.service_s:.2f} s per "
          f"image + {args.overhead_ms:.0f} ms per job, batches of {args.batch}, one request "
          f"in {args.big_every} a batch of 64")
    print("| an artist's request every | images/h offered | utilisation | request starts "
          "(median / p95) | request done (median / p95) |")
    print("|---:|---:|---:|---:|---:|")
    for think in args.think_s:
        r = simulate(args.nodes, args.artists, args.service_s, args.overhead_ms / 1000, think,
                     args.batch, args.big_every, args.hours)
        offered = args.artists * 3600 / think * (args.batch * (1 - 1 / args.big_every)
                                                 + 64 / args.big_every if args.big_every
                                                 else args.batch)
        if r is None:
            print(f"| {think:.0f} s | {offered:,.0f} | over 100 % | the queue only grows | |")
            continue
        print(f"| {think:.0f} s | {offered:,.0f} | {r['utilisation']:.0%} | "
              f"{r['start_median_s']:.1f} / {r['start_p95_s']:.1f} s | "
              f"{r['done_median_s']:.1f} / {r['done_p95_s']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
