"""The editor side of the worker protocol: stdlib + pyzmq only (numpy optional), vendorable.

    client = WorkerClient()                       # finds a running worker or starts one
    msg = client.generate(prompt="a red apple")   # blocking; raises WorkerError
    rgba = msg.images[0].to_numpy()               # (H, W, 4) uint8
    msg.reply.provenance[0]["seed"]               # msg.reply: a typed GenerateResult

    req = client.submit_generate(GenerateParams("a cat"), on_event=print)  # callbacks
    for ev in req.events(): ...                   # or an iterator; ends with the terminal event
    req.cancel()

One I/O thread owns the DEALER socket (ZeroMQ sockets are not thread-safe); any thread may
submit. Callbacks run on that I/O thread: keep them short and hand work to your UI thread.
Every event handed out has its body typed and checked (``ev.reply``: worker/replies.py);
a worker's malformed body ends its request with ``bad_message`` naming the field.

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
from collections.abc import Callable
from typing import Any

from .connection import Connection
from .launch import curve_options
from .params import GenerateParams, PlanParams, TrainParams, UpscaleParams
from .protocol import Image, Message
from .replies import Capabilities, ModelList, Status
from .request import Request, WorkerError

__all__ = ["Request", "WorkerClient", "WorkerError", "curve_options"]


class WorkerClient(Connection):
    """A connection to one worker, started on demand. See the module docstring."""

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
            self._inflight.add(req)
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
        """Blocking: the ``result`` event (``.images``; ``.reply``: a ``GenerateResult``)."""
        return self.submit_generate(params, **kwargs).result(timeout)

    def submit_train(self, params: TrainParams | None = None, *,
                     on_event: Callable[[Message], None] | None = None,
                     request_id: str | None = None, **fields: Any) -> Request:
        """Queue a train request (fine-tune a LoRA adapter on a folder of images):
        ``params`` or keyword fields (folder=..., name=...). Settings left at None are the
        model's own (``train_defaults``)."""
        body = (params or TrainParams(**fields)).to_body()
        return self.request("train", body, None, on_event, request_id)

    def submit_plan(self, params: PlanParams | None = None, *,
                    on_event: Callable[[Message], None] | None = None,
                    request_id: str | None = None, **fields: Any) -> Request:
        """Queue a floor plan (``params`` or keyword fields: prompt=..., variants=...); the
        result's reply is a ``PlanResult`` with each variant's files."""
        body = (params or PlanParams(**fields)).to_body()
        return self.request("plan", body, None, on_event, request_id)

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

    def hello(self, timeout: float | None = None) -> Capabilities:
        return self.request("hello", {"client": "worker.client"}).reply(Capabilities, timeout)

    def list_models(self, timeout: float | None = None) -> ModelList:
        return self.request("list_models").reply(ModelList, timeout)

    def status(self, timeout: float | None = None) -> Status:
        return self.request("status").reply(Status, timeout)

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


def _as_image(x: Any, name: str) -> Image:
    if isinstance(x, Image):
        return Image(x.shape, x.data, name)
    return Image.from_numpy(x, name)
