"""Fixtures for the Krita plugin tests: offscreen Qt (PySide6 in the venv; the packaged
plugin also runs under Krita's own Python with PyQt5) and real tiny workers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "worker"))

import pytest  # noqa: E402
from worker_helpers import start_worker  # noqa: E402


@pytest.fixture(scope="module")
def tiny_worker(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path):
    """A real worker (built-in backend, tiny random weights) on a loopback port."""
    wp = start_worker(tmp_path_factory.mktemp("krita-worker"), "--weights-dir",
                      str(tiny_weights))
    yield wp
    wp.stop()
