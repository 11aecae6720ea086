"""Who may talk to the worker: token on loopback, CURVE elsewhere, refusal without keys."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time

import pytest
import zmq
from worker_helpers import QUIET_ENV, REPO, Raw, start_worker

from worker.client import WorkerClient, WorkerError, curve_options
from worker.security import is_loopback, make_keys


@pytest.mark.parametrize("endpoint, loopback", [
    ("tcp://127.0.0.1:0", True), ("tcp://127.0.0.9:5555", True), ("tcp://localhost:1", True),
    ("tcp://[::1]:5555", True), ("ipc:///tmp/x", True), ("tcp://0.0.0.0:5555", False),
    ("tcp://*:5555", False), ("tcp://192.168.1.5:5555", False), ("tcp://eth0:5555", False),
    ("tcp://[::]:5555", False), ("inproc://x", False), ("garbage", False),
])
def test_is_loopback(endpoint, loopback):
    assert is_loopback(endpoint) is loopback


def run_worker(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = {**os.environ, **QUIET_ENV}
    env.pop("T2I_WORKER_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "worker", "--backend", "synthetic", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_refuses_network_bind_without_curve_keys(tmp_path):
    out = run_worker("--bind", "tcp://0.0.0.0:0")
    assert out.returncode == 2 and "refusing to listen on tcp://0.0.0.0:0" in out.stderr
    out = run_worker("--bind", "tcp://0.0.0.0:0", "--curve-dir", str(tmp_path))
    assert out.returncode == 2 and "--make-keys" in out.stderr


def test_curve_admits_only_authorized_clients(tmp_path):
    keys = tmp_path / "keys"
    assert run_worker("--make-keys", str(keys)).returncode == 0
    assert stat.S_IMODE((keys / "server.key_secret").stat().st_mode) == 0o600
    wp = start_worker(tmp_path / "w", "--backend", "synthetic", "--bind", "tcp://0.0.0.0:0",
                      "--curve-dir", str(keys), token="")
    endpoint = wp.endpoint.replace("0.0.0.0", "127.0.0.1")
    try:
        good = WorkerClient(endpoint, "", spawn=False, curve=curve_options(
            keys / "client.key_secret", keys / "server.key"))
        assert good.hello(timeout=20).backends == ["synthetic"]
        assert good.generate(prompt="x", model="synthetic", steps=1, timeout=20).images
        good.close(stop_worker=False)
        # A stranger's key pair (not in authorized_clients) and a plain socket get nothing.
        other = make_keys(tmp_path / "other")
        stranger = Raw(endpoint, "", **curve_options(other / "client.key_secret",
                                                     keys / "server.key"))
        plain = Raw(endpoint, "")
        for r in (stranger, plain):
            with contextlib.suppress(zmq.Again):  # the handshake failed: no peer to send to
                r.send("hello")
            assert r.recv(timeout=1.5) is None
            r.close()
        # The client API says so plainly instead of waiting forever.
        lost = WorkerClient(endpoint, "", spawn=False, curve=curve_options(
            other / "client.key_secret", keys / "server.key"))
        with pytest.raises(WorkerError) as e:
            lost.hello(timeout=15)
        assert e.value.code == "worker_unavailable" and "CURVE" in e.value.message
        lost.close()
        assert wp.proc.poll() is None
    finally:
        wp.stop()


def test_manual_worker_makes_a_token_and_advertises_it_privately(tmp_path):
    state = tmp_path / "state"
    env = {**os.environ, **QUIET_ENV, "T2I_STATE_DIR": str(state)}
    env.pop("T2I_WORKER_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "worker", "--backend", "synthetic",
                             "--no-history"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    conn = state / "worker.json"
    try:
        deadline = time.monotonic() + 30
        while not conn.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        info = json.loads(conn.read_text())
        assert stat.S_IMODE(conn.stat().st_mode) == 0o600
        assert len(info["token"]) >= 32 and info["endpoint"].startswith("tcp://127.0.0.1:")
        # Without the token: refused. A default client finds the advertised worker and uses it.
        assert Raw(info["endpoint"], "").call("status").body["code"] == "unauthorized"
        client = WorkerClient(connection_file=conn, spawn=False)
        assert client.status(timeout=20).pid == proc.pid
        client.close()
        assert proc.poll() is None  # not ours to stop
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode == 0 and not conn.exists()  # cleaned up on a graceful stop


def test_shutdown_ends_every_request_once_and_exits(tmp_path):
    wp = start_worker(tmp_path, "--backend", "synthetic", "--backend-option",
                      "synthetic.step_time=0.02")
    raw = Raw(wp.endpoint, wp.token)
    try:
        jobs = [raw.send("generate", body={"prompt": "x", "model": "synthetic", "steps": 500})
                for _ in range(3)]
        assert raw.recv().type == "queued"
        time.sleep(0.3)
        stop = raw.send("shutdown")
        got = raw.collect([*jobs, stop])
        assert got[stop][-1].type == "result"
        assert [got[j][-1].type for j in jobs] == ["cancelled"] * 3
        assert all(got[j][-1].body["reason"] in ("shutdown", "cancel") for j in jobs)
        assert wp.proc.wait(20) == 0
    finally:
        raw.close()
        wp.stop()
