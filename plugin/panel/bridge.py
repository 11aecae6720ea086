"""Moves the worker client's callbacks onto the UI thread.

``WorkerClient`` calls ``on_event`` and ``on_state`` on its own I/O thread. Qt widgets may
only be touched from the UI thread, so every callback here does nothing but emit a signal;
Qt queues a signal emitted on another thread to the receiver's thread. Nothing on the UI
thread ever waits on the worker: requests are submitted (a non-blocking enqueue) and their
events arrive later as signals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QObject, Signal

from worker.client import WorkerClient, WorkerError
from worker.params import GenerateParams, TrainParams
from worker.protocol import Image, Message
from worker.replies import Capabilities, Failure, TrainResult


class WorkerBridge(QObject):
    """Signals for one ``WorkerClient``: ``state_changed(state, detail)``, ``event(msg)``
    for every event of requests submitted here (its typed body: ``msg.reply``),
    ``capabilities(Capabilities)``: the worker's hello."""

    state_changed = Signal(str, str)
    event = Signal(object)
    capabilities = Signal(object)

    def __init__(self, client: WorkerClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.state = client.state
        self.state_detail = client.state_detail
        self.state_changed.connect(self._remember_state)
        client.on_state = self._on_state  # from now on every change is a signal
        if (client.state, client.state_detail) != (self.state, self.state_detail):
            self.state_changed.emit(client.state, client.state_detail)

    def _on_state(self, state: str, detail: str) -> None:  # I/O thread
        self.state_changed.emit(state, detail)

    def _remember_state(self, state: str, detail: str) -> None:  # UI thread
        if state == "ready" and self.state not in ("ready", "busy"):
            self.ask_capabilities()  # a new worker may offer other models
        self.state, self.state_detail = state, detail

    def ask_capabilities(self) -> None:
        def on_hello(ev: Message) -> None:
            if isinstance(ev.reply, Capabilities):
                self.capabilities.emit(ev.reply)

        self._submit("hello", {"client": "t2i-panel"}, on_hello)

    def generate(self, params: GenerateParams, init_image: Image | None = None,
                 mask: Image | None = None) -> str:
        """Submit; returns the request id. Events arrive through ``event``."""
        return self._submit_job(lambda: self.client.submit_generate(
            params, init_image=init_image, mask=mask, on_event=self.event.emit))

    def upscale(self, image: Image, scale: int, model: str = "builtin") -> str:
        """Submit an upscale of ``image`` (frame ``image``); returns the request id."""
        return self._submit_job(lambda: self.client.submit_upscale(
            image, scale, model=model, on_event=self.event.emit))

    def train(self, params: TrainParams) -> str:
        """Submit a fine-tuning job; returns the request id. Its events arrive through
        ``event``. When it finishes, the capabilities are asked again, so every form's
        adapter list shows the new adapter at once (the worker lists it already)."""

        def on_train_event(ev: Message) -> None:  # I/O thread
            self.event.emit(ev)
            if isinstance(ev.reply, TrainResult):
                self.ask_capabilities()

        return self._submit_job(lambda: self.client.submit_train(params,
                                                                 on_event=on_train_event))

    def plan(self, body: dict) -> str:
        """Submit a floor-plan job (``protocol.PlanParams`` body); returns the request id."""
        return self._submit_job(lambda: self.client.request("plan", body,
                                                            on_event=self.event.emit))

    def _submit_job(self, submit: Callable[[], Any]) -> str:
        """Run ``submit``; a closed client's refusal arrives as the job's ``error`` event."""
        try:
            return submit().id
        except WorkerError as e:
            rid = e.request_id or "closed"
            ev = Message("error", rid, {"code": e.code, "message": e.message})
            ev.reply = Failure(e.code, e.message)
            self.event.emit(ev)
            return rid

    def cancel(self, request_id: str) -> None:
        self._submit("cancel", {"target": request_id}, None)

    def _submit(self, type_: str, body: dict, on_event: Any) -> None:
        with contextlib.suppress(WorkerError):  # closed: the state signal says so already
            self.client.request(type_, body, on_event=on_event)
