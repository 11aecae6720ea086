"""What a backend can do beyond ``Backend`` (backends/base.py), each ability a small protocol.

The worker and the fine-tuning job ask ``isinstance(backend, SupportsTraining)``, never
``getattr(backend, "trainer", None)``: an ability is declared by having its members, checked
in one place, and a test (tests/core/test_abilities.py) keeps every backend's list honest.
``runtime_checkable`` protocols check that the members exist (not their signatures), which
is what the old look-ups by name did, now with a name a reader can follow.

This is the core's lowest module: it imports nothing of the core, so that every part can ask
(finetune/ sits below backends/, and both ask). The types it mentions (``ModelInfo``,
``TrainRequest``, ``AdapterLibrary``, ``Trainable``) live above it, so they are ``Any``
here and named in the docstrings; docs/structure.md has the levels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class SupportsLazyListing(Protocol):
    """Lists its models without loading them (file hash and metadata, milliseconds) and loads
    on the first request (live): serving it costs the worker's start-up nothing."""

    def describe(self) -> list[Any]: ...  # what models() returns: ModelInfo each


@runtime_checkable
class SupportsModelFolder(Protocol):
    """Its models are files a user adds, replaces and removes while the worker runs
    (diffusers): the worker rescans it on ``hello``/``list_models``, lists what it refused
    with the reason, and tells a refused file from a missing one."""

    models_dir: Path

    def rescan(self) -> None: ...

    def refused_models(self) -> list[dict[str, str]]: ...  # [{"file", "reason"}]

    def why_missing(self, model_id: str) -> str | None:
        """Why the file a user calls ``model_id`` was refused; None when it is unknown."""
        ...


@runtime_checkable
class SupportsAdapters(Protocol):
    """Applies LoRA adapters (``GenerateRequest.loras``) and lists the ones it can use."""

    def loras(self) -> list[str]: ...


@runtime_checkable
class SupportsTraining(Protocol):
    """Fine-tunes its models into adapters (t2i_core/finetune/job.py drives it)."""

    adapter_library: Any  # t2i_core.finetune.library.AdapterLibrary: where adapters go

    def check_trainable(self, model_id: str) -> None:
        """Raise ``T2IError("not_trainable", ...)`` unless ``model_id`` can be fine-tuned
        (asked before a ``train`` request is queued)."""
        ...

    def trainer(self, request: Any) -> Any:
        """The ``Trainable`` (t2i_core.finetune.job) for a ``TrainRequest``."""
        ...


@runtime_checkable
class SupportsDevice(Protocol):
    """Runs on a named torch device ("cpu", "cuda:0"); ``hello`` reports it."""

    device: str


@runtime_checkable
class WantsPreview(Protocol):
    """A progress callback that says which steps want a preview image (the worker's: it
    throttles previews to what the socket and the panel can use). A backend skips
    decoding a preview nobody wants; a plain callback gets one at every step."""

    def __call__(self, step: int, total: int, preview: Any) -> None: ...

    def wants_preview(self, step: int, total: int) -> bool: ...


@runtime_checkable
class HintsMemory(Protocol):
    """A ``Trainable`` that can say which of its own options saves memory (SD: gradient
    checkpointing, a smaller resolution), added to an out-of-memory error."""

    memory_hint: str


ABILITIES: tuple[type, ...] = (SupportsLazyListing, SupportsModelFolder, SupportsAdapters,
                               SupportsTraining, SupportsDevice)


def abilities_of(backend: object) -> set[str]:
    """The names of the abilities ``backend`` has (``hello``'s log, the tests)."""
    return {a.__name__ for a in ABILITIES if isinstance(backend, a)}
