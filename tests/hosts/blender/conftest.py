"""Shared by the Blender add-on's tests that need no Blender: a real worker on the synthetic
backend, slow enough (20 ms a step) that a job can be watched and cancelled."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "worker"))
from worker_helpers import start_worker  # noqa: E402


@pytest.fixture(scope="module")
def slow_worker(tmp_path_factory):
    wp = start_worker(tmp_path_factory.mktemp("blender_session"), "--backend", "synthetic",
                      "--backend-option", "synthetic.step_time=0.02")
    yield wp
    wp.stop()
