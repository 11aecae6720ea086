"""The Blender add-on's training job without Blender: a real worker subprocess (the tiny
built-in model), real sockets, the add-on's ``Session`` polled as Blender's timer does.

A folder becomes an adapter with progress (phase, step/total, loss, ETA, a sample preview
converted for Blender), the adapter is listed at once and a generation uses it with a
weight; a taken name becomes ``name-2``; cancel stops it with a checkpoint; a bad folder is
explained while the worker keeps serving; the user's folder never changes.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "worker"))
sys.path.insert(0, str(REPO / "tests" / "finetune"))
from finetune_helpers import make_folder  # noqa: E402
from worker_helpers import start_worker  # noqa: E402

from plugin.hosts.blender import pixels  # noqa: E402

WAIT = 240.0  # a loaded 2-core machine; never asserted as a timing


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, tiny_weights: Path):
    """A worker with the tiny built-in model and its own adapter library."""
    tmp = tmp_path_factory.mktemp("blender_train")
    wp = start_worker(tmp / "w", "--weights-dir", str(tiny_weights), "--backend-option",
                      f"builtin.adapters_dir={tmp / 'adapters'}", "--progress-interval", "0")
    yield wp, tmp / "adapters"
    wp.stop()


@pytest.fixture()
def session(trainer):
    from plugin.hosts.blender.session import ConnectionSettings, Session

    wp, _ = trainer
    s = Session(ConnectionSettings(mode="endpoint", endpoint=wp.endpoint, token=wp.token))
    until(s, lambda: s.connected or s.connect_error, "the worker's hello")
    assert s.connected, s.connect_error
    yield s
    s.close()


def until(session, condition, what: str, timeout: float = WAIT) -> list:
    """Poll like the add-on's timer until ``condition()``; the terminal events seen."""
    finished = []
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        finished += session.poll()
        time.sleep(0.02)
    return finished


def folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def params(folder: Path, name: str, **kw):
    from plugin.hosts.blender.link import TrainParams

    return TrainParams(folder=str(folder), name=name, **{"steps": 8, "batch": 4,
                                                         "checkpoint_every": 4, **kw})


def test_trainable_models_come_from_the_workers_hello(session):
    from plugin.hosts.blender.training import trainable_models
    from worker.fields import read
    from worker.replies import ModelList

    assert [m.id for m in trainable_models(session.models)] == ["builtin"]
    listed = read(ModelList, {"models": [
        {"id": "builtin", "train_defaults": {}}, {"id": "live", "train_defaults": None},
        {"id": "sd15", "train_defaults": {"steps": 1500}}, {"id": "", "train_defaults": {}}]})
    assert [m.id for m in trainable_models(listed.models)] == ["builtin", "sd15"]


def test_the_look_is_sent_only_for_a_model_whose_training_has_one(session):
    from plugin.hosts.blender.training import look_render_steps
    from worker.fields import read
    from worker.replies import ModelList

    builtin = session.model("builtin")  # the real worker's hello
    assert builtin is not None and builtin.train_look
    assert look_render_steps("shading", "builtin", builtin) == 400  # docs/finetune.md
    assert look_render_steps("colours", "builtin", builtin) == 0  # the default: as before
    sd15 = read(ModelList, {"models": [{"id": "sd15", "train_defaults": {}}]}).models[0]
    assert look_render_steps("shading", "sd15", sd15) == 0  # an SD model: never sent
    assert look_render_steps("shading", "builtin", None) == 400  # before the hello
    assert look_render_steps("shading", "sd15", None) == 0


