"""Helpers for the worker tests: real worker subprocesses and a raw DEALER test client.

The end-to-end worker runs the real ``BuiltinBackend`` on tiny random weights (same code
paths as the shipped model, loads in a few seconds); it is shared by the whole session
because every start pays for importing torch and loading the text encoder.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from worker import protocol as P

REPO = Path(__file__).resolve().parents[2]
# One thread per worker: the CI machine has 2 cores and the tests start several processes.
QUIET_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
             "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
             "TOKENIZERS_PARALLELISM": "false"}
os.environ.update(QUIET_ENV)


@dataclass
class WorkerProc:
    proc: subprocess.Popen
    endpoint: str
    token: str
    history: Path
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def start_worker(tmp: Path, *args: str, token: str | None = None,
                 wait_file: bool = True) -> WorkerProc:
    """``python -m worker`` on a free loopback port; returns once it is listening."""
    tmp.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16) if token is None else token
    conn = tmp / "worker.json"
    log = tmp / "worker.log"
    env = {**os.environ, **QUIET_ENV, "T2I_WORKER_TOKEN": token,
           "T2I_STATE_DIR": str(tmp / "state"), "PYTHONPATH": str(REPO)}
    with open(log, "ab") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker", "--connection-file", str(conn),
             "--history-dir", str(tmp / "history"), "--threads", "1", "--log-level", "WARNING",
             *args], cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=f,
            stderr=subprocess.STDOUT)
    wp = WorkerProc(proc, "", token, tmp / "history", log)
    if not wait_file:
        return wp
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if conn.exists():
            wp.endpoint = json.loads(conn.read_text())["endpoint"]
            return wp
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    wp.stop()
    raise RuntimeError(f"worker did not start:\n{wp.log_tail()}")


class Raw:
    """A bare DEALER speaking the protocol by hand: sees every frame the worker sends."""

    def __init__(self, endpoint: str, token: str, **sockopts: Any) -> None:
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDTIMEO, 5000)  # no peer (failed CURVE): zmq.Again, not hang
        for k, v in sockopts.items():
            setattr(self.sock, k, v)
        self.sock.connect(endpoint)
        self.token = token
        self.n = 0

    def next_id(self) -> str:
        self.n += 1
        return f"raw-{id(self) % 10000}-{self.n}"

    def send(self, type_: str, rid: str | None = None, body: dict | None = None,
             images: list[P.Image] | None = None, token: str | None = None) -> str:
        rid = rid or self.next_id()
        msg = P.Message(type_, rid, body or {}, images or [],
                        self.token if token is None else token)
        self.sock.send_multipart(P.encode(msg))
        return rid

    def recv(self, timeout: float = 10.0, heartbeats: bool = False) -> P.Message | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                return None
            msg = P.decode(self.sock.recv_multipart(), requests=False)
            if heartbeats or msg.type != "heartbeat":
                return msg

    def until_terminal(self, rid: str, timeout: float = 60.0) -> list[P.Message]:
        """Every event of ``rid`` up to its terminal one (other ids are ignored)."""
        events: list[P.Message] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg is None:
                break
            if msg.id == rid:
                events.append(msg)
                if msg.is_terminal:
                    return events
        raise AssertionError(f"no terminal event for {rid} within {timeout} s: {events}")

    def collect(self, ids: list[str], timeout: float = 60.0) -> dict[str, list[P.Message]]:
        """Events per id until every id in ``ids`` has had its terminal event."""
        events: dict[str, list[P.Message]] = {rid: [] for rid in ids}
        waiting = set(ids)
        deadline = time.monotonic() + timeout
        while waiting:
            msg = self.recv(deadline - time.monotonic())
            assert msg is not None, f"no terminal event for {waiting} within {timeout} s"
            events.setdefault(msg.id, []).append(msg)
            if msg.is_terminal:
                waiting.discard(msg.id)
        return events

    def call(self, type_: str, body: dict | None = None, timeout: float = 60.0,
             **kw: Any) -> P.Message:
        return self.until_terminal(self.send(type_, body=body, **kw), timeout)[-1]

    def close(self) -> None:
        self.sock.close(linger=0)


BUILT: list[dict] = []


def counting_backend(**kwargs: Any) -> Any:
    """A backend factory for ModelCache tests: records every construction."""
    from worker.testing import SyntheticBackend

    BUILT.append(kwargs)
    return SyntheticBackend(**kwargs)
