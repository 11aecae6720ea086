"""How a t2i cluster starts Ray: only what the gateway uses, so the nodes' cores run models.

Ray's defaults suit a general compute cluster: metrics, task-event history for the state
API and dashboard, usage reports, a log monitor that tails every worker's log for drivers,
Python workers started ahead for tasks, event-loop statistics. A t2i cluster uses none of
them: the gateway runs one detached actor per slot (``num_cpus=0``), reads no worker log
(``log_to_driver=False``) and no task state. What they cost was measured on the 2-core
project machine (benchmarks/bench_cluster.py, "Ray's own processes"): about half of Ray's
background CPU, which on a node competes with the model.

Everything here is a documented ``ray start`` flag or one of Ray's ``RAY_<config>``
environment settings (each Ray process reads them at start, so they must be in the
environment of ``ray start`` on every machine, and of the gateway, which is a Ray driver).
``t2i cluster head`` / ``t2i cluster node`` (cli.py) run ``ray start`` with them; the tests
and the benchmark start their local clusters with the same values (``cluster_utils_args``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCE = "t2i_worker"  # Ray's custom resource: one unit per worker slot (per GPU) on a node

# Ray's config settings, read from the environment by every Ray process (raylet, GCS, the
# actors' and the gateway's core workers). None changes what Ray schedules or restarts.
QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage reports (and nothing leaves the studio)
    "RAY_enable_metrics_collection": "0",  # no metrics agent traffic (no Prometheus here)
    "RAY_task_events_report_interval_ms": "0",  # no task-event history (state API, UI)
    "RAY_event_stats": "0",  # no per-handler timing in every event loop
    "RAY_prestart_worker_first_driver": "0",  # no Python workers started ahead for tasks
}
# Flags of ``ray start`` on every node: no log monitor (nobody reads the workers' logs
# through Ray: they stay in the node's Ray log folder), no usage reports; on the head also
# no dashboard UI (``ray start`` refuses the flag on other nodes).
QUIET_FLAGS = ["--include-log-monitor=false", "--disable-usage-stats"]
HEAD_FLAGS = ["--include-dashboard=false", *QUIET_FLAGS]


def quiet_environ(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with QUIET_ENV added; a value already set wins, so
    a studio can turn one back on."""
    out = dict(os.environ if env is None else env)
    for key, value in QUIET_ENV.items():
        out.setdefault(key, value)
    return out


def head_command(port: int = 6379, extra: list[str] | None = None) -> list[str]:
    """``ray start --head`` for the gateway's machine: no worker slot (``--num-cpus=0``:
    no task or actor of ours needs its CPUs, so Ray starts no worker process there)."""
    return [_ray(), "start", "--head", f"--port={port}", "--num-cpus=0", *HEAD_FLAGS,
            *(extra or [])]


def node_command(address: str, slots: int, gpus: int | None = None,
                 extra: list[str] | None = None) -> list[str]:
    """``ray start`` for a GPU (or CPU) node with ``slots`` worker slots (one per GPU). The
    slots take no CPU unit (``num_cpus=0`` actors), so the node offers none either: Ray then
    keeps no idle Python workers for tasks on it."""
    import json

    cmd = [_ray(), "start", f"--address={address}", "--num-cpus=0",
           f"--resources={json.dumps({RESOURCE: slots})}", *QUIET_FLAGS]
    if gpus is not None:
        cmd.append(f"--num-gpus={gpus}")
    return [*cmd, *(extra or [])]


def cluster_utils_args(head: bool, slots: int) -> dict:
    """The same choices for ``ray.cluster_utils.Cluster`` (tests, benchmarks): node
    arguments; QUIET_ENV must be in ``os.environ`` before the cluster starts."""
    args: dict = {"num_cpus": 0, "include_dashboard": False, "include_log_monitor": False}
    if slots:
        args["resources"] = {RESOURCE: slots}
    return args if head else {k: v for k, v in args.items() if k != "include_dashboard"}


def _ray() -> str:
    """The ``ray`` command of this Python environment (the versions must match the
    gateway's), else the first on PATH."""
    here = Path(sys.executable).parent / "ray"
    return str(here) if here.is_file() else "ray"
