"""What the worker says about itself: its ``hello`` capabilities, its ``status``, and the
state its heartbeats carry (docs/protocol.md). The cluster gateway's counterpart, with the
same shapes, is worker/cluster/report.py.
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

from worker import __version__
from worker import protocol as P


class Worker(Protocol):
    """What the reports read of the worker (server.py's ``Worker``). Named here, not
    imported: server.py imports this module, and a module pair must not import each other."""

    config: Any  # WorkerConfig
    session: str
    started: float
    stopping: bool
    jobs_done: int
    clients: dict[bytes, float]
    queue: Any  # FairQueue
    runner: Any  # Runner
    cache: Any  # ModelCache
    history: Any  # History | None


def state(w: Worker) -> str:
    """``stopping``, ``loading`` (models not loaded yet), ``busy`` or ``idle``."""
    if w.stopping:
        return "stopping"
    if not w.runner.loaded.is_set():
        return "loading"
    return "busy" if w.runner.current is not None else "idle"


def status(w: Worker) -> dict:
    current = w.runner.current
    return {"state": state(w), "session": w.session, "pid": os.getpid(),
            "running": current.id if current is not None else None,
            "queued": len(w.queue), "clients": len(w.clients),
            "jobs_done": w.jobs_done, "uptime_s": round(time.monotonic() - w.started, 3),
            "load_error": w.cache.load_error,
            "history": w.history.stats() if w.history is not None else None}


def capabilities(w: Worker) -> dict:
    return {"protocol": P.PROTOCOL_VERSION, "worker": __version__, "session": w.session,
            "pid": os.getpid(), "backends": sorted(w.cache.backends),
            "models": w.cache.model_dicts(), "loras": w.cache.lora_names(),
            "refused": w.cache.refused(), "device": w.cache.device(),
            "load_error": w.cache.load_error,
            "upscalers": upscalers(w.cache),
            "heartbeat_interval": w.config.heartbeat_interval,
            "history_dir": str(w.config.history_dir or ""),
            "limits": {"max_side": P.MAX_SIDE, "max_frame_bytes": P.MAX_FRAME_BYTES,
                       "max_header_bytes": P.MAX_HEADER_BYTES,
                       "per_client_queue": w.config.per_client_limit}}


def upscalers(cache: Any) -> list[dict]:
    try:
        from worker.upscale_job import upscalers_of

        return upscalers_of(cache)
    except ImportError:  # a worker without t2i_core (a third-party backend only)
        return []
