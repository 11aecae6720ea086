"""``t2i cluster head`` / ``t2i cluster node``: the real ``ray start`` with the settings of
worker/cluster/ray_start.py, a gateway on that Ray, one image through it; the Ray processes
are the lean set (no log monitor, no idle Python workers, Ray's settings in their
environment)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cluster_helpers import ENV, REPO, start_gateway, wait_nodes_up

from worker.client import WorkerClient
from worker.cluster.ray_start import QUIET_ENV


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _t2i_cluster(*args: str, log: Path) -> subprocess.Popen:
    """``t2i cluster ARGS`` in its own process group (``ray start --block`` stops the
    processes it started when it is stopped)."""
    env = {k: v for k, v in {**os.environ, **ENV}.items()
           if k not in QUIET_ENV and k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    with open(log, "ab") as f:
        return subprocess.Popen([sys.executable, "-m", "worker.cluster", *args], cwd=REPO,
                                env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to ``ray start --block``, which drains (Ray allows itself 30 s) and stops
    the processes it started (its process group); whatever is left after 60 s is killed."""
    def group() -> list[int]:
        out = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.getpgid(int(entry.name)) == proc.pid:
                    out.append(int(entry.name))
            except OSError:
                pass
        return out

    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    while group() and time.monotonic() < deadline:
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _below(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                cmd = (Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                       .decode(errors="replace"))
            except OSError:
                continue
            out.append((child, cmd))
    return out


def test_head_and_node_commands_start_a_lean_ray_the_gateway_runs_on(tmp_path, tiny_weights):
    port = _free_port()
    local = ["--node-ip-address=127.0.0.1", "--block"]
    head = _t2i_cluster("head", "--port", str(port), "--", *local,
                        "--object-store-memory=80000000", log=tmp_path / "head.log")
    node = None
    gp = None
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in (tmp_path / "head.log").read_text(errors="replace"):
            assert head.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "head.log").read_text(errors="replace")
            time.sleep(0.5)
        node = _t2i_cluster("node", "--address", f"127.0.0.1:{port}", "--slots", "1", "--",
                            *local, "--object-store-memory=80000000",
                            log=tmp_path / "node.log")
        while "Ray runtime started" not in (tmp_path / "node.log").read_text(errors="replace"):
            assert node.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "node.log").read_text(errors="replace")
            time.sleep(0.5)
        gp = start_gateway(tmp_path / "gw", f"127.0.0.1:{port}", tiny_weights, "--workers", "1")
        wait_nodes_up(gp, 1, timeout=240)
        client = WorkerClient(endpoint=gp.endpoint, token=gp.token, spawn=False)
        try:
            result = client.generate(prompt="a red apple", seed=3, steps=2, width=32,
                                     height=32, timeout=240)
        finally:
            client.close(stop_worker=False)
        assert result.type == "result" and result.body["cluster"]["node"] == "t2i-node-0"
        # what `ray start` left running: the lean set, with Ray's settings in its environment
        procs = _below(head.pid) + _below(node.pid)
        commands = " | ".join(cmd for _, cmd in procs)
        assert "raylet" in commands and "gcs_server" in commands, commands
        assert "log_monitor" not in commands, commands
        assert "ray::IDLE" not in commands, commands  # no Python workers kept for tasks
        raylet = next(pid for pid, cmd in procs if "/raylet " in cmd)
        environ = Path(f"/proc/{raylet}/environ").read_bytes().split(b"\0")
        for key, value in QUIET_ENV.items():
            assert f"{key}={value}".encode() in environ, key
    finally:
        if gp is not None:
            gp.stop()
        for proc in (node, head):
            if proc is not None:
                _stop(proc)
