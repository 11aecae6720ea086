"""A worker that dies is noticed within 2 s, its requests are reported lost, and it comes back."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time

from worker_helpers import QUIET_ENV, Raw, start_worker

from worker.client import WorkerClient


def test_kill_9_during_a_job_is_reported_and_worker_restarts(tmp_path, tiny_weights,
                                                            monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the killed worker's kept log
    lost_calls: list[tuple[list[str], str, float]] = []
    client = WorkerClient(
        connection_file=tmp_path / "no-advertised-worker.json",
        worker_args=["--weights-dir", str(tiny_weights), "--threads", "1",
                     "--history-dir", str(tmp_path / "history"), "--log-level", "WARNING"],
        env=QUIET_ENV,
        on_worker_lost=lambda ids, why: lost_calls.append((ids, why, time.monotonic())))
    try:
        first_pid = client.hello(timeout=120).pid
        running = threading.Event()
        job = client.submit_generate(prompt="a tree", width=32, height=32, steps=200, count=16,
                                     on_event=lambda e: e.type == "progress" and running.set())
        queued = client.submit_generate(prompt="a boat", width=32, height=32, steps=2)
        assert running.wait(60), "the job never started"
        os.kill(first_pid, signal.SIGKILL)
        killed = time.monotonic()
        end = job.wait(timeout=10)
        detected = time.monotonic() - killed
        assert end.type == "error" and end.body["code"] == "worker_lost"
        # the heartbeat timeout (1.5 s) plus scheduling slack, far below the job's 10 s
        assert detected < 5.0, f"took {detected:.2f} s to notice"
        assert queued.wait(5).body["code"] == "worker_lost"
        assert lost_calls and set(lost_calls[0][0]) == {job.id, queued.id}
        assert "exited" in lost_calls[0][1]
        assert set(client.lost_requests) == {job.id, queued.id}
        # The client starts a new worker; the next request just works.
        res = client.generate(prompt="a tree", width=32, height=32, steps=2, timeout=120)
        assert res.images[0].shape == (32, 32, 4)
        assert client.hello(timeout=30).pid != first_pid and client.restarts == 1
        assert client.stray_events == 0
    finally:
        client.close()
    assert client.proc is None


def test_hung_worker_is_detected_by_heartbeats(tmp_path):
    """A worker we did not spawn, frozen (SIGSTOP): only the heartbeats can tell."""
    wp = start_worker(tmp_path, "--backend", "synthetic", "--backend-option",
                      "synthetic.step_time=0.05")
    lost = threading.Event()
    client = WorkerClient(wp.endpoint, wp.token, spawn=False, heartbeat_timeout=1.5,
                          on_worker_lost=lambda ids, why: lost.set())
    try:
        assert client.hello(timeout=30).backends == ["synthetic"]
        job = client.submit_generate(prompt="x", model="synthetic", steps=200)
        time.sleep(0.3)
        os.kill(wp.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        end = job.wait(timeout=10)
        detected = time.monotonic() - stopped
        assert end.body["code"] == "worker_lost" and lost.is_set()
        # the heartbeat timeout (1.5 s) plus scheduling slack, far below the job's 10 s
        assert detected < 5.0, f"took {detected:.2f} s to notice"
        # When it wakes up, the client reconnects to the same endpoint (not spawned by us).
        os.kill(wp.pid, signal.SIGCONT)
        assert client.wait_connected(10)
        assert client.status(timeout=10).state in ("busy", "idle")
    finally:
        client.close(stop_worker=False)
        os.kill(wp.pid, signal.SIGCONT)
        wp.stop()


def test_a_worker_that_answered_before_its_first_heartbeat_is_lost_not_unavailable(tmp_path):
    """A fast job can end before the worker's first heartbeat to a new client (the cluster
    gateway's restart test once hit this). The worker has answered, so its silence means its
    requests are lost (``worker_lost``), not "no answer: is it running, are the address and
    token right?" (``worker_unavailable``, for a worker that never answered at all)."""
    wp = start_worker(tmp_path, "--backend", "synthetic", "--backend-option",
                      "synthetic.step_time=0.1", "--heartbeat", "600")
    # Answered inside the worker's loop once its backend is loaded; the loop's first round
    # sent its first heartbeat (before it can have heard of the client below), and the next
    # one is 600 s away. (While loading, only heartbeats would tell the client it is there.)
    probe = Raw(wp.endpoint, wp.token)
    try:
        assert probe.call("hello", timeout=60).type == "result"
    finally:
        probe.close()
    client = WorkerClient(wp.endpoint, wp.token, spawn=False, heartbeat_timeout=2.0)
    try:
        assert client.hello(timeout=30).backends == ["synthetic"]
        running = threading.Event()
        job = client.submit_generate(prompt="x", model="synthetic", steps=200,
                                     on_event=lambda e: e.type == "progress" and running.set())
        assert running.wait(30), ("the job never started", job.done and job.wait(0).body)
        assert not client.wait_connected(0), "the worker heartbeated us: the test proves nothing"
        os.kill(wp.pid, signal.SIGSTOP)
        end = job.wait(timeout=30)
        assert end.type == "error" and end.error_code == "worker_lost", end.body
        assert client.lost_requests == [job.id]
    finally:
        client.close(stop_worker=False)
        os.kill(wp.pid, signal.SIGCONT)
        wp.stop()
