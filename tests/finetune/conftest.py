"""Fixtures for the fine-tuning tests (helpers live in finetune_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from finetune_helpers import make_folder


@pytest.fixture()
def style_folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "my images")


@pytest.fixture()
def backend(tiny_backend, tiny_weights: Path, tmp_path: Path):
    """The tiny built-in backend with its own adapter library (the model is shared)."""
    from t2i_core.backends.builtin import BuiltinBackend

    b = BuiltinBackend(tiny_weights, adapters_dir=tmp_path / "adapters")
    b._model = tiny_backend.model
    return b
