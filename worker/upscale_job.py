"""The worker's ``upscale`` job: enlarge one image frame 2x/4x/8x/16x.

It queues and runs like a generate job (runner thread, fair queue, cancel before it starts),
so a 16x upscale never blocks heartbeats. The request is checked before it is queued
(``prepare_upscale``); the result says which method ran: ``learned`` (the built-in icon
upscaler), ``resampling`` (its weights are missing: the no-learning resampler, with the
notice saying so) or ``diffusers`` (a user's own upscaler model from the models folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from worker import protocol as P
from worker.accept import BUILTIN_UPSCALER, upscale_image

_DIFFUSERS: dict[str, Any] = {}  # models folder -> DiffusersUpscalers (pipelines stay loaded)


def models_dir_of(cache: Any) -> Path | None:
    """The folder where a user's diffusers models live: the diffusers backend's, if this
    worker serves it, else ``$T2I_MODELS_DIR``."""
    from t2i_core.abilities import SupportsModelFolder

    backends = cache.backends.values() if cache is not None else ()
    folders = [b.models_dir for b in backends if isinstance(b, SupportsModelFolder)]
    folder = folders[0] if folders else os.environ.get("T2I_MODELS_DIR")
    return Path(folder) if folder else None


def diffusers_upscalers(cache: Any):
    from t2i_core.enhance.diffusers_upscalers import DiffusersUpscalers

    folder = models_dir_of(cache)
    key = str(folder)
    if key not in _DIFFUSERS:
        _DIFFUSERS[key] = DiffusersUpscalers(folder)
    return _DIFFUSERS[key]


def upscalers_of(cache: Any) -> list[dict]:
    """For ``hello``: the built-in upscaler (learned, or resampling without its weights) and
    the user's diffusers upscalers."""
    from t2i_core.enhance import SCALES
    from t2i_core.enhance.upscale import default_enhancer

    builtin = {"id": "builtin", "kind": "learned" if default_enhancer().path.is_file()
               else "resampling", "scales": list(SCALES)}
    try:
        extra = [u.to_dict() for u in diffusers_upscalers(cache).list()]
    except OSError:
        extra = []
    return [builtin, *extra]


def prepare_upscale(cache: Any, job: Any) -> None:
    image = upscale_image(job.params, job.images)  # worker/accept.py, as the gateway
    p = job.params
    entry = None
    if p.model not in BUILTIN_UPSCALER:
        entry = diffusers_upscalers(cache).resolve(p.model, p.scale)
    job.prepared = (image, entry)


def run_upscale(cache: Any, job: Any) -> P.Message:
    """Returns the terminal ``result``; raises ``T2IError`` for the runner to report."""
    from t2i_core.enhance.upscale import default_enhancer

    image, entry = job.prepared
    p = job.params
    t0 = time.monotonic()
    if entry is not None:
        out = diffusers_upscalers(cache).upscale(entry, image, p.prompt, p.steps, p.seed)
        method, notice = "diffusers", ""
    else:
        enhancer = default_enhancer()
        out = enhancer.upscale(image, p.scale)
        method = "learned" if enhancer.learned else "resampling"
        notice = enhancer.notice
    h, w = out.shape[:2]
    body = {"scale": p.scale, "width": w, "height": h, "model": entry.id if entry else
            "builtin", "method": method, "notice": notice, "warnings": list(job.warnings),
            "timing": {"queued_s": round(job.started - job.submitted, 4),
                       "run_s": round(time.monotonic() - t0, 4)}}
    return P.Message("result", job.id, body, [P.Image.from_numpy(out, "image")])
