"""Rescanning the models folders while the worker runs, off the socket thread.

A user copies a checkpoint into the models folder, or replaces one in place, while the worker
runs. ``hello`` and ``list_models`` (and a request naming a model the worker does not know)
rescan the folders first, so the new file is offered and a changed one re-hashed. A rescan
costs a ``stat`` per known file, but hashing a new multi-gigabyte checkpoint takes seconds:
on the socket thread that would stop heartbeats and make clients think the worker died. So
the socket thread parks the message here, one background thread rescans, and the socket
thread answers the parked messages when ``take_done`` hands them back.

A message parked during a rescan waits for the next one (the file it is about may have
arrived after the running scan listed the folder).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("worker.rescan")


class Rescanner:
    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self._lock = threading.Lock()
        self._waiting: list[tuple[bytes, Any]] = []
        self._done: list[tuple[bytes, Any]] = []
        self._thread: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        """Does any backend serve a models folder that can change?"""
        return self.cache.can_refresh

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None or bool(self._done)

    def park(self, identity: bytes, msg: Any) -> None:
        """Answer ``msg`` after the next complete rescan."""
        with self._lock:
            self._waiting.append((identity, msg))
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name="t2i-rescan",
                                                daemon=True)
                self._thread.start()

    def take_done(self) -> list[tuple[bytes, Any]]:
        """The parked messages whose rescan has finished, in arrival order."""
        with self._lock:
            done, self._done = self._done, []
            return done

    def _main(self) -> None:
        while True:
            with self._lock:
                batch, self._waiting = self._waiting, []
                if not batch:
                    self._thread = None
                    return
            try:
                self.cache.refresh()
            except Exception:  # noqa: BLE001 - the old listing stays; the messages are answered
                log.exception("rescanning the models folders failed")
            with self._lock:
                self._done.extend(batch)
