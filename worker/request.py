"""One request in flight, as the client hands it out: its events, its terminal event, cancel.

Standard library only (vendored with the client). The client's I/O thread calls
``_deliver`` for every event of the request, which types its body first (``ev.reply``, see
worker/replies.py; a malformed body becomes this request's ``bad_message`` error); the
caller iterates, waits or cancels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from queue import Empty, Queue

from .fields import ProtocolError
from .protocol import TERMINAL_TYPES, Message
from .replies import Failure, R, read_reply, reply_as

log = logging.getLogger("worker.client")


class WorkerError(Exception):
    """A request ended in an ``error`` or ``cancelled`` event (code ``cancelled``)."""

    def __init__(self, code: str, message: str, request_id: str = "") -> None:
        super().__init__(f"{message} [{code}]")
        self.code, self.message, self.request_id = code, message, request_id


class Request:
    """One request in flight: iterate its events, wait for its terminal event, cancel it."""

    def __init__(self, cancel: Callable[[str], Request], msg: Message,
                 on_event: Callable[[Message], None] | None) -> None:
        # ``cancel``: the client's ``cancel(request_id)`` (a callable, not the client: this
        # module does not import client.py, which imports it)
        self._cancel, self.id, self.type = cancel, msg.id, msg.type
        self.msg: Message | None = msg  # dropped once sent
        self.on_event = on_event
        self.terminal: Message | None = None
        self._queue: Queue[Message] = Queue()
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _deliver(self, ev: Message) -> None:
        if self._done.is_set():
            return  # exactly one terminal event, whatever else arrives
        try:
            ev.reply = read_reply(self.type, ev)
        except ProtocolError as e:  # the worker broke the contract: this request ends here
            log.warning("request %s: %s", self.id, e.message)
            ev = Message("error", self.id, {"code": "bad_message", "message": e.message})
            ev.reply = Failure("bad_message", e.message)
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:  # noqa: BLE001 - a broken callback must not stop the I/O thread
                log.exception("on_event callback failed for %s", self.id)
        if self.on_event is None or ev.type in TERMINAL_TYPES:
            self._queue.put(ev)
        if ev.type in TERMINAL_TYPES:
            self.terminal = ev
            self._done.set()

    def events(self, timeout: float | None = None) -> Iterator[Message]:
        """Every event up to and including the terminal one (``timeout`` per event).
        With an ``on_event`` callback only the terminal event is kept for this iterator."""
        while True:
            try:
                ev = self._queue.get(timeout=timeout)
            except Empty:
                raise WorkerError("timeout", f"no event for request '{self.id}' within "
                                  f"{timeout} s", self.id) from None
            yield ev
            if ev.type in TERMINAL_TYPES:
                return

    def wait(self, timeout: float | None = None) -> Message:
        """The terminal event (result, error or cancelled)."""
        if not self._done.wait(timeout):
            raise WorkerError("timeout", f"request '{self.id}' did not finish within "
                              f"{timeout} s", self.id)
        assert self.terminal is not None
        return self.terminal

    def result(self, timeout: float | None = None) -> Message:
        """The ``result`` event (its typed body: ``.reply``); raises ``WorkerError`` for
        error and cancelled."""
        ev = self.wait(timeout)
        if isinstance(ev.reply, Failure):
            raise WorkerError(ev.reply.code, ev.reply.message, self.id)
        if ev.type == "cancelled":
            raise WorkerError("cancelled", f"request '{self.id}' was cancelled", self.id)
        return ev

    def reply(self, kind: type[R], timeout: float | None = None) -> R:
        """The typed body of the ``result`` event (e.g. ``GenerateResult``, with its images);
        raises ``WorkerError`` for error and cancelled, and for a reply of another type."""
        ev = self.result(timeout)
        try:
            return reply_as(ev, kind)
        except ProtocolError as e:
            raise WorkerError(e.code, e.message, self.id) from None

    def cancel(self) -> Request:
        return self._cancel(self.id)
