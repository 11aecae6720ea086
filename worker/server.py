"""The worker: a ROUTER socket on the main thread, the model on a runner thread.

Why two threads: the socket loop must never wait on the model, or heartbeats stop, cancels
wait behind a 30-second job, and clients think the worker died. ZeroMQ sockets are not
thread-safe, so the runner never touches the ROUTER: it encodes its events and hands them to
the main thread over an inproc PAIR socket (zero-copy), prefixed by one control frame saying
whether the event is terminal, which is when the main thread forgets the job.

Exactly one terminal event per request: control requests are answered by the main thread
once; a generate job's terminal event comes either from the main thread (cancelled while
queued, refused at submission) or from the runner (everything after it took the job), never
both, because ``FairQueue.remove`` and ``FairQueue.get`` hand a job to only one of them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from worker import __version__, report
from worker import protocol as P
from worker.accept import incoming, parse_job
from worker.history import History
from worker.jobs import FairQueue, Job
from worker.launch import pid_alive, write_connection_file
from worker.models import ModelCache, ModelNotFound
from worker.rescan import Rescanner
from worker.runner import Runner
from worker.security import SecurityError, is_loopback, load_server_keys, start_curve, token_ok

log = logging.getLogger("worker")


@dataclass
class WorkerConfig:
    bind: str = "tcp://127.0.0.1:0"
    token: str = ""
    curve_dir: Path | None = None
    backends: list[str] = field(default_factory=lambda: ["builtin"])
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    history_dir: Path | None = None  # None: do not keep a history (benchmarks only)
    connection_file: Path | None = None
    heartbeat_interval: float = 0.5
    client_timeout: float = 10.0  # stop heartbeating a client silent for this long
    parent_pid: int | None = None  # exit when this process is gone (the editor that spawned us)
    per_client_limit: int = 256
    progress_interval: float = 0.1  # at most one progress event per this many seconds


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.session = secrets.token_hex(8)  # changes on every start: clients spot restarts
        self.started = time.monotonic()
        if not config.token and is_loopback(config.bind):
            raise SecurityError("a loopback worker needs a session token (--token-env / "
                                "T2I_WORKER_TOKEN); `t2i worker` makes one for you")
        self.curve = None
        if not is_loopback(config.bind):
            if config.curve_dir is None:
                raise SecurityError(f"refusing to listen on {config.bind} without CURVE keys: "
                                    "pass --curve-dir (create one with `t2i worker "
                                    "--make-keys DIR`) or bind tcp://127.0.0.1")
            self.curve = load_server_keys(config.curve_dir)
        self.ctx = zmq.Context()
        self.queue = FairQueue(config.per_client_limit)
        self.cache = ModelCache(config.backends, config.backend_options)
        self.history = History(config.history_dir) if config.history_dir else None
        self.runner = Runner(self.ctx, self.queue, self.cache, self.history, self.session,
                             progress_interval=config.progress_interval)
        self.active: dict[tuple[bytes, str], Job] = {}
        self.finished: deque[tuple[bytes, str]] = deque(maxlen=4096)
        self.clients: dict[bytes, float] = {}  # identity -> last time we heard from it
        self.parked: list[tuple[bytes, P.Message]] = []  # hello/list_models while loading
        self.rescans = Rescanner(self.cache)  # models folders changed while we run
        self.stopping = False
        self._signalled = False
        self._direct_parent = config.parent_pid == os.getppid()
        self.endpoint = ""
        self.jobs_done = 0

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> str:
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.MAXMSGSIZE, P.MAX_FRAME_BYTES + P.MAX_HEADER_BYTES)
        self.router.setsockopt(zmq.SNDHWM, 100_000)
        self.router.setsockopt(zmq.RCVHWM, 100_000)
        self.router.setsockopt(zmq.LINGER, 1000)
        self.auth = start_curve(self.ctx, self.router, self.curve) if self.curve else None
        bind = self.config.bind
        self.router.bind(bind[:-2] + ":*" if bind.endswith(":0") else bind)
        self.endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.inbox = self.ctx.socket(zmq.PAIR)
        self.inbox.bind(f"inproc://worker-events-{self.session}")
        self.runner.start(f"inproc://worker-events-{self.session}")
        if self.config.connection_file:
            write_connection_file(self.config.connection_file, {
                "endpoint": self.endpoint, "token": self.config.token, "pid": os.getpid(),
                "session": self.session, "protocol": P.PROTOCOL_VERSION,
                "curve": self.curve is not None})
        log.info("worker %s listening on %s (session %s, history %s)", __version__,
                 self.endpoint, self.session, self.config.history_dir or "off")
        return self.endpoint

    def serve_forever(self) -> None:
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.inbox, zmq.POLLIN)
        next_beat = 0.0
        try:
            while not (self.stopping and not self.active and not self.runner.busy
                       and not self.rescans.busy):
                wait = max(0.0, next_beat - time.monotonic())
                if self.rescans.busy:
                    wait = min(wait, 0.002)  # answer the parked messages soon after the scan
                ready = dict(poller.poll(int(wait * 1000) + 1))
                if self.inbox in ready:
                    self._drain_inbox()
                if self.router in ready:
                    self._drain_router()
                for identity, msg in self.rescans.take_done():
                    try:
                        self._handle(identity, msg, scanned=True)
                    except Exception as e:  # noqa: BLE001 - as in _drain_router
                        log.exception("handling %s %s failed", msg.type, msg.id)
                        self._reply(identity, P.error(msg.id, "internal",
                                                      f"worker error: {e!r}"[:300]))
                if self._signalled and not self.stopping:
                    self.request_stop()
                if time.monotonic() >= next_beat:
                    self._beat()
                    next_beat = time.monotonic() + self.config.heartbeat_interval
        finally:
            self.close()

    def signal_stop(self, *_: Any) -> None:
        """SIGTERM/SIGINT handler. It only sets a flag: a handler runs between any two
        bytecodes of the main thread, possibly halfway through a multipart send on the
        ROUTER, so the loop itself does the stopping (within one poll interval)."""
        self._signalled = True

    def request_stop(self) -> None:
        """Stop taking work; cancel the running job; end queued jobs as cancelled."""
        if self.stopping:
            return
        self.stopping = True
        for job in self.queue.drain():
            self._send_terminal(job.client, P.Message("cancelled", job.id, {"reason": "shutdown",
                                                                            "step": 0}))
        if self.runner.current is not None:
            self.runner.current.cancel.set()
        for identity, msg in self.parked:
            self._reply(identity, P.error(msg.id, "shutting_down", "the worker is stopping"))
        self.parked.clear()

    def close(self) -> None:
        self.queue.close()
        # A running job was cancelled and ends within a step; a model still loading cannot be
        # interrupted, and the runner is a daemon thread, so do not wait for it.
        self.runner.join(timeout=5 if self.runner.loaded.is_set() else 0)
        if self.history is not None:
            self.history.close(timeout=1.0)  # what is left stays uncompressed (valid PNGs)
        if self.auth is not None:
            self.auth.stop()
        self.inbox.close(linger=0)
        self.router.close(linger=1000)
        if not self.runner.is_alive():
            self.ctx.term()  # a runner stuck in a model load keeps its socket: skip, we exit
        cf = self.config.connection_file
        if cf and cf.exists():
            try:
                if json.loads(cf.read_text()).get("session") == self.session:
                    cf.unlink()
            except (OSError, ValueError):
                pass

    # --- the runner's events -----------------------------------------------------------------

    def _drain_inbox(self) -> None:
        for _ in range(1000):  # bounded so requests are not starved by a chatty runner
            try:
                frames = self.inbox.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            ctrl = frames[0].bytes
            if ctrl == b"loaded":
                self._on_loaded()
                continue
            identity = frames[1].bytes
            if ctrl.startswith(b"T:"):
                key = (identity, ctrl[2:].decode())
                self.active.pop(key, None)
                self.finished.append(key)
                self.jobs_done += 1
            self.router.send_multipart([identity, *frames[2:]], copy=False)

    def _on_loaded(self) -> None:
        for identity, msg in self.parked:
            self._handle(identity, msg)
        self.parked.clear()

    # --- requests ----------------------------------------------------------------------------

    def _drain_router(self) -> None:
        for identity, msg, _ in incoming(self.router, self._reply):  # worker/accept.py
            if not (self.config.token == "" or token_ok(self.config.token, msg.token)):
                if msg.type != "heartbeat":
                    self._reply(identity, P.error(msg.id, "unauthorized", "missing or wrong "
                                                  "session token; reconnect with the token the "
                                                  "worker was started with"))
                continue
            self.clients[identity] = time.monotonic()
            try:
                self._handle(identity, msg)
            except Exception as e:  # noqa: BLE001
                log.exception("handling %s %s failed", msg.type, msg.id)
                self._reply(identity, P.error(msg.id, "internal", f"worker error: {e!r}"[:300]))

    def _handle(self, identity: bytes, msg: P.Message, scanned: bool = False) -> None:
        if msg.type == "heartbeat":
            return
        if msg.type in ("hello", "list_models") and not self.runner.loaded.is_set():
            self.parked.append((identity, msg))  # answered once the backends are loaded
            return
        if msg.type in ("hello", "list_models") and not scanned and self.rescans.wanted:
            self.rescans.park(identity, msg)  # answered after a rescan of the models folders
            return
        if msg.type == "hello":
            self._reply(identity, P.Message("result", msg.id, report.capabilities(self)))
        elif msg.type == "list_models":
            self._reply(identity, P.Message("result", msg.id, {
                "models": self.cache.model_dicts(), "loras": self.cache.lora_names(),
                "refused": self.cache.refused()}))
        elif msg.type == "status":
            self._reply(identity, P.Message("result", msg.id, report.status(self)))
        elif msg.type in ("generate", "train", "plan", "upscale"):  # all queue as jobs
            self._on_generate(identity, msg, scanned)
        elif msg.type == "cancel":
            self._on_cancel(identity, msg)
        elif msg.type == "shutdown":
            self._reply(identity, P.Message("result", msg.id, {"stopping": True}))
            self.request_stop()

    def _on_generate(self, identity: bytes, msg: P.Message, scanned: bool = False) -> None:
        key = (identity, msg.id)
        if key in self.active:
            # Not under msg.id: that id's one terminal event belongs to the active request.
            self._reply(identity, P.error("", "duplicate_id", f"request '{msg.id}' is still "
                                          "active; use a new id for each request",
                                          refused_id=msg.id))
            return
        if self.stopping:
            self._reply(identity, P.error(msg.id, "shutting_down", "the worker is stopping; "
                                          "start a new one"))
            return
        try:
            params, arrays, warnings = parse_job(msg)  # worker/accept.py, as the gateway
            job = Job(identity, msg.id, params, arrays, warnings, kind=msg.type)
            if self.runner.loaded.is_set():
                self.runner.prepare(job)  # resolve model + validate now: fail fast, not queued
        except P.ProtocolError as e:
            self._reply(identity, P.error(msg.id, e.code, e.message))
            return
        except Exception as e:  # noqa: BLE001 - T2IError / ModelNotFound carry their code
            if isinstance(e, ModelNotFound) and not scanned and self.rescans.wanted:
                self.rescans.park(identity, msg)  # a file added since the last scan?
                return
            code, text = self.runner.error_of(e)
            self._reply(identity, P.error(msg.id, code, text))
            return
        self.active[key] = job
        position = self.queue.put(job)
        if position is None:
            del self.active[key]
            self._reply(identity, P.error(msg.id, "queue_full", "you have "
                                          f"{self.config.per_client_limit} requests queued; "
                                          "wait for some to finish or cancel them"))
            return
        if self.runner.current is not None:
            position += 1  # the running job is ahead of everyone
        self._reply(identity, P.Message("queued", msg.id, {"position": position}))

    def _on_cancel(self, identity: bytes, msg: P.Message) -> None:
        target = msg.body.get("target")
        if not isinstance(target, str) or not target:
            self._reply(identity, P.error(msg.id, "bad_message", "cancel needs a 'target' "
                                          "request id in its body"))
            return
        key = (identity, target)
        job = self.active.get(key)
        if job is None:
            known = key in self.finished
            self._reply(identity, P.error(msg.id, "unknown_request", f"request '{target}' "
                                          + ("already finished" if known else
                                             "is not queued or running for this client"),
                                          target=target))
            return
        if self.queue.remove(key) is not None:
            self._send_terminal(identity, P.Message("cancelled", target, {"reason": "cancel",
                                                                         "step": 0}))
            body = {"target": target, "was": "queued", "at_step": 0}
        else:
            job.cancel.set()  # the backend raises Cancelled before its next sampling step
            body = {"target": target, "was": "running", "at_step": job.step}
        self._reply(identity, P.Message("result", msg.id, body))

    # --- helpers -----------------------------------------------------------------------------

    def _reply(self, identity: bytes, msg: P.Message) -> None:
        self.router.send_multipart([identity, *P.encode(msg)], copy=False)

    def _send_terminal(self, identity: bytes, msg: P.Message) -> None:
        self.active.pop((identity, msg.id), None)
        self.finished.append((identity, msg.id))
        self._reply(identity, msg)

    def _beat(self) -> None:
        now = time.monotonic()
        for identity, seen in list(self.clients.items()):
            if now - seen > self.config.client_timeout:
                del self.clients[identity]
        beat = P.encode(P.Message("heartbeat", "", {"session": self.session,
                                                   "state": report.state(self),
                                                   "queued": len(self.queue)}))
        for identity in self.clients:
            self.router.send_multipart([identity, *beat])
        if self.config.parent_pid and not self._parent_alive():
            log.info("parent process %d is gone; stopping", self.config.parent_pid)
            self.request_stop()

    def _parent_alive(self) -> bool:
        pid = self.config.parent_pid
        # Reparenting is the reliable sign (a dead parent may linger as a zombie); the pid
        # check covers a spawner that is not our direct parent.
        if self._direct_parent and os.getppid() != pid:
            return False
        return pid is None or pid_alive(pid)


def run(config: WorkerConfig) -> int:
    """Serve until shutdown; signals stop the worker gracefully (main thread only)."""
    worker = Worker(config)
    worker.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, worker.signal_stop)
        signal.signal(signal.SIGINT, worker.signal_stop)
    worker.serve_forever()
    return 0
