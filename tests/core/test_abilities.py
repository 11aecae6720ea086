"""Each backend declares what it can do beyond ``Backend`` by the abilities' protocols
(t2i_core/abilities.py), and the worker asks only through them."""

from __future__ import annotations

from pathlib import Path

import pytest

from t2i_core.abilities import (
    HintsMemory,
    SupportsAdapters,
    SupportsLazyListing,
    SupportsTraining,
    WantsPreview,
    abilities_of,
)
from t2i_core.backends.base import Backend

BUILTIN = {"SupportsAdapters", "SupportsTraining", "SupportsDevice"}
LIVE = {"SupportsLazyListing", "SupportsDevice"}
DIFFUSERS = {"SupportsModelFolder", "SupportsAdapters", "SupportsTraining", "SupportsDevice"}


def test_builtin_backend_declares_adapters_training_and_device(tiny_weights: Path, tmp_path):
    from t2i_core.backends.builtin import BuiltinBackend

    backend = BuiltinBackend(tiny_weights, adapters_dir=tmp_path / "adapters")
    assert isinstance(backend, Backend)
    assert abilities_of(backend) == BUILTIN
    assert backend._model is None  # asking loaded nothing
    backend.check_trainable("builtin")  # every built-in model trains


def test_live_backend_lists_lazily_and_trains_nothing(tiny_weights: Path):
    from t2i_core.backends.live import LiveBackend

    backend = LiveBackend(tiny_weights)
    assert isinstance(backend, Backend)
    assert abilities_of(backend) == LIVE
    assert not isinstance(backend, SupportsTraining | SupportsAdapters)


def test_diffusers_backend_is_a_models_folder_that_trains(tmp_path: Path):
    pytest.importorskip("diffusers")
    from t2i_core.backends.diffusers_backend import DiffusersBackend

    (tmp_path / "models").mkdir()
    backend = DiffusersBackend(models_dir=tmp_path / "models")
    assert isinstance(backend, Backend)
    assert abilities_of(backend) == DIFFUSERS
    assert backend.why_missing("nothing-here") is None


def test_synthetic_test_backend_has_no_abilities():
    from worker.testing import SyntheticBackend

    backend = SyntheticBackend()
    assert isinstance(backend, Backend)
    assert abilities_of(backend) == set()
    assert not isinstance(backend, SupportsLazyListing)


def test_a_third_party_backend_without_the_protocol_is_refused_by_name():
    from worker.models import ModelCache

    cache = ModelCache(["tests.core.test_abilities:NotABackend"])
    cache.load()
    assert not cache.backends
    assert "is not a backend" in cache.load_error and "generate()" in cache.load_error


class NotABackend:
    name = "nope"

    def models(self) -> list:
        return []


def test_the_worker_progress_callback_and_trainables_are_asked_the_same_way():
    calls = []

    def plain(step: int, total: int, preview) -> None:
        calls.append(step)

    def throttled(step: int, total: int, preview) -> None:
        calls.append(step)

    throttled.wants_preview = lambda step, total: step == total  # as worker/runner.py sets
    assert not isinstance(plain, WantsPreview) and isinstance(throttled, WantsPreview)

    class SdTrainable:
        memory_hint = "use --gradient-checkpointing"

    assert isinstance(SdTrainable(), HintsMemory) and not isinstance(object(), HintsMemory)
