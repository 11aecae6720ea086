"""Run by test_sealed.py inside a pretend user's environment that holds decoys (a running
worker advertised in the runtime folder, history, an adapter, T2I_* settings). With the
suite's conftest these must see none of them; with ``--noconftest`` they must see them all,
which shows the probe can tell. Not collected on its own (no ``test_`` file prefix)."""

from __future__ import annotations

import os
from pathlib import Path

DECOY = os.environ.get("PROBE_EXPECT", "sealed")  # "sealed" or "leaky"


def _expect(seen: bool, what: str) -> None:
    if DECOY == "sealed":
        assert not seen, f"the test saw the user's {what}"
    else:
        assert seen, f"the control run did not see the user's {what}"


def test_the_users_advertised_worker_is_not_joined():
    from worker.launch import default_connection_file, read_connection_file

    _expect(read_connection_file(default_connection_file()) is not None, "worker")


def test_the_users_adapters_are_not_listed():
    from t2i_core.finetune.library import AdapterLibrary

    _expect("decoy-style" in AdapterLibrary().names(), "adapter")


def test_the_users_history_is_not_read():
    from worker.history import default_history_dir

    folder = default_history_dir()
    _expect(folder.exists() and any(folder.iterdir()), "history")


def test_the_users_settings_are_not_inherited():
    _expect(any(v.startswith("decoy") for k, v in os.environ.items() if k.startswith("T2I_")),
            "T2I_* settings")
    _expect(Path.home() == Path(os.environ["PROBE_USER_HOME"]), "HOME")
