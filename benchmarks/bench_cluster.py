"""What the cluster gateway costs, and what a second worker buys, side by side in one run.

    python benchmarks/bench_cluster.py            # ~3 min on the 2-core machine
    python benchmarks/bench_cluster.py --quick    # fewer repetitions
    python benchmarks/bench_cluster.py --one-node # both slots on one Ray node (one raylet)
    python benchmarks/bench_cluster.py --ray-defaults  # Ray's default settings (as before
                                                       # worker/cluster/ray_start.py)

Starts a Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head and two worker
nodes with one ``t2i_worker`` unit each, like tests/cluster) and a plain ``python -m worker``,
all on the committed built-in weights, torch 1 thread per worker, no history, then:

1. overhead: one request at a time through the gateway (1 worker slot) against the same
   request to the direct worker, in pairs with alternating order, so that the load of this
   shared machine hits both alike. Target: <= 5 %.
2. throughput: a burst of jobs through a gateway with 1 worker slot, then with 2, alternating
   rounds (the gateway is restarted between them; the slots keep their models). Target:
   >= 1.8x on the 2 cores.
3. the gateway's own cost per job with no model time (synthetic backend, 2 steps) against
   the direct worker: the fixed cost the sizing in docs/cluster.md uses.

Ray is started with the settings ``t2i cluster head`` / ``node`` use
(worker/cluster/ray_start.py), or Ray's defaults with ``--ray-defaults``. Besides the wall
times, every throughput round prints the CPU per job of each part -- the worker actors, the
gateway, Ray's own processes (raylets, GCS, agents, ...), this client -- which says where
the second core went and depends much less on how busy the machine is than the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "cluster"))

from cluster_helpers import ENV, start_gateway, start_ray  # noqa: E402

os.environ.update(ENV)
from worker.client import WorkerClient  # noqa: E402

REQUEST = {"prompt": "a red apple icon", "width": 128, "height": 128, "steps": 20}


def direct_worker(tmp: Path, *args: str) -> tuple[subprocess.Popen, str, str]:
    token = secrets.token_urlsafe(16)
    conn = tmp / "worker.json"
    proc = subprocess.Popen([sys.executable, "-m", "worker", "--connection-file", str(conn),
                             "--no-history", "--threads", "1", "--log-level", "WARNING",
                             *args], cwd=REPO, env={**os.environ, "T2I_WORKER_TOKEN": token,
                                                    "PYTHONPATH": str(REPO)})
    while not conn.exists():
        time.sleep(0.05)
    return proc, json.loads(conn.read_text())["endpoint"], token


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux /proc)."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def ray_processes(exclude: set[int]) -> list[int]:
    """Ray's own processes: every process below this one (Ray's nodes are its children)
    but ``exclude`` (the gateway, the busy worker actors, the direct worker) and worker
    actors (an idle slot's actor is not Ray's own cost)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            with contextlib.suppress(OSError):
                if pid not in exclude and not Path(f"/proc/{pid}/cmdline").read_bytes() \
                        .startswith(b"ray::NodeWorker"):
                    out.append(pid)
    return out


