"""Helpers for the cluster tests: a Ray cluster of CPU nodes on loopback and a gateway process.

The Ray cluster is ``ray.cluster_utils.Cluster`` (real raylets, real actor processes) on this
machine: a head node that runs no worker slot and worker nodes each offering one unit of
``t2i_worker`` (one slot = one actor = one CPU worker with the tiny random built-in model).
The gateway is a real ``python -m worker.cluster gateway`` subprocess, talked to over real
ZeroMQ sockets, so it can be killed and restarted like a studio's.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from worker.cluster.ray_start import QUIET_ENV, cluster_utils_args  # noqa: E402

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
       "TOKENIZERS_PARALLELISM": "false", "RAY_DEDUP_LOGS": "0",
       # Ray started as `t2i cluster head` / `node` start it (worker/cluster/ray_start.py)
       **QUIET_ENV,
       # Every Ray process on loopback (127.0.0.1), not the machine's interface address:
       # with "cluster mode" off Ray takes the loopback address as each node's IP. The
       # nodes are still separate raylets; tests never send traffic off the loopback.
       "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
STORE = 80 * 1024 * 1024  # object store per node: the jobs' frames are small
NODE_ARGS = {**cluster_utils_args(head=False, slots=1), "object_store_memory": STORE}
# What the tests used before ray_start.py: Ray's defaults (stated, so that the gateway's
# own setdefault keeps them) but usage stats and metrics off. bench_cluster.py
# --ray-defaults compares the two.
DEFAULT_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_enable_metrics_collection": "0",
               "RAY_task_events_report_interval_ms": "1000", "RAY_event_stats": "1",
               "RAY_prestart_worker_first_driver": "1"}


def start_ray(workers: int = 2, one_node: bool = False, ray_defaults: bool = False) -> Any:
    """A head (no worker slot) and ``workers`` worker nodes, all on loopback; or, with
    ``one_node``, one node holding all ``workers`` slots (one machine's Ray: one raylet).
    ``ray_defaults``: Ray's own settings instead of ray_start.py's (for the benchmark)."""
    os.environ.update(ENV)
    if ray_defaults:
        os.environ.update(DEFAULT_ENV)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    from ray.cluster_utils import Cluster

    if ray_defaults:
        head = {"num_cpus": 1, "include_dashboard": False}
        node = {"num_cpus": 1, "resources": {"t2i_worker": 1}}
    else:
        head, node = cluster_utils_args(head=True, slots=0), dict(NODE_ARGS)
    head["object_store_memory"] = node["object_store_memory"] = STORE
    if one_node:
        head["resources"] = {"t2i_worker": workers}
        if ray_defaults:
            head["num_cpus"] = workers
    cluster = Cluster(initialize_head=True, head_node_args=head)
    for _ in range(0 if one_node else workers):
        cluster.add_node(**node)
    return cluster


@dataclass
class GatewayProc:
    proc: subprocess.Popen
    endpoint: str
    token: str
    log: Path
    start_args: tuple = ()  # what start_gateway was given (restart uses them again)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def restart_after_kill(self, down_s: float = 0.0, *more: str) -> None:
        """kill -9, ``down_s`` seconds down, then the same gateway again on the same address
        (state folder, token), with ``more`` arguments for this start only."""
        self.stop(signal.SIGKILL)
        time.sleep(down_s)
        tmp, ray_address, weights, extra = self.start_args
        again = start_gateway(tmp, ray_address, weights, *extra, *more, token=self.token,
                              bind=self.endpoint)
        self.proc = again.proc

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def start_gateway(tmp: Path, ray_address: str, weights: Path, *extra: str,
                  token: str | None = None, bind: str = "tcp://127.0.0.1:0") -> GatewayProc:
    """``python -m worker.cluster gateway``; returns once it listens (not once nodes are up)."""
    tmp.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16) if token is None else token
    conn = tmp / "gateway.json"
    conn.unlink(missing_ok=True)
    log = tmp / "gateway.log"
    args = [sys.executable, "-m", "worker.cluster", "gateway", "--ray-address", ray_address,
            "--bind", bind, "--state-dir", str(tmp / "state"), "--connection-file", str(conn),
            "--weights-dir", str(weights), "--threads", "1", "--log-level", "INFO",
            *(() if "--backend" in extra else ("--backend", "builtin")), *extra]
    env = {**ENV, **os.environ, "T2I_WORKER_TOKEN": token}  # as start_ray set it
    with open(log, "ab") as f:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT)
    gp = GatewayProc(proc, "", token, log, (tmp, ray_address, weights, extra))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if conn.exists():
            gp.endpoint = json.loads(conn.read_text())["endpoint"]
            return gp
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    gp.stop()
    raise RuntimeError(f"gateway did not start:\n{gp.log_tail()}")


def wait_nodes_up(gp: GatewayProc, n: int, timeout: float) -> dict:
    from worker_helpers import Raw  # tests/worker (conftest puts it on the path)

    raw = Raw(gp.endpoint, gp.token)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = raw.call("status", timeout=30)
            assert status.type == "result", (status.body, gp.log_tail())
            if sum(node["up"] for node in status.body["nodes"]) >= n:
                return status.body
            time.sleep(0.5)
        raise AssertionError(f"{n} nodes not up within {timeout} s:\n{gp.log_tail()}")
    finally:
        raw.close()