def test_train_reports_progress_and_the_adapter_is_usable_at_once(session, trainer, tmp_path):
    from plugin.hosts.blender.link import GenerateParams, LoraParam
    from plugin.hosts.blender.training import detail_text, outcome_text, progress_text

    _, adapters = trainer
    folder = make_folder(tmp_path / "teal pictures")
    before = folder_hashes(folder)
    hellos = session.hellos
    job = session.submit_train(params(folder, "teal", trigger="teal style",
                                      sample_prompts=["a circle"], sample_every=4))
    assert job.active and session.training and session.busy  # submit never waits
    seen, samples = [], []
    apply = job.apply

    def apply_and_look(ev):  # what the panel would show after each event (polls batch them)
        apply(ev)
        if job.state == "running":
            seen.append((job.phase, job.step, job.total, progress_text(job), detail_text(job)))

    job.apply = apply_and_look
    deadline = time.monotonic() + WAIT
    finished = []
    while job.active:
        assert time.monotonic() < deadline, f"training still {job.state}"
        sample = job.sample  # what the add-on's timer takes and shows
        if sample is not None:
            samples.append(sample)
            job.sample = None
        finished += session.poll()
        time.sleep(0.01)
    finished += session.poll()
    if job.sample is not None:
        samples.append(job.sample)
    assert job.state == "done", (job.error_code, job.error)
    assert any(j is job and ev.type == "result" for j, ev in finished)
    assert not session.training and not session.busy

    phases = {s[0] for s in seen}
    assert {"loading", "training", "saving"} <= phases, phases
    training = [s for s in seen if s[0] == "training"]
    assert training[-1][1:3] == (8, 8) and min(s[1] for s in training) < 8
    assert any(s[3].startswith("Training: step ") and s[3].endswith("/8") for s in training)
    assert any("loss " in s[4] and " left" in s[4] for s in training), training
    # the sample preview, converted for Blender on the client's thread: an RGBA square
    assert samples, "no sample preview came with the progress events"
    width, height, floats, prompt = samples[-1]
    assert prompt == "a circle" and width == height and len(floats) == width * height * 4
    assert len(pixels.blender_to_rgba8(floats, width, height)) == width * height * 4

    assert job.result.name == "teal" and job.result.images == 7
    assert (adapters / "teal.safetensors").is_file()
    text = outcome_text(job)
    assert text.startswith("Adapter “teal” is ready: trained on 7 images in 8 steps.")
    total = job.result.skipped_total
    assert total >= 4 and f"Skipped {total} files: " in text and f"and {total - 3} more" in text
    assert progress_text(job) == "Done: 8 steps" and job.fraction == 1.0
    assert folder_hashes(folder) == before  # the user's folder: byte for byte

    # listed at once (from the result), and the re-asked hello agrees
    assert "teal" in session.loras
    until(session, lambda: session.hellos > hellos, "re-asked capabilities")
    assert "teal" in session.loras

    gen = session.submit(GenerateParams("a circle, teal style", steps=3, width=32, height=32,
                                        loras=[LoraParam("teal", 0.8)]))
    until(session, lambda: not gen.active, "generation with the adapter")
    assert gen.state == "done", gen.error
    assert gen.result.body["provenance"][0]["loras"] == [{"name": "teal", "weight": 0.8}]

    # the same name again: saved as teal-2, and the sentence says so
    again = session.submit_train(params(folder, "teal", steps=2, seed=5))
    until(session, lambda: not again.active, "the second training")
    assert again.state == "done" and again.result.name == "teal-2", again.error
    assert "The name “teal” was already taken, so this adapter was saved as “teal-2”" \
        in outcome_text(again)
    assert {"teal", "teal-2"} <= set(session.loras)


def test_cancel_stops_training_with_a_checkpoint_and_the_worker_keeps_serving(
        session, tmp_path):
    from plugin.hosts.blender.link import GenerateParams
    from plugin.hosts.blender.training import outcome_text, progress_text

    folder = make_folder(tmp_path / "long run")
    job = session.submit_train(params(folder, "long", steps=5000, checkpoint_every=2))
    with pytest.raises(RuntimeError, match="already running"):
        session.submit_train(params(folder, "second"))  # one training at a time
    until(session, lambda: job.phase == "training" and job.step >= 2 or not job.active,
          "training steps")
    assert session.cancel_training()
    until(session, lambda: not job.active, "the cancelled event")
    assert job.state == "cancelled" and 2 <= job.cancelled_step < 5000
    assert progress_text(job) == "Cancelled"
    assert outcome_text(job).startswith(f"Training cancelled after step {job.cancelled_step}. "
                                        "A checkpoint was saved")
    assert not session.cancel_training()  # nothing left to cancel
    gen = session.submit(GenerateParams("a square", steps=2, width=32, height=32))
    until(session, lambda: not gen.active, "a generation after the cancel")
    assert gen.state == "done", gen.error


def test_bad_folders_are_explained_and_the_worker_keeps_serving(session, tmp_path):
    from plugin.hosts.blender.training import outcome_text, progress_text

    missing = session.submit_train(params(tmp_path / "no such folder", "x"))
    until(session, lambda: not missing.active, "the answer to a missing folder")
    assert missing.state == "error" and missing.error_code == "folder_not_found"
    text = outcome_text(missing)
    assert text.startswith("The image folder was not found on the worker's computer.")
    assert "no such folder" in text and progress_text(missing) == "Failed"

    empty = tmp_path / "empty"
    empty.mkdir()
    job = session.submit_train(params(empty, "y"))
    until(session, lambda: not job.active, "the answer to an empty folder")
    assert job.state == "error" and job.error_code == "folder_empty", job.error
    assert outcome_text(job).startswith("The image folder is empty.")

    clutter = tmp_path / "clutter"
    clutter.mkdir()
    (clutter / "notes.md").write_text("not an image")
    (clutter / "broken.png").write_bytes(b"\x89PNG not really")
    job = session.submit_train(params(clutter, "z"))
    until(session, lambda: not job.active, "the answer to a folder without images")
    assert job.state == "error" and job.error_code == "no_images", job.error
    assert outcome_text(job).startswith("The folder holds no image that can be used")

    bad_name = session.submit_train(params(clutter, "no/slashes"))
    until(session, lambda: not bad_name.active, "the answer to a bad name")
    assert bad_name.error_code == "bad_name"
    assert outcome_text(bad_name).startswith("Choose another adapter name.")
    assert session.connected and not session.busy  # still talking to the same worker
    hello_after = session.client.hello(timeout=30)
    assert hello_after.models


def test_a_closed_client_ends_the_job_at_once(trainer, tmp_path):
    from plugin.hosts.blender.session import ConnectionSettings, Session
    from plugin.hosts.blender.training import outcome_text

    wp, _ = trainer
    s = Session(ConnectionSettings(mode="endpoint", endpoint=wp.endpoint, token=wp.token))
    s.close()
    job = s.submit_train(params(tmp_path, "late"))
    assert job.state == "error" and job.error_code == "worker_unavailable"
    assert outcome_text(job).startswith("The worker could not be reached or started.")
    assert not s.training
