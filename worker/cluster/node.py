"""One worker slot of the cluster: the worker's model cache and job runner inside a Ray actor.

A studio runs one of these per GPU (one per CPU worker in tests). It is the same code as a
desktop worker: ``ModelCache`` loads the backends once and keeps them, ``Runner`` runs one
job at a time on its own thread with rate-limited progress, previews, history and cancel
between steps. Only the socket loop differs: instead of the worker's ROUTER, the gateway
calls ``run`` (a Ray streaming generator) and gets each event's protocol frames as soon as
the runner emits them, and ``cancel`` from another thread of this (threaded) actor.

This class does not import Ray: ``worker/cluster/pool.py`` wraps it with ``ray.remote`` and
its resource options, and the unit tests drive it directly.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq

from worker import protocol as P
from worker.accept import JOB_PARAMS
from worker.jobs import FairQueue, Job
from worker.models import ModelCache
from worker.runner import Runner

EVENT, TERMINAL = b"E", b"T"
# (EVENT | TERMINAL, the protocol message's frames, events pushed over ZeroMQ before it)
Event = tuple[bytes, list[bytes], int]


class NodeWorker:
    """See the module docstring. One job at a time (``run`` holds ``_one_job``)."""

    def __init__(self, backends: list[str], backend_options: dict[str, dict[str, Any]],
                 slot: str, config_key: str = "", threads: int = 1,
                 progress_interval: float = 0.1, history_dir: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nodes never download a model
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.slot, self.config_key = slot, config_key
        self.session = secrets.token_hex(8)
        self.ctx = zmq.Context()
        self.queue = FairQueue()
        self.cache = ModelCache(list(backends), backend_options)
        history = None
        if history_dir:
            from worker.history import History

            history = History(Path(history_dir))
        self.runner = Runner(self.ctx, self.queue, self.cache, history, self.session,
                             threads=threads, progress_interval=progress_interval)
        self._events = self.ctx.socket(zmq.PAIR)
        endpoint = f"inproc://node-events-{self.session}"
        self._events.bind(endpoint)
        self.runner.start(endpoint)
        if self._events.recv() != b"loaded":  # the runner's first message, once loaded
            raise RuntimeError("the runner did not report its backends as loaded")
        self._one_job = threading.Lock()
        self._jobs: dict[str, Job] = {}  # uid -> the job, while run() holds it
        self._cancel_early: deque[str] = deque(maxlen=1024)  # cancelled before they arrived
        self.warm: set[str] = set(_loaded_at_start(self.cache))
        self.jobs_done = 0
        self._push: zmq.Socket | None = None  # progress events straight to the gateway
        self._push_to = ""

    # --- what the gateway asks ----------------------------------------------------------------

    def info(self) -> dict:
        """Capabilities of this slot (the gateway merges them into ``hello``)."""
        from worker.upscale_job import upscalers_of

        models = self.cache.model_dicts()
        return {"slot": self.slot, "config_key": self.config_key, "session": self.session,
                "upscalers": upscalers_of(self.cache),
                "node_id": _ray_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                "models": models, "loras": self.cache.lora_names(),
                "backends": sorted(self.cache.backends), "device": self.cache.device(),
                "load_error": self.cache.load_error, "warm": sorted(self.warm),
                "trainable": [m["id"] for m in models if m.get("train_defaults") is not None],
                "running": next(iter(self._jobs), None), "jobs_done": self.jobs_done}

    def run(self, spec: dict) -> Iterator[Event]:
        """Run one job; yields ``(EVENT|TERMINAL, frames, pushed)`` for its events, ending
        with exactly one TERMINAL. ``spec``: uid, id, kind, body, images [(name, shape,
        bytes)] -- a request the gateway has already checked at its edge -- and optionally
        ``events`` {endpoint, token, run}: progress events then go to the gateway over
        ZeroMQ (cheaper than a Ray object each) and the TERMINAL says how many went."""
        with self._one_job:  # a job a dead gateway left running ends first (cancel_all)
            job = self._job_of(spec)
            uid = spec["uid"]
            push = self._pusher(spec.get("events"))
            head = [spec["events"]["token"].encode(), uid.encode(),
                    str(spec["events"]["run"]).encode()] if push is not None else []
            pushed = 0
            if uid in self._cancel_early:
                yield TERMINAL, _frames(P.Message("cancelled", job.id,
                                                  {"reason": "cancel", "step": 0})), 0
                return
            self._jobs[uid] = job
            ended = False
            try:
                try:
                    self.runner.prepare(job)
                except Exception as e:  # noqa: BLE001 - every refusal is one error event
                    code, text = self.runner.error_of(e)
                    ended = True
                    yield TERMINAL, _frames(P.error(job.id, code, text)), 0
                    return
                self.queue.put(job)
                while True:
                    frames = self._events.recv_multipart()
                    ended = frames[0].startswith(b"T:")
                    if not ended and push is not None:
                        try:
                            push.send_multipart([*head, *frames[2:]], zmq.NOBLOCK,
                                                copy=False)
                            pushed += 1
                            continue
                        except zmq.Again:  # the gateway is not taking them: through Ray
                            pass
                    yield (TERMINAL if ended else EVENT), frames[2:], pushed
                    if ended:
                        break
                self.jobs_done += 1
                if job.kind in ("generate", "train"):
                    self.warm.add(str(job.params.model))
            finally:
                self._jobs.pop(uid, None)
                if not ended:  # the caller went away mid-job: stop it, keep the socket clean
                    job.cancel.set()
                    while not self._events.recv_multipart()[0].startswith(b"T:"):
                        pass

    def cancel(self, uid: str) -> dict:
        """Set the job's cancel flag; the backend stops before its next step. Returns the
        step it was at (for the cancel reply's ``at_step``)."""
        job = self._jobs.get(uid)
        if job is None:
            self._cancel_early.append(uid)  # dispatched but not started here yet
            return {"found": False, "at_step": 0}
        job.cancel.set()
        return {"found": True, "at_step": int(job.step)}

    def cancel_all(self) -> int:
        """A restarted gateway re-runs what it had dispatched: stop this slot's current job."""
        jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        return len(jobs)

    # --- helpers -----------------------------------------------------------------------------

    def _pusher(self, events: dict | None) -> zmq.Socket | None:
        """The PUSH socket to the gateway's event endpoint (a new one when a restarted
        gateway has another); None: events go through Ray."""
        if not events or not events.get("endpoint"):
            return None
        if self._push is None or self._push_to != events["endpoint"]:
            if self._push is not None:
                self._push.close(linger=0)
            self._push = self.ctx.socket(zmq.PUSH)
            self._push.setsockopt(zmq.LINGER, 0)
            self._push.setsockopt(zmq.SNDHWM, 10_000)
            # queue only to a connected gateway: one this node cannot reach (a firewall)
            # makes sends fail at once, and the events go through Ray instead
            self._push.setsockopt(zmq.IMMEDIATE, 1)
            self._push.connect(events["endpoint"])
            self._push_to = events["endpoint"]
        return self._push

    @staticmethod
    def _job_of(spec: dict) -> Job:
        kind = spec["kind"]
        params, _ = JOB_PARAMS[kind].from_body(spec["body"], spec["id"])
        # the wire image's own conversion (worker/protocol.py), copied: Ray's buffer is
        # read-only and the job may write to its images
        images = {name: P.Image(tuple(shape), data, name).to_numpy().copy()
                  for name, shape, data in spec.get("images", [])}
        job = Job(b"", spec["id"], params, images, kind=kind)
        job.warnings.extend(spec.get("warnings", []))
        # Each run of a job is a new try: a training try claims the job's run, so an
        # earlier try still going on a node cut off from the gateway stops writing to it.
        job.attempt = (spec["uid"], secrets.token_hex(8))
        return job


def _frames(msg: P.Message) -> list[bytes]:
    return [bytes(f) for f in P.encode(msg)]


def _loaded_at_start(cache: ModelCache) -> list[str]:
    """Models whose weights are in memory once the cache has loaded: those of backends that
    load eagerly (``models()``); a backend with ``describe()`` loads on first use."""
    from t2i_core.abilities import SupportsLazyListing

    return [m["id"] for m in cache.model_dicts()
            if not isinstance(cache.backends.get(m["backend"]), SupportsLazyListing)]


def _ray_node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - outside Ray (unit tests)
        return ""