def cpu_alive(pids: list[int]) -> float:
    """cpu_s of the processes that still exist."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):  # ended meanwhile
            total += cpu_s([pid])
    return total


def one(client: WorkerClient, seed: int, **kw) -> float:
    t = time.perf_counter()
    client.generate(**{**REQUEST, **kw}, seed=seed, timeout=300)
    return time.perf_counter() - t


def burst(client: WorkerClient, n: int, **kw) -> float:
    t = time.perf_counter()
    reqs = [client.submit_generate(**{**REQUEST, **kw}, seed=i) for i in range(n)]
    for r in reqs:
        r.result(timeout=600)
    return time.perf_counter() - t


def paired(direct: WorkerClient, gateway: WorkerClient, pairs: int, direct_pids: list[int],
           gateway_pids: list[int], **kw) -> dict:
    """Wall time per request (median of pairs) and CPU seconds per request of the processes
    on each path (the direct worker; the gateway + its worker actor): the CPU figure does
    not depend on how busy the shared machine is."""
    ratios, d_all, g_all, d_cpu, g_cpu = [], [], [], 0.0, 0.0
    for i in range(pairs):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            c0 = cpu_s(direct_pids if side == 0 else gateway_pids)
            t = one(direct if side == 0 else gateway, i, **kw)
            c1 = cpu_s(direct_pids if side == 0 else gateway_pids)
            if side == 0:
                d_all.append(t)
                d_cpu += c1 - c0
            else:
                g_all.append(t)
                g_cpu += c1 - c0
        ratios.append(g_all[-1] / d_all[-1] - 1)
    q = statistics.quantiles(ratios, n=4)
    return {"direct_ms": statistics.median(d_all) * 1000,
            "gateway_ms": statistics.median(g_all) * 1000,
            "overhead": statistics.median(ratios), "q1": q[0], "q3": q[2],
            "added_ms": (statistics.median(g_all) - statistics.median(d_all)) * 1000,
            "direct_cpu_ms": d_cpu / pairs * 1000, "gateway_cpu_ms": g_cpu / pairs * 1000}


def pids_of(gp, client: WorkerClient) -> list[int]:
    return [gp.proc.pid, *(n["pid"] for n in client.status(timeout=60).nodes if n["up"])]


def gateway_client(tmp: Path, cluster, workers: int, *extra: str, **warm):
    weights = REPO / "t2i_core" / "weights"  # the committed built-in model
    gp = start_gateway(tmp, cluster.address, weights, "--workers", str(workers), *extra)
    client = WorkerClient(endpoint=gp.endpoint, token=gp.token, spawn=False)
    deadline = time.monotonic() + 300
    while sum(n["up"] for n in client.status(timeout=60).nodes) < workers:
        assert time.monotonic() < deadline, gp.log_tail()
        time.sleep(0.5)
    client.generate(**{**REQUEST, **warm}, timeout=120)  # a first job through the path
    return gp, client


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--one-node", action="store_true",
                    help="one Ray node holding both worker slots (one machine, one raylet), "
                         "instead of a head and two worker nodes on this machine")
    ap.add_argument("--ray-defaults", action="store_true",
                    help="start Ray with its default settings, not worker/cluster/ray_start.py's")
    args = ap.parse_args()
    pairs, rounds, jobs = (8, 2, 12) if args.quick else (16, 3, 16)
    weights = REPO / "t2i_core" / "weights"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()} at start "
          "(shared with other work: see the ratios, measured side by side)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    cluster = start_ray(workers=2, one_node=args.one_node, ray_defaults=args.ray_defaults)
    print("Ray: " + ("one node with both worker slots" if args.one_node else
                     "a head and two worker nodes, one slot each") + ", " +
          ("Ray's default settings" if args.ray_defaults else
           "started as `t2i cluster head/node` start it (worker/cluster/ray_start.py)"),
          flush=True)
    procs = []
    try:
        wp, endpoint, token = direct_worker(tmp / "direct", "--backend", "builtin",
                                            "--weights-dir", str(weights))
        procs.append(wp)
        direct = WorkerClient(endpoint=endpoint, token=token, spawn=False)
        direct.generate(**REQUEST, timeout=300)
        gp, gw = gateway_client(tmp / "gw1", cluster, 1)
        res = paired(direct, gw, pairs, [wp.pid], pids_of(gp, gw))
        print(f"1. built-in 128 px, 20 steps, one at a time: gateway {res['gateway_ms']:.0f} ms"
              f" vs direct worker {res['direct_ms']:.0f} ms: overhead "
              f"{res['overhead'] * 100:+.1f} % (quartiles {res['q1'] * 100:+.1f} … "
              f"{res['q3'] * 100:+.1f} %), {res['added_ms']:+.1f} ms per request; CPU per "
              f"request: gateway + actor {res['gateway_cpu_ms']:.0f} ms vs direct worker "
              f"{res['direct_cpu_ms']:.0f} ms "
              f"({res['gateway_cpu_ms'] / res['direct_cpu_ms'] - 1:+.1%}); bar <= 5 %: "
              f"{'met' if res['overhead'] <= 0.05 else 'NOT met'}", flush=True)
        t1, t2 = [], []
        ray_own = ray_processes({wp.pid, *pids_of(gp, gw)})
        c0 = cpu_alive(ray_own)
        time.sleep(10)
        print(f"   Ray's own processes ({len(ray_own)}) when idle: "
              f"{(cpu_alive(ray_own) - c0) * 100:.1f} ms CPU per second", flush=True)
        for r in range(rounds):
            for workers, out in ((1, t1), (2, t2)):
                if not (r == 0 and workers == 1):
                    gp, gw = gateway_client(tmp / f"gw{workers}-{r}", cluster, workers)
                pids = pids_of(gp, gw)[1:]
                ray_own = ray_processes({wp.pid, gp.proc.pid, *pids})
                parts = (pids, [gp.proc.pid], ray_own)
                c0, me0 = [cpu_alive(p) for p in parts], os.times()
                wall = burst(gw, jobs)
                c1, me1 = [cpu_alive(p) for p in parts], os.times()
                actors, gateway, ray_cpu = ((b - a) / jobs * 1000
                                            for a, b in zip(c0, c1, strict=True))
                client = (me1.user + me1.system - me0.user - me0.system) / jobs * 1000
                out.append(jobs / wall)
                print(f"   round {r + 1}, {workers} worker(s): {out[-1]:.2f} jobs/s, the "
                      f"actors used {(c1[0] - c0[0]) / wall:.2f} cores; CPU per job: actors "
                      f"{actors:.0f} ms, gateway {gateway:.1f} ms, Ray's own processes "
                      f"{ray_cpu:.1f} ms, this client {client:.1f} ms", flush=True)
                gw.close(stop_worker=False)
                gp.stop()
        print(f"2. throughput, {jobs} jobs in a burst: 1 worker {statistics.median(t1):.2f} "
              f"jobs/s, 2 workers {statistics.median(t2):.2f} jobs/s: "
              f"{statistics.median(t2) / statistics.median(t1):.2f}x (rounds "
              f"{', '.join(f'{b / a:.2f}' for a, b in zip(t1, t2, strict=True))}); bar >= "
              f"1.8x on an otherwise idle machine: "
              f"{'met' if statistics.median(t2) / statistics.median(t1) >= 1.8 else 'NOT met'}",
              flush=True)
        direct.close(stop_worker=False)
        wp.terminate()
        wp.wait(10)
        # 3. fixed cost: synthetic backend (no model), one at a time
        wp, endpoint, token = direct_worker(tmp / "direct-syn", "--backend", "synthetic")
        procs.append(wp)
        direct = WorkerClient(endpoint=endpoint, token=token, spawn=False)
        gp, gw = gateway_client(tmp / "gw-syn", cluster, 1, "--backend", "synthetic",
                                model="synthetic")
        res = paired(direct, gw, pairs * 2, [wp.pid], pids_of(gp, gw), model="synthetic",
                     steps=2)
        print(f"3. no model time (synthetic, 2 steps): gateway {res['gateway_ms']:.1f} ms vs "
              f"direct worker {res['direct_ms']:.1f} ms: the gateway adds "
              f"{res['added_ms']:.1f} ms per request; CPU per request {res['gateway_cpu_ms']:.1f}"
              f" ms (gateway + actor) vs {res['direct_cpu_ms']:.1f} ms", flush=True)
        gw.close(stop_worker=False)
        direct.close(stop_worker=False)
        gp.stop()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        cluster.shutdown()
    print(f"load average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
