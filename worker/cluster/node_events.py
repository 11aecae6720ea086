"""What the worker slots report to the gateway, and what the gateway does with it.

The pool's threads (pool.py) post frames to the gateway's inbox; the gateway's loop drains
them here, on its own thread: a job's events go to its client (a lost run's late events are
dropped by their dispatch number), a slot that comes up joins the scheduler and the catalog,
a job whose node died goes back to the front of the queue, a node's answer to a cancel
becomes the cancel request's reply. A mixin of ``Gateway`` (gateway.py), which owns the
state it uses.
"""

from __future__ import annotations

import hmac
import json
import logging
import time

import zmq

from worker import protocol as P
from worker.cluster.scheduler import UPSCALE, ClusterJob
from worker.cluster.state import GatewayState

log = logging.getLogger("worker.cluster")
PENDING_S = 2.0  # how long a terminal event waits for progress events pushed before it


class NodeEvents(GatewayState):
    def _drain_inbox(self) -> None:
        for _ in range(1000):
            try:
                frames = self.inbox.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            kind = frames[0]
            if kind in (b"E", b"T"):
                self._on_event(frames[1].decode(), frames[2].decode(), kind == b"T", frames[4:],
                               pushed=int(frames[3]))
            elif kind == b"B":
                self._bind_events(frames[1].decode())
            elif kind == b"N":
                self._on_node_up(frames[1].decode(), json.loads(frames[2]))
            elif kind in (b"D", b"L"):
                slot_or_uid, reason = frames[1].decode(), frames[-1].decode()
                if kind == b"L":
                    job = self.jobs.get(slot_or_uid)
                    if job is not None and str(job.run) == frames[2].decode():
                        self._requeue(job, reason)
                else:
                    uid = self.scheduler.node_down(slot_or_uid)
                    log.warning("node %s down: %s", slot_or_uid, reason)
                    if uid in self.jobs:
                        self._requeue(self.jobs[uid], reason)
            elif kind == b"C":
                r = json.loads(frames[1])
                self._reply(bytes.fromhex(r["identity"]), P.Message("result", r["id"], {
                    "target": r["target"], "was": "running", "at_step": r["at_step"]}))
            elif kind == b"R":
                self.ray_error = frames[1].decode()
                self._unpark()

    # --- progress events pushed by the slots over ZeroMQ (pool.py) ------------------------------

    def _bind_events(self, ip: str) -> None:
        """Ray is connected: listen for the slots' progress events on this machine's Ray
        address (loopback for a cluster on loopback); the slots learn it with each job."""
        if self.events is not None:
            return
        sock = self.ctx.socket(zmq.PULL)
        sock.setsockopt(zmq.MAXMSGSIZE, P.MAX_FRAME_BYTES + P.MAX_HEADER_BYTES)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        try:
            port = sock.bind_to_random_port(f"tcp://{ip}")
        except zmq.ZMQError as e:  # events keep coming through Ray
            log.warning("cannot listen for the slots' events on %s: %s", ip, e)
            sock.close(linger=0)
            return
        self.events = sock
        self._poller.register(sock, zmq.POLLIN)
        self.pool.events = {"endpoint": f"tcp://{ip}:{port}", "token": self.events_token}

    def _drain_events(self) -> None:
        token = self.events_token.encode()
        for _ in range(1000):
            try:
                frames = self.events.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) < 4 or not hmac.compare_digest(frames[0], token):
                continue  # not from one of our slots
            uid, run = frames[1].decode(errors="replace"), frames[2].decode(errors="replace")
            job = self.jobs.get(uid)
            if job is None or str(job.run) != run:
                continue
            self._on_event(uid, run, False, frames[3:])
            job.seen += 1
            if job.pending is not None and job.seen >= job.pending[1]:
                self._on_event(uid, run, True, job.pending[0])

    def _flush_pending(self) -> None:
        """A terminal event whose pushed progress events never all came (dropped): end the
        job anyway."""
        now = time.monotonic()
        for job in [j for j in self.jobs.values() if j.pending is not None]:
            if now >= job.pending[2]:
                log.warning("job %s: %d of its %d progress events pushed by %s never came",
                            job.id, job.pending[1] - job.seen, job.pending[1], job.node)
                self._on_event(job.uid, str(job.run), True, job.pending[0])

    def _on_event(self, uid: str, run: str, terminal: bool, frames: list[bytes],
                  pushed: int = 0) -> None:
        job = self.jobs.get(uid)
        if job is None or job.state != "running" or str(job.run) != run:
            return  # a dispatch that was given up (its node was declared lost)
        if terminal:
            if pushed > job.seen:  # its last progress events are still on the way
                job.pending = (frames, pushed, time.monotonic() + PENDING_S)
                return
            job.pending = None
        header = json.loads(frames[0])
        if not terminal:
            if header.get("type") == "progress":
                job.step = int(header.get("body", {}).get("step", job.step))
            self.router.send_multipart([job.identity, *frames], copy=False)
            return
        body = header.setdefault("body", {})
        info = self.catalog.infos.get(job.node, {})
        body["cluster"] = {"node": job.node, "host": info.get("host", ""),
                           "dispatch": job.dispatch_seq, "runs": job.run,
                           "wait_s": round(job.started - job.submitted, 4)}
        if header.get("type") == "result" and job.kind == "train":
            self.catalog.loras = sorted(set(self.catalog.loras) | set(body.get("loras", [])))
        self.scheduler.finished(job, model_loaded=header.get("type") == "result")
        frames[0] = json.dumps(header, separators=(",", ":")).encode()
        self._end(job, frames=frames)
        self.jobs_done += 1

    def _on_node_up(self, slot: str, info: dict) -> None:
        usable, problems = self.catalog.update(slot, info)
        for p in problems:
            log.warning("%s", p)
        upscalers = [UPSCALE + u["id"] for u in info.get("upscalers", [])]
        self.scheduler.node_up(slot, usable + upscalers, [m for m in info.get("trainable", [])
                                                          if m in usable],
                               info.get("warm", []), "cuda" in str(info.get("device", "")))
        log.info("node %s up on %s (%s): %s", slot, info.get("host"), info.get("device"),
                 ", ".join(usable))
        self._unpark()

    def _requeue(self, job: ClusterJob, reason: str) -> None:
        """Its node died: the job runs again on another node (a training job resumes from
        its last checkpoint); the client sees ``queued`` again, then the job continue."""
        self.scheduler.node_down(job.node)
        if job.cancelled:  # its cancel may never have reached the dead node: end it here
            self._end(job, P.Message("cancelled", job.id, {"reason": "cancel",
                                                            "step": job.step}))
            return
        self.scheduler.add(job, front=True)
        job.position = self.scheduler.positions().get(job.uid, 0)
        self._reply(job.identity, P.Message("queued", job.id, {
            "position": job.position, "dispatched": self.dispatched, "requeued": reason}))
