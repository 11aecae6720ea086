"""Shared by the panel tests. A module of its own, not conftest: ``from conftest import``
resolves to whichever folder's conftest pytest loaded first when several test folders run
in one call."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))

from worker_helpers import QUIET_ENV, REPO  # noqa: E402

WAIT = 120_000  # ms: generous for a loaded 2-core CI machine; never a timing assertion


def spawn_env(tmp: Path) -> dict[str, str]:
    """Environment for a worker the client spawns (quiet, one thread, its own history)."""
    return {**QUIET_ENV, "PYTHONPATH": str(REPO), "T2I_HISTORY_DIR": str(tmp / "history"),
            "T2I_STATE_DIR": str(tmp / "state")}
