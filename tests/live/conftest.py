"""Fixtures for the live model: tiny configs and a tiny trained run on the tiny built-in model."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_helpers import tiny_config


@pytest.fixture(scope="session")
def tiny_live_weights(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder with the tiny built-in model and a live model trained 4 steps on it."""
    import shutil

    from t2i_core.live.train import train_live

    out = tmp_path_factory.mktemp("tiny_live")
    shutil.copy(tiny_weights / "builtin.safetensors", out / "builtin.safetensors")
    train_live(out / "builtin.safetensors", out / "run", out / "live.safetensors",
               tiny_config(), steps=4, progress=False)
    return out
