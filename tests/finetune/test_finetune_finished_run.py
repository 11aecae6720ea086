"""A job killed after writing its adapter but before removing its run folder.

The kill is simulated in-process: ``shutil.rmtree`` (the cleanup right after the adapter's
atomic rename) raises ``KeyboardInterrupt`` once, which leaves on disk exactly what a
kill -9 at that instant leaves: the finished adapter and the whole run folder. The same
request again must hand back that adapter: no retraining, no ``name-2``, nothing rewritten.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from finetune_helpers import quick

import t2i_core.finetune.job as job_mod
from t2i_core.finetune.dataset import hash_tree
from t2i_core.finetune.job import CHECKPOINT, RUN_FILE, train


def killed_before_cleanup(backend, request, monkeypatch) -> Path:
    """Train ``request`` and 'die' right after the adapter is written; returns its path."""
    real = shutil.rmtree

    def die(path, *a, **kw):
        if Path(path).parent.name == ".runs":
            raise KeyboardInterrupt("killed between the adapter write and the cleanup")
        return real(path, *a, **kw)

    monkeypatch.setattr(job_mod.shutil, "rmtree", die)
    with pytest.raises(KeyboardInterrupt):
        train(backend, request)
    monkeypatch.setattr(job_mod.shutil, "rmtree", real)
    path = backend.adapter_library.root / f"{request.name}.safetensors"
    assert path.exists() and (backend.adapter_library.run_dir(request.name) / RUN_FILE).exists()
    return path


def test_the_same_request_returns_the_finished_adapter(backend, style_folder: Path,
                                                       monkeypatch):
    before = hash_tree(style_folder)
    path = killed_before_cleanup(backend, quick(style_folder), monkeypatch)
    data = path.read_bytes()
    events = []
    res = train(backend, quick(style_folder), events.append)
    assert (res.name, res.requested_name, Path(res.path)) == ("teal", "teal", path)
    assert res.steps == 12 and res.resumed_from == 12  # nothing trained in this call
    assert res.images == 7 and res.skipped and len(res.losses) == 12
    assert res.metadata["steps"] == 12 and res.metadata["folder_fingerprint"]
    assert not any(e.phase == "training" for e in events)
    assert "already trained" in events[-1].message
    assert path.read_bytes() == data  # not rewritten
    assert backend.loras() == ["teal"]  # no duplicate teal-2
    assert not backend.adapter_library.run_dir("teal").exists()  # the cleanup happened now
    assert hash_tree(style_folder) == before


def test_a_half_removed_run_folder_is_recognised_too(backend, style_folder: Path,
                                                     monkeypatch):
    """rmtree removed run.json and died before the checkpoint: the adapter's own metadata
    (folder fingerprint + settings) still identifies the request."""
    path = killed_before_cleanup(backend, quick(style_folder), monkeypatch)
    run = backend.adapter_library.run_dir("teal")
    (run / RUN_FILE).unlink()
    assert (run / CHECKPOINT).exists()
    res = train(backend, quick(style_folder))
    assert res.name == "teal" and res.resumed_from == 12 and Path(res.path) == path
    assert backend.loras() == ["teal"] and not run.exists()


def test_a_different_request_still_gets_a_new_version(backend, style_folder: Path,
                                                      monkeypatch):
    path = killed_before_cleanup(backend, quick(style_folder), monkeypatch)
    data = path.read_bytes()
    other = train(backend, quick(style_folder, seed=4))  # other settings: a new adapter
    assert (other.name, other.resumed_from) == ("teal-2", 0)
    other_trigger = train(backend, quick(style_folder, trigger="teal style"))  # other data
    assert other_trigger.name == "teal-3"
    assert path.read_bytes() == data
    assert backend.loras() == ["teal", "teal-2", "teal-3"]
    # the leftover run folder of 'teal' is still recognised afterwards
    assert train(backend, quick(style_folder)).name == "teal"
    assert backend.loras() == ["teal", "teal-2", "teal-3"]
