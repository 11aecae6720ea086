"""The worker's job queue: fair across clients, cancellable while queued or running.

One device runs one job at a time, so the queue decides *whose* job is next. Plain FIFO lets
one client that submits 100 variations starve a colleague's single request; here clients take
turns (round robin over client identities, FIFO within a client).

The socket thread puts and cancels; the runner thread takes. Both go through one lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    client: bytes  # the ROUTER identity of the client that submitted it
    id: str  # the client's request id
    params: Any  # protocol.GenerateParams
    images: dict[str, Any]  # name -> numpy array (init_image, mask)
    warnings: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.monotonic)
    started: float = 0.0
    step: int = 0  # last sampling step reported by the backend (cancel latency is measured)
    prepared: Any = None  # (backend, ModelInfo, GenerateRequest) once resolved and validated
    kind: str = "generate"  # or "train" (worker/train_job.py), "plan" (worker/plan_job.py),
    # "upscale" (worker/upscale_job.py)
    attempt: tuple[str, str] | None = None  # a cluster job's (id, try token): see finetune.job

    @property
    def key(self) -> tuple[bytes, str]:
        return (self.client, self.id)


class FairQueue:
    """Round robin over clients; ``get`` blocks until a job or ``close``."""

    def __init__(self, per_client_limit: int = 256) -> None:
        self._lock = threading.Condition()
        self._queues: OrderedDict[bytes, deque[Job]] = OrderedDict()  # order = whose turn
        self._closed = False
        self.per_client_limit = per_client_limit

    def put(self, job: Job) -> int | None:
        """Queue ``job``; returns how many jobs will run before it, or None when full."""
        with self._lock:
            q = self._queues.setdefault(job.client, deque())
            if len(q) >= self.per_client_limit:
                return None
            q.append(job)
            self._lock.notify()
            return self._position(job)

    def get(self, timeout: float | None = None) -> Job | None:
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._closed and not self._queues:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._lock.wait(left)
            if self._closed:
                return None
            client, q = next(iter(self._queues.items()))
            job = q.popleft()
            # This client has had its turn: it goes to the back (or leaves if it is empty).
            del self._queues[client]
            if q:
                self._queues[client] = q
            return job

    def remove(self, key: tuple[bytes, str]) -> Job | None:
        """Take a queued job out (cancel); None if it is not queued (running or unknown)."""
        with self._lock:
            q = self._queues.get(key[0])
            for job in q or ():
                if job.id == key[1]:
                    q.remove(job)
                    if not q:
                        del self._queues[key[0]]
                    return job
            return None

    def drain(self) -> list[Job]:
        """Remove and return every queued job (shutdown)."""
        with self._lock:
            jobs = [job for q in self._queues.values() for job in q]
            self._queues.clear()
            return jobs

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def _position(self, job: Job) -> int:
        # Jobs ahead of the k-th job of a client: every other client contributes up to k
        # jobs before it (they take turns), counting from the current rotation order.
        own = self._queues[job.client]
        k = own.index(job)
        ahead = k
        for client, q in self._queues.items():
            if client == job.client:
                continue
            before_us = self._turn_index(client) < self._turn_index(job.client)
            ahead += min(len(q), k + 1 if before_us else k)
        return ahead

    def _turn_index(self, client: bytes) -> int:
        return list(self._queues).index(client)
