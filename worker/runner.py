"""The runner thread: loads the backends once, then runs queued jobs one at a time.

It owns one inproc PAIR socket and never touches the ROUTER (see server.py). Each event is
sent as ``[control, client identity, *protocol frames]``; control is ``b"E"`` for progress,
``b"T:<id>"`` for a request's single terminal event and ``b"loaded"`` once after start-up.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import zmq

from worker import protocol as P
from worker.accept import generate_request
from worker.history import History
from worker.jobs import FairQueue, Job
from worker.models import ModelCache, ModelNotFound, ModelRefused

log = logging.getLogger("worker.runner")
PREVIEW_SIDE = 128  # previews are for the panel's thumbnail, not for display at full size
# Progress events are rate-limited (the first and the last step always go out). Each event
# wakes the socket thread, which must take the GIL from the runner; on a busy 2-core machine
# 20 events per 100 ms request cost 10-20 % of the request (benchmarks/bench_worker.py).
# A progress bar or preview needs no more than ~10 updates per second.
PROGRESS_INTERVAL = 0.1


class BackendUnavailable(Exception):
    pass


class Runner:
    def __init__(self, ctx: zmq.Context, queue: FairQueue, cache: ModelCache,
                 history: History | None, session: str, threads: int = 0,
                 progress_interval: float = PROGRESS_INTERVAL) -> None:
        self.ctx, self.queue, self.cache, self.history = ctx, queue, cache, history
        self.session = session
        self.threads = threads
        self.progress_interval = progress_interval
        self.loaded = threading.Event()
        self.current: Job | None = None
        # Daemon: a backend stuck in a load must not keep a stopping worker alive.
        self._thread = threading.Thread(target=self._main, name="t2i-runner", daemon=True)

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # --- shared with the socket thread (read-only use of the loaded cache) -------------------

    def prepare(self, job: Job) -> None:
        """Resolve the model and validate the request; raises with a user-facing message."""
        if job.kind == "plan":  # needs no model: plans are solved, not generated
            from worker.plan_job import prepare_plan

            prepare_plan(job)
            return
        if not self.cache.backends:
            raise BackendUnavailable(self.cache.load_error or "no backend is configured")
        if job.kind == "train":
            from worker.train_job import prepare_train

            prepare_train(self.cache, job)
            return
        if job.kind == "upscale":
            from worker.upscale_job import prepare_upscale

            prepare_upscale(self.cache, job)
            return
        backend, info = self.cache.resolve(job.params.model)
        request = generate_request(job.params, job.images, self.cache.model_dict(info),
                                   self.cache.model_dicts)  # worker/accept.py, as the gateway
        job.prepared = (backend, info, request)

    @staticmethod
    def error_of(e: Exception) -> tuple[str, str]:
        if isinstance(e, ModelRefused):
            return "model_refused", str(e)
        if isinstance(e, ModelNotFound):
            return "model_not_found", str(e)
        if isinstance(e, BackendUnavailable):
            return "backend_unavailable", str(e)
        code, message = getattr(e, "code", None), getattr(e, "message", None)
        if isinstance(code, str) and isinstance(message, str):  # T2IError, without importing it
            return code, message
        return "internal", (f"worker error {type(e).__name__}: {e}"[:300]
                            + " (the worker log has the traceback)")

    # --- the thread ------------------------------------------------------------------------

    def _main(self) -> None:
        self.sock = self.ctx.socket(zmq.PAIR)
        self.sock.connect(self._endpoint)
        try:
            if self.threads:
                try:
                    import torch

                    torch.set_num_threads(self.threads)
                except ImportError:
                    pass  # a backend without torch
            self.cache.load()  # records failures in cache.load_error, never raises
            self.loaded.set()
            self.sock.send(b"loaded")
            while (job := self.queue.get()) is not None:
                self.current = job
                if self.history is not None:
                    self.history.set_busy(True)  # the history's background pass waits
                try:
                    self._run(job)
                finally:
                    self.current = None
                    if self.history is not None:
                        self.history.set_busy(False)
        except Exception:  # noqa: BLE001 - logged; the socket thread keeps answering
            log.exception("runner crashed")
        finally:
            self.sock.close(linger=1000)

    def _run(self, job: Job) -> None:
        from t2i_core.errors import Cancelled

        if job.cancel.is_set():  # cancelled between the queue handing it over and now
            self._terminal(job, P.Message("cancelled", job.id, {"reason": "cancel", "step": 0}))
            return
        job.started = time.monotonic()
        last_step = [0]
        last_sent = [0.0]

        def wants_preview(step: int, total: int) -> bool:
            """Will the event for ``step`` go out? A hint for backends: decoding a preview
            that the rate limit then drops is wasted work (the built-in model spends ~40 %
            of a 128 px request on per-step previews)."""
            return (step in (1, total)
                    or time.monotonic() - last_sent[0] >= self.progress_interval)

        def progress(step: int, total: int, preview: Any = None) -> None:
            last_step[0] = job.step = step
            if not wants_preview(step, total):
                return
            last_sent[0] = time.monotonic()
            images = [_preview(preview)] if preview is not None else []
            msg = P.Message("progress", job.id, {"step": int(step), "total": int(total)},
                            [im for im in images if im is not None])
            self.sock.send_multipart([b"E", job.client, *P.encode(msg)], copy=False)

        progress.wants_preview = wants_preview  # type: ignore[attr-defined]
        try:
            if getattr(job, "prepared", None) is None:
                self.prepare(job)
            if job.kind in ("train", "plan"):
                def send(msg: P.Message) -> None:
                    self.sock.send_multipart([b"E", job.client, *P.encode(msg)], copy=False)

                if job.kind == "train":
                    from worker.train_job import run_train

                    self._terminal(job, run_train(job, send, self.progress_interval))
                else:
                    from worker.plan_job import run_plan

                    self._terminal(job, run_plan(job, send, self.history, self.session))
                return
            if job.kind == "upscale":
                from worker.upscale_job import run_upscale

                self._terminal(job, run_upscale(self.cache, job))
                return
            backend, info, request = job.prepared
            if request.vector:
                from t2i_core.vector.result import generate_vector

                result = generate_vector(backend, request, progress, job.cancel)
            else:
                result = backend.generate(request, progress, job.cancel)
        except Cancelled:
            self._terminal(job, P.Message("cancelled", job.id, {"reason": "cancel",
                                                                "step": job.step}))
            return
        except Exception as e:  # noqa: BLE001 - every failure becomes one error event
            code, text = self.error_of(e)
            if code == "internal":
                log.exception("job %s failed", job.id)
            self._terminal(job, P.error(job.id, code, text))
            return
        ran = time.monotonic() - job.started
        warnings = [*job.warnings, *result.warnings]
        paths: list[str] = []
        saved = time.monotonic()
        if self.history is not None:
            try:
                paths = self.history.save(job.id, result.images, result.provenance,
                                          {"worker_session": self.session,
                                           "warnings": warnings}, svgs=result.svgs)
            except Exception as e:  # noqa: BLE001 - still deliver the images
                log.exception("history write failed")
                warnings.append(f"could not write the history: {e}")
        saved = time.monotonic() - saved
        body = {"provenance": [p.to_dict() for p in result.provenance], "warnings": warnings,
                # The A1111 text per image: clients without t2i_core write it in PNG chunks.
                "parameters": [p.a1111_parameters() for p in result.provenance],
                "history": paths, "model": info.id, "backend": backend.name,
                "timing": {"queued_s": round(job.started - job.submitted, 4),
                           "run_s": round(ran, 4), "history_s": round(saved, 4)}}
        if result.svgs:  # vector results: one SVG drawing per image, in order
            body["svg"] = list(result.svgs)
        images = [P.Image.from_numpy(im) for im in result.images]
        self._terminal(job, P.Message("result", job.id, body, images))
        if paths and self.history is not None:
            # Saved uncompressed (cheap) before the send; compressed in the background now.
            self.history.compact_later(paths)

    def _terminal(self, job: Job, msg: P.Message) -> None:
        self.sock.send_multipart([b"T:" + job.id.encode(), job.client, *P.encode(msg)],
                                 copy=False)


def _preview(arr: Any) -> P.Image | None:
    """A small uint8 RGBA/RGB/gray preview (stride-subsampled: cheap, good enough)."""
    try:
        import numpy as np

        arr = np.asarray(arr)
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or min(arr.shape[:2]) < 1:
            return None
        step = max(1, math.ceil(max(arr.shape[:2]) / PREVIEW_SIDE))
        return P.Image.from_numpy(arr[::step, ::step], "preview")
    except Exception:  # noqa: BLE001 - a bad preview is skipped, never fatal
        return None
