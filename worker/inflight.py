"""The client's table of requests in flight: which wait to be sent, which wait for their end.

Standard library only (vendored with the client). Any thread adds a request; the client's
I/O thread sends them in submission order, routes each event to its request and ends them
(a terminal event, a lost worker, a closed client). One lock guards the table; the client
shares it for its own few fields (``closing``, the wake-up pipe).
"""

from __future__ import annotations

import threading
from collections import deque

from .protocol import Message
from .request import Request


class InFlight:
    """``pending``: every request without a terminal event, by id; ``outbox``: those not
    sent yet, in submission order (a sent request has ``msg`` None)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, Request] = {}
        self.outbox: deque[Request] = deque()

    def add(self, req: Request) -> None:
        """Under ``lock`` (the caller also checks that the client is open)."""
        self.pending[req.id] = req
        self.outbox.append(req)

    def get(self, rid: str) -> Request | None:
        with self.lock:
            return self.pending.get(rid)

    def next_unsent(self) -> Request | None:
        with self.lock:
            return self.outbox[0] if self.outbox else None

    def pop_unsent(self, req: Request) -> None:
        with self.lock:
            if self.outbox and self.outbox[0] is req:
                self.outbox.popleft()

    def sent(self) -> list[Request]:
        """The requests the worker holds: sent, not ended."""
        with self.lock:
            return [r for r in self.pending.values() if r.msg is None and r.terminal is None]

    def deliver(self, ev: Message) -> bool:
        """Hand ``ev`` to its request (ending it on a terminal event); False: no such request."""
        req = self.get(ev.id)
        if req is None:
            return False
        req._deliver(ev)
        if req.done:  # a terminal event, or a malformed one that ended the request
            self.forget(ev.id)
        return True

    def end(self, req: Request, code: str, message: str) -> None:
        """End ``req`` here with an ``error`` event the client makes itself."""
        req._deliver(Message("error", req.id, {"code": code, "message": message}))
        self.forget(req.id)

    def fail_sent(self, code: str, message: str) -> list[str]:
        reqs = self.sent()
        for r in reqs:
            self.end(r, code, message)
        return [r.id for r in reqs]

    def fail_unsent(self, code: str, message: str) -> None:
        with self.lock:
            reqs = list(self.outbox)
            self.outbox.clear()
        for r in reqs:
            self.end(r, code, message)

    def forget(self, rid: str) -> None:
        with self.lock:
            self.pending.pop(rid, None)
