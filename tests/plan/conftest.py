"""Fixtures for the plan tests: one real worker subprocess (synthetic backend: a plan needs
no model, and the worker starts in a second instead of loading torch models)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
from worker_helpers import Raw, start_worker  # noqa: E402


@pytest.fixture(scope="module")
def plan_worker(tmp_path_factory: pytest.TempPathFactory):
    wp = start_worker(tmp_path_factory.mktemp("plan-worker"), "--backend", "synthetic")
    raw = Raw(wp.endpoint, wp.token)
    try:
        assert raw.call("hello", timeout=120).type == "result", wp.log_tail()
    finally:
        raw.close()
    yield wp
    wp.stop()


@pytest.fixture
def raw(plan_worker):
    r = Raw(plan_worker.endpoint, plan_worker.token)
    yield r
    r.close()
