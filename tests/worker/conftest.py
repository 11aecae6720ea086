"""Fixtures for the worker tests (helpers live in worker_helpers.py).

The end-to-end worker runs the real ``BuiltinBackend`` on tiny random weights (same code
paths as the shipped model, loads in a few seconds); it is shared by the whole session
because every start pays for importing torch and loading the text encoder. ``tiny_weights``
comes from tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_helpers import Raw, WorkerProc, start_worker


@pytest.fixture(scope="session")
def builtin_worker(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path):
    """One real worker (BuiltinBackend, tiny random weights) for the session, loaded."""
    wp = start_worker(tmp_path_factory.mktemp("builtin-worker"), "--weights-dir",
                      str(tiny_weights))
    raw = Raw(wp.endpoint, wp.token)
    try:
        hello = raw.call("hello", timeout=120)  # answered once the model is loaded
        assert hello.type == "result", (hello, wp.log_tail())
    finally:
        raw.close()
    yield wp
    wp.stop()


@pytest.fixture
def raw(builtin_worker: WorkerProc):
    r = Raw(builtin_worker.endpoint, builtin_worker.token)
    yield r
    r.close()
