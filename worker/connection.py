"""The client's connection to one worker: found or started, kept alive, lost and restarted.

Standard library + pyzmq only (vendored with the client). ``Connection`` owns the I/O thread
and its DEALER socket (ZeroMQ sockets are not thread-safe): it sends the requests in the
order they were submitted, routes every event to its request (worker/inflight.py), answers
silence and a dead process (``worker_lost``, restart), and tells its state through
``on_state``. ``WorkerClient`` (worker/client.py) is the public API on top of it; the module
docstring there describes the behaviour.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from .fields import ProtocolError, read
from .inflight import InFlight
from .launch import (
    TOKEN_ENV,
    curve_from_env,
    default_connection_file,
    read_connection_file,
    spawn_worker,
    stop_worker,
)
from .protocol import Message, decode, encode
from .replies import Heartbeat

log = logging.getLogger("worker.client")
BEAT_INTERVAL = 0.5
SPAWNED_HUNG_AFTER = 30.0  # seconds of silence before a live spawned worker counts as hung


class Connection:
    """A connection to one worker, started on demand (``WorkerClient`` adds the requests)."""

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
        self._inflight = InFlight()
        self._lock = self._inflight.lock  # also guards _closing and the wake-up pipe
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
        while (req := self._inflight.next_unsent()) is not None:
            if req.msg is None:  # already failed (worker_unavailable) while waiting
                self._inflight.pop_unsent(req)
                continue
            req.msg.token = self.token  # the token of the worker we send to (set at spawn)
            try:
                self._send(req.msg)
            except zmq.Again:  # no connected peer (e.g. CURVE handshake pending): retry soon
                self._backlog = True
                return
            except ValueError as e:  # header too large etc.: this request only
                req.msg = None
                self._inflight.end(req, "bad_message", str(e))
            else:
                req.msg = None  # sent: from now on a dead worker means this request is lost
            self._inflight.pop_unsent(req)

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
            if ev.type == "heartbeat":
                if self._on_heartbeat(ev):
                    return last_heard  # a new session: the socket is gone, the loop reconnects
            elif not self._inflight.deliver(ev):
                self.stray_events += bool(ev.id)  # e.g. a second terminal event: never
                if ev.type == "error":
                    log.warning("worker error for %r: %s", ev.id, ev.body)
            elif not (ev.type == "error" and ev.body.get("code") == "unauthorized"):
                # An answer to one of our requests proves the worker reachable and our token
                # good, like a heartbeat: its silence from now on means it is lost. (A fast
                # job can finish before the worker's first heartbeat to a new client; going
                # silent then is not "never reachable".)
                self._heard = True

    def _on_heartbeat(self, ev: Message) -> bool:
        """The worker is alive; True when it is a new one (restarted: requests were lost)."""
        try:
            beat = read(Heartbeat, ev.body, "heartbeat")
        except ProtocolError as e:
            log.warning("dropping a malformed heartbeat: %s", e.message)
            return False
        if not beat.session:
            return False
        if self.session and beat.session != self.session:
            self._lost("the worker restarted (new session)")
            return True
        self.session = beat.session
        self._heard = True
        self._connected.set()
        if beat.state in ("idle", "busy"):
            self._set_state("ready" if beat.state == "idle" else "busy")
        return False

    def _check_alive(self, last_heard: float) -> None:
        silent = time.monotonic() - last_heard
        # Before the first answer allow a connect + TCP handshake; afterwards be strict.
        limit = self.heartbeat_timeout if self._heard else max(3.0, self.heartbeat_timeout)
        if self.proc is not None and self.proc.poll() is None and self._heard:
            # A worker we started and whose process still runs is starved, not dead (a busy
            # laptop can stall it for seconds); a crash shows at once from the process itself.
            limit = max(limit, SPAWNED_HUNG_AFTER)
        if self.proc is not None and self.proc.poll() is not None:
            self._lost(f"the worker process exited with code {self.proc.returncode}")
        elif silent > limit and not self._heard:
            # Never answered (no heartbeat, no reply): nothing was lost, it was never reachable
            # (wrong address, token or CURVE keys, not running). Fail what waits, rather than
            # hold it forever.
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
        lost = self._inflight.sent()
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
        return self._inflight.fail_sent(code, message)

    def _fail_unsent(self, code: str, message: str) -> None:
        self._inflight.fail_unsent(code, message)

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
