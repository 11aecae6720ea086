"""``t2i cluster gateway``: one address that speaks the worker protocol, Ray behind it.

Clients (panels, Krita, Blender, ``t2i generate``) connect exactly as to a worker
(docs/protocol.md): same ROUTER, same messages, one terminal event per request, heartbeats.
Behind it every job runs on a ``NodeWorker`` actor of a Ray cluster (pool.py); the gateway
holds the queue (scheduler.py: fair share between artists, live first, warm nodes first),
checks requests at its edge (edge.py), keeps accepted jobs on disk (store.py) and admits
artists by their CURVE keys (keys.py). It imports no torch and no Ray on its own thread:
Ray is connected on a background thread, so the socket answers (and heartbeats) from the
first second of a restart.

Differences a client can see (all additive, docs/cluster.md): ``queued`` is sent again when
the position changes and when a job lost its node (``requeued``); results carry
``cluster`` (node, dispatch order, wait); ``shutdown`` is refused (a shared service).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections import deque

import zmq

from worker import __version__
from worker import protocol as P
from worker.accept import incoming
from worker.cluster.edge import Catalog, Refused, accept
from worker.cluster.node_events import NodeEvents
from worker.cluster.pool import NodePool
from worker.cluster.scheduler import ClusterJob, Scheduler
from worker.cluster.state import GatewayConfig
from worker.cluster.store import JobStore
from worker.launch import write_connection_file
from worker.security import SecurityError, is_loopback, token_ok

log = logging.getLogger("worker.cluster")


class Gateway(NodeEvents):
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        if not config.token and is_loopback(config.bind) and config.keys_dir is None:
            raise SecurityError("a loopback gateway needs a token (T2I_WORKER_TOKEN) or "
                                "artists' CURVE keys (--keys)")
        self.keys = None
        if config.keys_dir is not None:
            from worker.cluster.keys import ArtistKeys

            if not (config.keys_dir / "server.key_secret").is_file():
                raise SecurityError(f"no gateway key in {config.keys_dir}; create one with "
                                    f"`t2i cluster keys init {config.keys_dir}`")
            self.keys = ArtistKeys(config.keys_dir)
        elif not is_loopback(config.bind):
            raise SecurityError(f"refusing to listen on {config.bind} without artists' CURVE "
                                "keys: pass --keys DIR (`t2i cluster keys init DIR`, then "
                                "`t2i cluster keys add DIR NAME` per artist)")
        self.store = JobStore(config.state_dir)
        self.session = self.store.session()
        self.started = time.monotonic()
        self.scheduler = Scheduler(config.per_artist_limit, config.max_training)
        self.catalog = Catalog()
        self.ray_error = ""
        self.jobs: dict[str, ClusterJob] = {}
        self.by_key: dict[tuple[bytes, str], str] = {}
        self.finished: deque[tuple[bytes, str]] = deque(maxlen=4096)
        self.clients: dict[bytes, float] = {}
        self.parked: list[tuple[bytes, P.Message]] = []
        self.jobs_done = self.dispatched = 0
        self.stopping = False
        self.ctx = zmq.Context()
        self._post_lock = threading.Lock()
        self.endpoint = ""
        self.events: zmq.Socket | None = None  # progress events pushed by the slots
        self.events_token = secrets.token_hex(16)
        self._poller = zmq.Poller()

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> str:
        r = self.router = self.ctx.socket(zmq.ROUTER)
        r.setsockopt(zmq.MAXMSGSIZE, P.MAX_FRAME_BYTES + P.MAX_HEADER_BYTES)
        r.setsockopt(zmq.SNDHWM, 100_000)
        r.setsockopt(zmq.RCVHWM, 100_000)
        r.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a client reconnecting keeps its identity
        self.auth = None
        if self.keys is not None:
            from worker.cluster.keys import start_authenticator

            self.auth = start_authenticator(self.ctx, r, self.keys)
        bind = self.config.bind
        r.bind(bind[:-2] + ":*" if bind.endswith(":0") else bind)
        self.endpoint = r.getsockopt_string(zmq.LAST_ENDPOINT)
        self.inbox = self.ctx.socket(zmq.PULL)
        self.inbox.bind(f"inproc://gateway-{id(self)}")
        self._push = self.ctx.socket(zmq.PUSH)
        self._push.connect(f"inproc://gateway-{id(self)}")
        self.restored_at = time.monotonic()
        for job in self.store.load():  # accepted before a restart: run them again
            job.held = True  # until its client shows up (it reconnects within a second)
            self._track(job)
            self.scheduler.add(job, front=False)
        self._seq = self.store.next_seq()
        self.pool = NodePool(self.config.pool, self.post)
        self.pool.start()
        if self.config.connection_file:
            self._write_connection_file()
        log.info("gateway %s on %s (session %s, %d job(s) restored%s)", __version__,
                 self.endpoint, self.session, len(self.jobs),
                 ": " + ", ".join(j.id for j in self.jobs.values()) if self.jobs else "")
        return self.endpoint

    def post(self, frames: list) -> None:
        """From the pool's threads: hand frames to the loop (thread-safe)."""
        with self._post_lock:
            self._push.send_multipart(frames, copy=False)

    def serve_forever(self) -> None:
        poller = self._poller
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.inbox, zmq.POLLIN)
        next_beat = next_tick = 0.0
        try:
            while not self.stopping:
                wait = max(0.0, min(next_beat, next_tick) - time.monotonic())
                ready = dict(poller.poll(int(wait * 1000) + 1))
                if self.events is not None and self.events in ready:
                    self._drain_events()
                if self.inbox in ready:
                    self._drain_inbox()
                if self.router in ready:
                    self._drain_router()
                self._dispatch()
                now = time.monotonic()
                if now >= next_beat:
                    self._beat()
                    next_beat = now + self.config.heartbeat_interval
                if now >= next_tick:
                    self._tick()
                    next_tick = now + self.config.position_interval
        finally:
            self.close()

    def signal_stop(self, *_: object) -> None:
        self.stopping = True  # the queue stays on disk: a restart continues it

    def close(self) -> None:
        self.pool.stop()
        if self.auth is not None:
            self.auth.stop()
        with self._post_lock:
            self._push.close(linger=0)
        self.inbox.close(linger=0)
        if self.events is not None:
            self.events.close(linger=0)
        self.router.close(linger=500)
        self.store.close()
        cf = self.config.connection_file
        if cf and cf.exists():
            try:
                if json.loads(cf.read_text()).get("pid") == os.getpid():
                    cf.unlink()
            except (OSError, ValueError):
                pass

    # --- clients -------------------------------------------------------------------------------

    def _drain_router(self) -> None:
        for identity, msg, frames in incoming(self.router, self._reply):  # as a worker does
            artist = self._artist(identity, frames[1], msg)
            if artist is None:
                continue
            self.clients[identity] = time.monotonic()
            self._release(identity)
            try:
                self._handle(identity, artist, msg)
            except Exception as e:  # noqa: BLE001
                log.exception("handling %s %s failed", msg.type, msg.id)
                self._reply(identity, P.error(msg.id, "internal", f"gateway error: {e!r}"[:300]))

    def _artist(self, identity: bytes, head: zmq.Frame, msg: P.Message) -> str | None:
        """Who sent this (the fair-share key), or None after answering ``unauthorized``."""
        artist = f"conn-{identity.hex()}"
        why = ""
        if self.keys is not None and self.auth is not None:
            user = head.get("User-Id") if hasattr(head, "get") else None
            name = self.keys.artist_of(user) if user else None
            if name is None:
                why = "this key is not (or no longer) admitted to the gateway; ask the studio"
            artist = name or ""
        if not why and self.config.token and not token_ok(self.config.token, msg.token):
            why = "missing or wrong token; use the token the gateway was started with"
        if why:
            if msg.type != "heartbeat":
                self._reply(identity, P.error(msg.id, "unauthorized", why))
            return None
        return artist

    def _handle(self, identity: bytes, artist: str, msg: P.Message) -> None:
        t = msg.type
        if t == "heartbeat":
            return
        if t in ("hello", "list_models") and not self.catalog.ready and not self.ray_error:
            self.parked.append((identity, msg))  # answered once a node is up
        elif t == "hello":
            self._reply(identity, P.Message("result", msg.id, self._capabilities()))
        elif t == "list_models":
            self._reply(identity, P.Message("result", msg.id, {
                "models": self.catalog.models(), "loras": self.catalog.loras}))
        elif t == "status":
            from worker.cluster.report import status

            self._reply(identity, P.Message("result", msg.id, status(self)))
        elif t in ("generate", "train", "plan", "upscale"):  # all run on the nodes
            self._submit(identity, artist, msg)
        elif t == "cancel":
            self._cancel(identity, msg)
        elif t == "shutdown":
            self._reply(identity, P.error(msg.id, "unauthorized", "a cluster gateway is shared "
                                          "by the studio: stop it on its host, not from a "
                                          "client"))

    def _submit(self, identity: bytes, artist: str, msg: P.Message) -> None:
        key = (identity, msg.id)
        if key in self.by_key:
            self._reply(identity, P.error(msg.id, "duplicate_id", f"request '{msg.id}' is "
                                          "still active; use a new id for each request"))
            return
        try:
            job = accept(msg, identity, artist, self.catalog, self._seq)
        except (P.ProtocolError, Refused) as e:
            self._reply(identity, P.error(msg.id, e.code, e.message))
            return
        if not self.scheduler.add(job):
            self._reply(identity, P.error(msg.id, "queue_full", "you have "
                                          f"{self.config.per_artist_limit} requests queued; "
                                          "wait for some to finish or cancel them"))
            return
        self._seq += 1
        self.store.put(job)  # on disk before the client hears "queued"
        self._track(job)
        job.position = self.scheduler.positions().get(job.uid, 0)
        self._reply(identity, P.Message("queued", msg.id, {"position": job.position,
                                                           "dispatched": self.dispatched}))

    def _cancel(self, identity: bytes, msg: P.Message) -> None:
        target = msg.body.get("target")
        if not isinstance(target, str) or not target:
            self._reply(identity, P.error(msg.id, "bad_message", "cancel needs a 'target' "
                                          "request id in its body"))
            return
        uid = self.by_key.get((identity, target))
        job = self.jobs.get(uid or "")
        if job is None:
            known = (identity, target) in self.finished
            self._reply(identity, P.error(msg.id, "unknown_request", f"request '{target}' "
                                          + ("already finished" if known else
                                             "is not queued or running for this client"),
                                          target=target))
            return
        if self.scheduler.remove(job.uid) is not None:
            self._end(job, P.Message("cancelled", target, {"reason": "cancel", "step": 0}))
            self._reply(identity, P.Message("result", msg.id, {"target": target,
                                                               "was": "queued"}))
        else:  # running: the node answers with the step it was at (pool posts b"C")
            job.cancelled = True
            self.pool.cancel(job.node, job.uid, {"identity": identity.hex(), "id": msg.id,
                                                 "target": target})

    # --- helpers -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while (picked := self.scheduler.next_assignment()) is not None:
            job, node = picked
            self.dispatched += 1
            job.dispatch_seq, job.started = self.dispatched, time.monotonic()
            job.seen, job.pending = 0, None
            self.pool.dispatch(node.name, job.spec(), job.run)

    def _tick(self) -> None:
        self._flush_pending()
        if self.keys is not None:
            for artist in self.keys.reload():
                self._revoked(artist)
        held = [j for j in self.jobs.values() if j.held]
        if held and time.monotonic() - self.restored_at > self.config.restore_grace:
            for job in held:  # their clients gave up (they saw the gateway as lost)
                log.info("dropping restored job %s: its client did not come back", job.id)
                self.scheduler.remove(job.uid)
                self._end(job, P.Message("cancelled", job.id, {"reason": "client_gone",
                                                                "step": 0}))
        for uid, pos in self.scheduler.positions().items():
            job = self.jobs[uid]
            if pos != job.position and not job.held:
                job.position = pos
                self._reply(job.identity, P.Message("queued", job.id, {
                    "position": pos, "dispatched": self.dispatched}))

    def _revoked(self, artist: str) -> None:
        log.warning("artist %s was revoked: ending their jobs", artist)
        for job in [j for j in self.jobs.values() if j.artist == artist]:
            if self.scheduler.remove(job.uid) is not None:
                self._end(job, P.error(job.id, "unauthorized", "this key was revoked"))
            else:
                job.cancelled = True
                self.pool.cancel(job.node, job.uid, {"identity": job.identity.hex(),
                                                     "id": f"revoke-{job.uid}"[:64],
                                                     "target": job.id})

    def _release(self, identity: bytes) -> None:
        for job in self.jobs.values():
            if job.held and job.identity == identity:
                job.held = False

    def _track(self, job: ClusterJob) -> None:
        self.jobs[job.uid] = job
        self.by_key[(job.identity, job.id)] = job.uid

    def _end(self, job: ClusterJob, msg: P.Message | None = None,
             frames: list | None = None) -> None:
        """Send the job's terminal event, then forget it (on disk too)."""
        self.router.send_multipart([job.identity, *(frames or P.encode(msg))], copy=False)
        self.jobs.pop(job.uid, None)
        self.by_key.pop((job.identity, job.id), None)
        self.finished.append((job.identity, job.id))
        self.store.delete(job.uid)

    def _reply(self, identity: bytes, msg: P.Message) -> None:
        self.router.send_multipart([identity, *P.encode(msg)], copy=False)

    def _unpark(self) -> None:
        parked, self.parked = self.parked, []
        for identity, msg in parked:
            self._handle(identity, "", msg)

    def _beat(self) -> None:
        now = time.monotonic()
        for identity, seen in list(self.clients.items()):
            if now - seen > self.config.client_timeout:
                del self.clients[identity]
        state = ("loading" if not self.catalog.ready else
                 "busy" if self.scheduler.running else "idle")
        beat = P.encode(P.Message("heartbeat", "", {"session": self.session, "state": state,
                                                   "queued": len(self.scheduler)}))
        for identity in self.clients:
            self.router.send_multipart([identity, *beat])

    def _capabilities(self) -> dict:
        from worker.cluster.report import capabilities

        return capabilities(self)

    def _write_connection_file(self) -> None:
        assert self.config.connection_file is not None
        write_connection_file(self.config.connection_file, {
            "endpoint": self.endpoint, "token": self.config.token, "pid": os.getpid(),
            "session": self.session, "protocol": P.PROTOCOL_VERSION,
            "curve": self.keys is not None, "cluster": True})
