"""Backends and their models, loaded once per worker and kept in memory.

Loading the built-in model costs seconds (torch + transformers + the text encoder); a request
costs milliseconds to a second. So the worker builds each backend exactly once, at start-up on
the runner thread (the socket thread keeps answering meanwhile), and reuses it for every job.

A backend spec is a name (``builtin``, ``diffusers``) or ``package.module:factory`` for a
third-party backend; the factory gets the keyword arguments the worker was configured with.
A spec ending in ``?`` is optional: when its weights are not installed it is left out
quietly instead of reported as a load error. The default is ``builtin`` + ``live?``.

A backend that ``SupportsLazyListing`` (``live``) lists its models from ``describe()`` (file
hash and metadata, milliseconds) and loads them on its first request, so serving it costs the
worker's start-up nothing (measured in docs/PERFORMANCE.md, "Live mode"). Every other ability
is asked the same way, by ``isinstance`` against t2i_core/abilities.py, never by name.
The backends that use the frozen MiniLM share one instance (t2i_core.text_encoder.shared).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import asdict
from typing import Any

from t2i_core.abilities import (
    SupportsAdapters,
    SupportsDevice,
    SupportsLazyListing,
    SupportsModelFolder,
)
from t2i_core.backends.base import Backend
from t2i_core.errors import T2IError
from worker.accept import generate_defaults

log = logging.getLogger("worker.models")

KNOWN = {
    "builtin": "t2i_core.backends.builtin:BuiltinBackend",
    "live": "t2i_core.backends.live:LiveBackend",  # one-step previews (model id `live`)
    "diffusers": "t2i_core.backends.diffusers_backend:DiffusersBackend",
    "synthetic": "worker.testing:SyntheticBackend",  # no model: tests and benchmarks
}
# What `python -m worker` serves without --backend: the built-in model, and as-you-type
# previews (model `live`) wherever their weights are installed.
DEFAULT_BACKENDS = ["builtin", "live?"]
OPTIONAL_MISSING = ("weights_missing",)  # error codes that leave an optional backend out


class ModelNotFound(Exception):
    pass


class ModelRefused(ModelNotFound):
    """The user's file is there, but a backend refused it (pickle, damaged, unsupported)."""


class ModelCache:
    def __init__(self, specs: list[str], options: dict[str, dict[str, Any]] | None = None):
        self.specs = specs
        self.options = options or {}
        self.backends: dict[str, Any] = {}
        self._models: dict[str, tuple[Any, Any]] = {}  # model id -> (backend, ModelInfo)
        self._dicts: dict[int, tuple[Any, dict]] = {}  # id(info) -> (info, model_dict)
        self._infos: dict[str, list[Any]] = {}  # backend name -> its ModelInfos, in order
        self.load_error: str = ""

    def load(self) -> None:
        """Build every backend (once). Records a readable error instead of raising."""
        problems = []
        for requested in self.specs:
            optional = requested.endswith("?")
            spec = requested.rstrip("?")
            try:
                backend = _build(spec, self.options.get(spec, {}))
                # lazy: loads on first use; the built-in backend loads its weights in models()
                infos = backend.describe() if isinstance(backend, SupportsLazyListing) \
                    else backend.models()
            except Exception as e:  # noqa: BLE001 - any failure becomes a readable message
                known = isinstance(e, T2IError)
                message = e.message if known else f"{type(e).__name__}: {e}"
                if optional and known and e.code in OPTIONAL_MISSING:
                    log.info("optional backend %s not offered: %s", spec, message)
                    continue
                log.exception("backend %s failed to load", spec)
                problems.append(f"backend '{spec}' failed to load: {message}")
                continue
            name = backend.name
            self.backends[name] = backend
            self._infos[name] = list(infos)
        self._index()
        self.load_error = "; ".join(problems)

    def _index(self) -> None:
        models: dict[str, tuple[Any, Any]] = {}
        for name, infos in self._infos.items():
            for info in infos:
                models.setdefault(info.id, (self.backends[name], info))
        self._models = models  # replaced whole: the socket and runner threads both read it
        self._dicts = {}  # the infos changed: their dicts are made again

    # --- models folders a user edits while the worker runs ----------------------------------

    @property
    def can_refresh(self) -> bool:
        return any(isinstance(b, SupportsModelFolder) for b in self.backends.values())

    def refresh(self) -> None:
        """Rescan every models folder (new, replaced, removed files) and list them again.
        Slow when a file is new or changed (it is hashed): the worker runs it off its socket
        thread (worker/rescan.py)."""
        for name, backend in list(self.backends.items()):
            if isinstance(backend, SupportsModelFolder):
                backend.rescan()
                self._infos[name] = list(backend.models())
        self._index()

    def refused(self) -> list[dict[str, str]]:
        """Files and folders the backends refused: ``{"backend", "file", "reason"}``."""
        return [{"backend": name, **item} for name, backend in self.backends.items()
                if isinstance(backend, SupportsModelFolder) for item in backend.refused_models()]

    def resolve(self, model_id: str) -> tuple[Any, Any]:
        try:
            return self._models[model_id]
        except KeyError:
            for backend in self.backends.values():  # why a user's file was not offered
                reason = backend.why_missing(model_id) \
                    if isinstance(backend, SupportsModelFolder) else None
                if reason:
                    raise ModelRefused(f"model '{model_id}' was refused: {reason}") from None
            installed = ", ".join(sorted(self._models)) or "none"
            raise ModelNotFound(f"model '{model_id}' not found; installed: {installed}") from None

    @staticmethod
    def generate_defaults(info: Any) -> dict[str, Any]:
        """A model's complete generation defaults: its own over the built-in model's."""
        return generate_defaults(info.default_size, info.generate_defaults)

    def model_dict(self, info: Any) -> dict:
        """The model as ``hello`` lists it (what worker/accept.py checks a request against;
        kept per model: every request asks, and ``asdict`` costs ~50 us; do not modify)."""
        cached = self._dicts.get(id(info))
        if cached is not None and cached[0] is info:
            return cached[1]
        d = self._as_dict(info)
        self._dicts[id(info)] = (info, d)
        return d

    def _as_dict(self, info: Any) -> dict:
        d = asdict(info)
        d["sizes"] = list(d["sizes"])
        d["generate_defaults"] = self.generate_defaults(info)
        return d

    def model_dicts(self) -> list[dict]:
        return [self._as_dict(info) for _, info in self._models.values()]  # callers' own

    def lora_names(self) -> list[str]:
        names: set[str] = set()
        for backend in self.backends.values():
            if isinstance(backend, SupportsAdapters):
                names.update(str(x) for x in backend.loras())
        return sorted(names)

    def device(self) -> str:
        devices = {str(b.device) if isinstance(b, SupportsDevice) else "cpu"
                   for b in self.backends.values()}
        return ", ".join(sorted(devices)) or "cpu"


def _build(spec: str, kwargs: dict[str, Any]) -> Backend:
    target = KNOWN.get(spec, spec)
    if ":" not in target:
        raise ValueError(f"unknown backend '{spec}'; use one of {', '.join(KNOWN)} or "
                         "'package.module:factory'")
    module_name, attr = target.split(":", 1)
    factory = getattr(importlib.import_module(module_name), attr)
    backend = factory(**kwargs)
    if not isinstance(backend, Backend):
        raise TypeError(f"backend '{spec}' ({target}) is not a backend: it needs a name, "
                        "models() and generate() (t2i_core/backends/base.py: Backend)")
    return backend
