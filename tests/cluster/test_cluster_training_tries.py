"""Two tries of one training job on a shared adapter folder, with the bad timings forced.

A Ray node whose raylet is killed is not dead at once: its actor process goes on for a
second or more (longer on a loaded machine) until it notices. The gateway may meanwhile give
the job to another node. These tests put the two tries of one job (``attempt=(job id,
token)``, what ``NodeWorker`` passes) side by side in one process, each timing forced with
flags instead of a kill, so they fail or pass the same way every time:

- the first try finishes (adapter written, run folder removed) but its result never reaches
  the gateway: the second try hands that adapter back (not ``name-2``, not trained again);
- the first try is still going when the second claims the run: the second resumes from the
  first's last checkpoint and finishes; the first stops at its next checkpoint without
  writing anything; the adapter is the one an uninterrupted run makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from finetune_helpers import make_folder, quick

from t2i_core.finetune.job import train
from t2i_core.finetune.request import TrainProgress


@pytest.fixture()
def backend(tiny_backend, tiny_weights: Path, tmp_path: Path):
    from t2i_core.backends.builtin import BuiltinBackend

    b = BuiltinBackend(tiny_weights, adapters_dir=tmp_path / "adapters")
    b._model = tiny_backend.model
    return b


def tensors(path: str) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    return {k: v.float().numpy() for k, v in load_file(path).items()}


def test_a_second_try_of_a_finished_job_hands_its_adapter_back(backend, tmp_path: Path):
    folder = make_folder(tmp_path / "pics")
    first = train(backend, quick(folder), attempt=("job-1", "try-a"))  # its result is lost
    data = Path(first.path).read_bytes()
    events: list[TrainProgress] = []
    again = train(backend, quick(folder), events.append, attempt=("job-1", "try-b"))
    assert (again.name, again.path) == ("teal", first.path)
    assert again.resumed_from == again.steps == 12  # nothing trained twice
    assert not any(e.phase == "training" for e in events)
    assert Path(first.path).read_bytes() == data and backend.loras() == ["teal"]
    # another job with the same request is another adapter, as on a desktop
    other = train(backend, quick(folder), attempt=("job-2", "try-a"))
    assert (other.name, other.resumed_from) == ("teal-2", 0)


OLDER_TRY = """
import json, sys, time
from pathlib import Path
from t2i_core.backends.builtin import BuiltinBackend
from t2i_core.errors import T2IError
from t2i_core.finetune.job import train
from t2i_core.finetune.request import TrainRequest

weights, adapters, flags = map(Path, sys.argv[1:4])
request = TrainRequest(**json.loads(sys.argv[4]))  # the newer try's request, to the letter

def progress(p):
    if p.phase == "training" and p.step == 7:  # checkpoint 5 is on disk
        (flags / "paused").touch()
        while not (flags / "go").exists():
            time.sleep(0.02)

try:
    train(BuiltinBackend(weights, adapters_dir=adapters), request, progress,
          attempt=("job-1", "try-a"))
    outcome = {"ended": "finished"}
except T2IError as e:
    outcome = {"ended": e.code, "message": e.message}
(flags / "outcome.json").write_text(json.dumps(outcome))
"""


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None or path.exists(), f"the older try exited ({proc.returncode})"
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)


def test_an_older_try_still_running_stops_and_the_newer_one_resumes(
        backend, tiny_weights: Path, tmp_path: Path):
    """The older try is another process (a node the gateway lost, still alive)."""
    folder = make_folder(tmp_path / "pics")
    reference = train(backend, quick(folder, name="straight"))
    flags = tmp_path / "flags"
    flags.mkdir()
    # the same request as the newer try (quick's settings): a run resumes only when they match
    older = subprocess.Popen([sys.executable, "-c", OLDER_TRY, str(tiny_weights),
                              str(backend.adapter_library.root), str(flags),
                              json.dumps(quick(folder).to_dict())],
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    newer_paused, newer_go = threading.Event(), threading.Event()
    newer: dict = {}

    def newer_progress(p: TrainProgress) -> None:
        if p.phase == "training" and p.step == 8:  # it has claimed the run and resumed
            newer_paused.set()
            newer_go.wait(180)

    def run_newer() -> None:
        newer["result"] = train(backend, quick(folder), newer_progress,
                                attempt=("job-1", "try-b"))

    thread = threading.Thread(target=run_newer)
    try:
        wait_for(flags / "paused", older)  # the older try is at step 7
        thread.start()
        assert newer_paused.wait(180)  # both are mid-run now
        (flags / "go").touch()  # the older goes on: its checkpoint at step 10 must not
        wait_for(flags / "outcome.json", older)
        assert older.wait(60) == 0
    finally:
        (flags / "go").touch()
        newer_go.set()
        thread.join(180)
        if older.poll() is None:
            older.kill()
    outcome = json.loads((flags / "outcome.json").read_text())
    assert outcome["ended"] == "superseded", outcome
    assert "stopped without writing" in outcome["message"]
    result = newer["result"]
    assert (result.name, result.resumed_from, result.steps) == ("teal", 5, 12)
    assert backend.loras() == ["straight", "teal"]
    assert not backend.adapter_library.run_dir("teal").exists()
    a, b = tensors(result.path), tensors(reference.path)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)
    np.testing.assert_allclose(result.losses, reference.losses, rtol=1e-5, atol=1e-7)
