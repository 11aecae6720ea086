"""The editor side of the worker protocol: stdlib + pyzmq only (numpy optional), vendorable.

    client = WorkerClient()                       # finds a running worker or starts one
    msg = client.generate(prompt="a red apple")   # blocking; raises WorkerError
    rgba = msg.images[0].to_numpy()               # (H, W, 4) uint8

    req = client.submit_generate(GenerateParams("a cat"), on_event=print)  # callbacks
    for ev in req.events(): ...                   # or an iterator; ends with the terminal event
    req.cancel()

One I/O thread owns the DEALER socket (ZeroMQ sockets are not thread-safe); any thread may
submit. Callbacks run on that I/O thread: keep them short and hand work to your UI thread.

Liveness: the worker heartbeats every 0.5 s and the client declares it dead after
``heartbeat_timeout`` (4 s) of silence, or at once when a worker it spawned exits. Every
request in flight then ends with an ``error`` event of code ``worker_lost`` (generated here),
``on_worker_lost(ids, reason)`` is called, and a spawned worker is restarted.

Visible state (``client.state``; ``on_state(state, detail)`` on every change, I/O thread):
``starting`` → ``ready`` ⇄ ``busy``; ``lost`` → ``restarting`` → ``ready`` after a crash;
``unavailable`` (detail: why) when no worker can be reached or started; ``closed``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from .launch import (
    TOKEN_ENV,
    curve_from_env,
    curve_options,
    default_connection_file,
    read_connection_file,
    spawn_worker,
    stop_worker,
)
from .protocol import (
    GenerateParams,
    Image,
    Message,
    ProtocolError,
    TrainParams,
    UpscaleParams,
    decode,
    encode,
)
from .request import Request, WorkerError

__all__ = ["Request", "WorkerClient", "WorkerError", "curve_options"]

log = logging.getLogger("worker.client")
BEAT_INTERVAL = 0.5
SPAWNED_HUNG_AFTER = 30.0  # seconds of silence before a live spawned worker counts as hung



class WorkerClient:
    """A connection to one worker, started on demand. See the module docstring."""

    def __init__(self, endpoint: str | None = None, token: str | None = None, *,
                 spawn: bool = True, connection_file: Path | str | None = None,
                 python: str | None = None, worker_args: list[str] | tuple[str, ...] = (),
                 env: dict[str, str] | None = None, heartbeat_timeout: float = 4.0,
                 spawn_timeout: float = 60.0, curve: dict[str, bytes] | None = None,
                 on_worker_lost: Callable[[list[str], str], None] | None = None,
                 on_state: Callable[[str, str], None] | None = None) -> None:
        self.endpoint = endpoint or ""
        self.token = token or os.environ.get(TOKEN_ENV, "")
        self.spawn_allowed = spawn
        self.connection_file = (Path(connection_file) if connection_file  # str or Path
                                else default_connection_file())
        self.python = python or sys.executable  # inside Krita/Blender: pass the real one
        self.worker_args = list(worker_args)
        self.env = dict(env or {})
        self.heartbeat_timeout = heartbeat_timeout
        self.spawn_timeout = spawn_timeout
        # zmq CURVE socket options (curve_serverkey/publickey/secretkey); default: the keys
        # in $T2I_CURVE_DIR, if set (an artist's keys for a studio gateway, docs/cluster.md)
        self.curve = curve if curve is not None else curve_from_env()
        self.on_worker_lost = on_worker_lost
        self.on_state = on_state
        self.state, self.state_detail = "starting", ""
        self.lost_requests: list[str] = []  # every request id ever reported lost
        self.restarts = 0
        self.stray_events = 0  # events for no pending request (should never happen)
        self.session = ""  # the current worker's session id (changes on restart)
        self.proc: subprocess.Popen | None = None  # the worker we spawned, if any
        self._spawn_dir: str | None = None
        self._explicit = bool(endpoint)
        self._advertised_pid: int | None = None
        self._dead_pids: set[Any] = set()
        self._why = ""
        self._heard = False
        self._backlog = False  # requests that could not be sent yet (no peer)
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self._lock = threading.Lock()
        self._pending: dict[str, Request] = {}  # every request without a terminal event
        self._outbox: deque[Request] = deque()  # those not sent yet, in submission order
        self._ctx = zmq.Context()
        self._wake_addr = f"inproc://client-wake-{id(self)}-{self._prefix}"
        self._wake_rx = self._ctx.socket(zmq.PULL)
        self._wake_rx.bind(self._wake_addr)
        self._wake_tx = self._ctx.socket(zmq.PUSH)  # used under self._lock by any thread
        self._wake_tx.connect(self._wake_addr)
        self._sock: zmq.Socket | None = None
        self._connected = threading.Event()
        self._closing = False
        self._io = threading.Thread(target=self._loop, name="t2i-client-io", daemon=True)
        self._io.start()

    # --- public API ------------------------------------------------------------------------

    def request(self, type_: str, body: dict | None = None, images: list[Image] | None = None,
                on_event: Callable[[Message], None] | None = None,
                request_id: str | None = None) -> Request:
        rid = request_id or f"{self._prefix}-{next(self._ids)}"
        req = Request(self.cancel, Message(type_, rid, body or {}, images or [], self.token),
                      on_event)
        with self._lock:
            if self._closing:
                raise WorkerError("worker_unavailable", "the client is closed", rid)
            self._pending[rid] = req
            self._outbox.append(req)
            self._wake()
        return req

    def submit_generate(self, params: GenerateParams | None = None, *, init_image: Any = None,
                        mask: Any = None, on_event: Callable[[Message], None] | None = None,
                        request_id: str | None = None, **fields: Any) -> Request:
        """Queue a generate request. ``params`` or keyword fields (prompt=..., seed=...)."""
        body = (params or GenerateParams(**fields)).to_body()
        images = [_as_image(x, n) for x, n in ((init_image, "init_image"), (mask, "mask"))
                  if x is not None]
        return self.request("generate", body, images, on_event, request_id)

    def generate(self, params: GenerateParams | None = None, *, timeout: float | None = None,
                 **kwargs: Any) -> Message:
        """Blocking: the ``result`` event (``.images``, ``.body["provenance"]``)."""
        return self.submit_generate(params, **kwargs).result(timeout)

    def submit_train(self, params: TrainParams | None = None, *,
                     on_event: Callable[[Message], None] | None = None,
                     request_id: str | None = None, **fields: Any) -> Request:
        """Queue a train request (fine-tune a LoRA adapter on a folder of images):
        ``params`` or keyword fields (folder=..., name=...). Settings left at None are the
        model's own (``train_defaults``)."""
        body = (params or TrainParams(**fields)).to_body()
        return self.request("train", body, None, on_event, request_id)

    def submit_upscale(self, image: Any, scale: int = 4, *, model: str = "builtin",
                       on_event: Callable[[Message], None] | None = None,
                       request_id: str | None = None, **fields: Any) -> Request:
        """Queue an upscale of ``image`` (uint8 [H, W, 4] RGBA); the result's image is the
        enlarged one, its body says ``method`` ("learned", "resampling" or "diffusers") and
        ``notice``. ``model``: a diffusers upscaler id from hello's ``upscalers``."""
        return self.request("upscale", UpscaleParams(scale, model, **fields).to_body(),
                            [_as_image(image, "image")], on_event, request_id)

    def cancel(self, request_id: str) -> Request:
        return self.request("cancel", {"target": request_id})

    def hello(self, timeout: float | None = None) -> dict:
        return self.request("hello", {"client": "worker.client"}).result(timeout).body

    def list_models(self, timeout: float | None = None) -> dict:
        return self.request("list_models").result(timeout).body

    def status(self, timeout: float | None = None) -> dict:
        return self.request("status").result(timeout).body

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def close(self, stop_worker: bool = True, timeout: float = 5.0) -> None:
        """Stop the I/O thread; a worker this client spawned is shut down too."""
        if self._closing:
            return
        if stop_worker and self.proc is not None and self._connected.is_set():
            with contextlib.suppress(WorkerError):
                self.request("shutdown").wait(timeout=timeout)
        with self._lock:
            self._closing = True
            self._wake()
        self._io.join(timeout)
        if stop_worker:
            self._stop_proc(timeout)
        self._set_state("closed")
        with self._lock:
            self._wake_tx.close(linger=0)
        self._ctx.term()

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the I/O thread --------------------------------------------------------------------

    def _set_state(self, state: str, detail: str = "") -> None:
        if (state, detail) == (self.state, self.state_detail):
            return
        self.state, self.state_detail = state, detail
        if self.on_state is not None:
            try:
                self.on_state(state, detail)
            except Exception:  # noqa: BLE001
                log.exception("on_state callback failed")

    def _wake(self) -> None:
        # Under self._lock. A full pipe already holds a wake-up, so dropping one is fine.
        with contextlib.suppress(zmq.Again):
            self._wake_tx.send(b"", zmq.NOBLOCK)

    def _loop(self) -> None:
        backoff = 0.5
        last_beat = last_heard = 0.0
        try:
            while not self._closing:
                if self._sock is None:
                    if not self._establish():
                        self._set_state("unavailable", self._why)
                        self._fail_unsent("worker_unavailable", self._why)
                        self._sleep(backoff)
                        backoff = min(backoff * 2, 10.0)
                        continue
                    backoff, last_heard, self._heard = 0.5, time.monotonic(), False
                    last_beat = 0.0
                    poller = zmq.Poller()
                    poller.register(self._sock, zmq.POLLIN)
                    poller.register(self._wake_rx, zmq.POLLIN)
                now = time.monotonic()
                if now - last_beat >= BEAT_INTERVAL:
                    with contextlib.suppress(zmq.Again):  # no peer yet: nothing to tell
                        self._send(Message("heartbeat", "", {}, [], self.token))
                    last_beat = now
                ready = dict(poller.poll(100))
                if self._wake_rx in ready or self._backlog:
                    self._flush_outbox()
                if self._sock in ready:
                    last_heard = self._drain_socket(last_heard)
                if self._sock is not None:
                    self._check_alive(last_heard)
        except Exception:  # noqa: BLE001
            log.exception("client I/O thread crashed")
        finally:
            self._fail_unsent("worker_unavailable", "the client was closed")
            self._fail_sent("worker_unavailable", "the client was closed")
            if self._sock is not None:
                self._sock.close(linger=0)
            self._wake_rx.close(linger=0)

    def _flush_outbox(self) -> None:
        while True:
            try:
                self._wake_rx.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        self._backlog = False
        while True:
            with self._lock:
                if not self._outbox:
                    return
                req = self._outbox[0]
            if req.msg is None:  # already failed (worker_unavailable) while waiting
                self._pop_outbox(req)
                continue
            req.msg.token = self.token  # the token of the worker we send to (set at spawn)
            try:
                self._send(req.msg)
            except zmq.Again:  # no connected peer (e.g. CURVE handshake pending): retry soon
                self._backlog = True
                return
            except ValueError as e:  # header too large etc.: this request only
                req.msg = None
                req._deliver(Message("error", req.id, {"code": "bad_message", "message": str(e)}))
                self._forget(req.id)
            else:
                req.msg = None  # sent: from now on a dead worker means this request is lost
            self._pop_outbox(req)

    def _pop_outbox(self, req: Request) -> None:
        with self._lock:
            if self._outbox and self._outbox[0] is req:
                self._outbox.popleft()

    def _drain_socket(self, last_heard: float) -> float:
        assert self._sock is not None
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return last_heard
            last_heard = time.monotonic()
            try:
                ev = decode(frames, requests=False)
            except ProtocolError as e:
                log.warning("dropping a malformed message from the worker: %s", e.message)
                continue
            session = ev.body.get("session") if ev.type == "heartbeat" else None
            if isinstance(session, str):
                if self.session and session != self.session:
                    self._lost("the worker restarted (new session)")
                    return last_heard  # the socket is gone; the loop reconnects
                self.session = session
                self._heard = True
                self._connected.set()
                worker_state = ev.body.get("state")
                if worker_state in ("idle", "busy"):
                    self._set_state("ready" if worker_state == "idle" else "busy")
                continue
            with self._lock:
                req = self._pending.get(ev.id)
            if req is None:
                self.stray_events += bool(ev.id)  # e.g. a second terminal event: never
                if ev.type == "error":
                    log.warning("worker error for %r: %s", ev.id, ev.body.get("message"))
                continue
            req._deliver(ev)
            if ev.is_terminal:
                self._forget(ev.id)

    def _check_alive(self, last_heard: float) -> None:
        silent = time.monotonic() - last_heard
        # Before the first heartbeat allow a connect + TCP handshake; afterwards be strict.
        limit = self.heartbeat_timeout if self._heard else max(3.0, self.heartbeat_timeout)
        if self.proc is not None and self.proc.poll() is None and self._heard:
            # A worker we started and whose process still runs is starved, not dead (a busy
            # laptop can stall it for seconds); a crash shows at once from the process itself.
            limit = max(limit, SPAWNED_HUNG_AFTER)
        if self.proc is not None and self.proc.poll() is not None:
            self._lost(f"the worker process exited with code {self.proc.returncode}")
        elif silent > limit and not self._heard:
            # Never answered: nothing was lost, it was never reachable (wrong address, wrong
            # CURVE keys, not running). Fail what waits, rather than hold it forever.
            why = (f"no answer from the worker at {self.endpoint} within {limit:.0f} s; "
                   "is it running, and are the address, token and CURVE keys right?")
            self._fail_sent("worker_unavailable", why)
            self._fail_unsent("worker_unavailable", why)
            self._drop_connection()
            self._set_state("unavailable", why)
        elif silent > limit:
            self._lost(f"no heartbeat from the worker for {silent:.1f} s")

    def _lost(self, reason: str) -> None:
        """The worker is gone: end what it held, drop the socket; the loop reconnects."""
        with self._lock:
            lost = [r for r in self._pending.values() if r.msg is None]
        ids = [r.id for r in lost]
        self.lost_requests.extend(ids)
        log.warning("worker lost (%s); %d request(s) lost", reason, len(lost))
        self._set_state("lost", reason)
        if self.on_worker_lost is not None:  # before the events, so a waiter sees both
            try:
                self.on_worker_lost(ids, reason)
            except Exception:  # noqa: BLE001
                log.exception("on_worker_lost callback failed")
        self._fail_sent("worker_lost", f"the worker stopped while running this request "
                        f"({reason}); it is being restarted, submit the request again")
        self._drop_connection()
        self.restarts += 1

    def _drop_connection(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self._connected.clear()
        self.session = ""
        if self.proc is not None:
            self._stop_proc(0.5)
        elif self._advertised_pid:
            self._dead_pids.add(self._advertised_pid)  # do not reconnect to a hung worker

    def _fail_sent(self, code: str, message: str) -> list[str]:
        with self._lock:
            reqs = [r for r in self._pending.values() if r.msg is None and r.terminal is None]
        for r in reqs:
            r._deliver(Message("error", r.id, {"code": code, "message": message}))
            self._forget(r.id)
        return [r.id for r in reqs]

    def _fail_unsent(self, code: str, message: str) -> None:
        with self._lock:
            reqs = list(self._outbox)
            self._outbox.clear()
        for r in reqs:
            r._deliver(Message("error", r.id, {"code": code, "message": message}))
            self._forget(r.id)

    def _forget(self, rid: str) -> None:
        with self._lock:
            self._pending.pop(rid, None)

    def _send(self, msg: Message) -> None:
        # Never block the I/O thread: a DEALER with no connected peer would wait forever.
        assert self._sock is not None
        self._sock.send_multipart(encode(msg), zmq.NOBLOCK, copy=False)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._closing and time.monotonic() < end:
            time.sleep(0.05)

    # --- finding or starting a worker ----------------------------------------------------------

    def _establish(self) -> bool:
        """Connect to the configured, advertised or a freshly spawned worker."""
        self._why = "no worker endpoint configured and spawning is disabled"
        if self.state in ("lost", "restarting"):
            self._set_state("restarting")
        elif self.state != "unavailable":
            self._set_state("starting")
        if not self._explicit:
            info = read_connection_file(self.connection_file)
            if info and info.get("pid") not in self._dead_pids:
                self.endpoint, self.token = info["endpoint"], info.get("token", "")
                self._advertised_pid = info.get("pid")
            elif self.spawn_allowed:
                if not self._spawn():
                    return False
            else:
                return False
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        # Our own routing id instead of one the server picks per connection: a cluster
        # gateway restarted within the heartbeat timeout then reaches this socket again
        # with the events of the jobs it restored (docs/cluster.md). A new socket (after a
        # lost worker) gets a new id, so a request given up as lost never comes back.
        sock.setsockopt(zmq.ROUTING_ID, b"t2i-" + secrets.token_bytes(12))
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        for key, value in (self.curve or {}).items():
            setattr(sock, key, value)
        sock.connect(self.endpoint)
        self._sock = sock
        return True

    def _spawn(self) -> bool:
        self._stop_proc(1.0)
        self._advertised_pid = None
        self.token = secrets.token_urlsafe(24)
        self.proc, self._spawn_dir, endpoint, self._why = spawn_worker(
            self.python, self.worker_args, self.env, self.token, self.spawn_timeout,
            lambda: self._closing)
        if endpoint:
            self.endpoint = endpoint
            return True
        self._stop_proc(1.0)
        return False

    def _stop_proc(self, timeout: float) -> None:
        proc, self.proc = self.proc, None
        spawn_dir, self._spawn_dir = self._spawn_dir, None
        stop_worker(proc, spawn_dir, timeout)


def _as_image(x: Any, name: str) -> Image:
    if isinstance(x, Image):
        return Image(x.shape, x.data, name)
    return Image.from_numpy(x, name)
