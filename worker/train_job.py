"""The worker's ``train`` job: fine-tune a LoRA adapter, reporting like any other job.

The runner thread runs it like a generate job (one job at a time, fair queue, cancel). What is
specific to training lives here so the runner only dispatches:

- ``prepare_train``: resolve the model and check the request (ranges, name, folder exists
  and is readable) before it is queued, so a bad request is answered at once;
- ``run_train``: ``t2i_core.finetune.job.train`` with its progress turned into ``progress``
  events (step, total, phase, loss, ETA, images/s; sample previews as ``sample`` frames),
  and its result into the terminal ``result`` (the adapter's name, path and metadata).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from worker import protocol as P
from worker.accept import train_request

MAX_SKIPPED_LISTED = 50  # the rest is counted: the header has a 64 KiB limit
SAMPLE_SIDE = 128


def prepare_train(cache: Any, job: Any) -> None:
    from t2i_core.abilities import SupportsTraining
    from t2i_core.errors import T2IError
    from t2i_core.finetune.dataset import check_folder

    backend, info = cache.resolve(job.params.model)
    if not isinstance(backend, SupportsTraining):
        raise T2IError("not_trainable", f"model '{info.id}' cannot be fine-tuned by this "
                       "worker; train the built-in model")
    backend.check_trainable(info.id)  # e.g. SD3 and inpainting models are not (yet)
    request = train_request(job.params, cache.model_dict(info))  # worker/accept.py
    check_folder(request.folder)
    job.prepared = (backend, info, request)


def run_train(job: Any, send: Callable[[P.Message], None], interval: float) -> P.Message:
    """Run the job; returns its terminal message (result). Raises like a backend would
    (``T2IError``, ``Cancelled``) for the runner to turn into error / cancelled."""
    import numpy as np

    from t2i_core.finetune.job import train

    backend, info, request = job.prepared
    last = {"sent": 0.0, "phase": ""}

    def progress(p: Any) -> None:
        job.step = p.step
        now = time.monotonic()
        urgent = p.samples or p.phase != last["phase"] or p.step in (1, p.total)
        if not urgent and now - last["sent"] < interval:
            return
        last["sent"], last["phase"] = now, p.phase
        body = {"step": int(p.step), "total": int(p.total), "phase": p.phase}
        for key in ("loss", "eta_s", "images_per_s"):
            value = getattr(p, key)
            if value is not None and np.isfinite(value):
                body[key] = round(float(value), 6)
        if p.message:
            body["message"] = p.message
        frames = []
        if p.samples:
            body["samples"] = [prompt for prompt, _ in p.samples]
            frames = [P.Image.from_numpy(_small(img), "sample") for _, img in p.samples]
        send(P.Message("progress", job.id, body, frames))

    started = time.monotonic()
    result = train(backend, request, progress, job.cancel, attempt=job.attempt)
    body = result.to_dict()
    body["skipped_total"] = len(result.skipped)
    body["skipped"] = result.skipped[:MAX_SKIPPED_LISTED]
    body["model"] = info.id
    body["backend"] = backend.name
    body["loras"] = list(backend.loras())
    body["timing"] = {"queued_s": round(job.started - job.submitted, 4),
                      "run_s": round(time.monotonic() - started, 4)}
    return P.Message("result", job.id, body)


def _small(img: Any) -> Any:
    step = max(1, -(-max(img.shape[:2]) // SAMPLE_SIDE))
    return img[::step, ::step]
