"""The worker's ``train`` request, end to end with real worker subprocesses and sockets:
progress (loss, ETA, previews), result, the adapter listed and used at once, cancel and
resume, bad input answered at once, and kill -9 in the middle of training then resume with
the same loss curve as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from finetune_helpers import make_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
from worker_helpers import Raw, start_worker  # noqa: E402

from t2i_core.finetune.dataset import hash_tree  # noqa: E402


def train_body(folder: Path, name: str, **kw) -> dict:
    return {"folder": str(folder), "name": name, "steps": 16, "batch": 4,
            "checkpoint_every": 5, "sample_every": 0, **kw}


@pytest.fixture()
def trainer_worker(tmp_path: Path, tiny_weights: Path):
    adapters = tmp_path / "adapters"
    wp = start_worker(tmp_path / "w", "--weights-dir", str(tiny_weights), "--backend-option",
                      f"builtin.adapters_dir={adapters}", "--progress-interval", "0")
    raw = Raw(wp.endpoint, wp.token)
    assert raw.call("hello", timeout=120).type == "result", wp.log_tail()
    yield wp, raw, adapters
    raw.close()
    wp.stop()


def losses_by_step(events) -> dict[int, float]:
    return {e.body["step"]: e.body["loss"] for e in events
            if e.type == "progress" and e.body.get("phase") == "training"}


def test_train_request_end_to_end(trainer_worker, tmp_path: Path):
    wp, raw, adapters = trainer_worker
    folder = make_folder(tmp_path / "pics")
    before = hash_tree(folder)
    rid = raw.send("train", body=train_body(folder, "teal", trigger="teal style",
                                            sample_prompts=["a circle", "a square"],
                                            sample_every=8))
    events = raw.until_terminal(rid, timeout=300)
    assert events[0].type == "queued"
    assert events[-1].type == "result", (events[-1].body, wp.log_tail())
    body = events[-1].body
    assert body["name"] == "teal" and body["steps"] == 16 and body["images"] == 7
    assert Path(body["path"]) == adapters / "teal.safetensors" and Path(body["path"]).exists()
    assert body["skipped_total"] >= 4 and body["metadata"]["trigger"] == "teal style"
    assert body["loras"] == ["teal"]
    steps = losses_by_step(events)
    assert sorted(steps) == list(range(1, 17)) and all(np.isfinite(list(steps.values())))
    prog = [e for e in events if e.type == "progress"]
    assert {e.body["phase"] for e in prog} >= {"loading", "preparing", "training", "saving"}
    assert any("eta_s" in e.body and "images_per_s" in e.body for e in prog)
    with_samples = [e for e in prog if e.body.get("samples")]
    assert with_samples and with_samples[0].body["samples"] == ["a circle", "a square"]
    assert [im.name for im in with_samples[0].images] == ["sample", "sample"]
    assert with_samples[0].images[0].shape == (64, 64, 4)
    assert hash_tree(folder) == before
    # listed and usable at once, no restart
    assert raw.call("list_models").body["loras"] == ["teal"]
    res = raw.call("generate", {"prompt": "a circle, teal style", "width": 32, "height": 32,
                                "steps": 3, "loras": [{"name": "teal", "weight": 0.8}]})
    assert res.type == "result", res.body
    assert res.body["provenance"][0]["loras"] == [{"name": "teal", "weight": 0.8}]
    again = raw.call("train", train_body(folder, "teal", seed=3), timeout=300)
    assert again.body["name"] == "teal-2" and again.body["requested_name"] == "teal"


def test_bad_train_requests_are_answered_at_once(trainer_worker, tmp_path: Path):
    wp, raw, _ = trainer_worker
    folder = make_folder(tmp_path / "pics")
    (tmp_path / "empty").mkdir()
    cases = [(train_body(folder, "../x"), "bad_name"),
             (train_body(tmp_path / "nope", "a"), "folder_not_found"),
             (train_body(folder, "a", steps=-1), "bad_steps"),
             ({"folder": str(folder)}, "bad_message"),
             (train_body(folder, "a", augment_images="yes"), "bad_message"),
             (train_body(folder, "a", model="sd15"), "model_not_found")]
    for body, code in cases:
        events = raw.until_terminal(raw.send("train", body=body), timeout=30)
        assert [e.type for e in events] == ["error"], events  # never queued
        assert events[0].error_code == code, events[0].body
    late = raw.call("train", train_body(tmp_path / "empty", "a"))  # found out when it runs
    assert late.type == "error" and late.error_code == "folder_empty"
    assert raw.call("status").type == "result"  # still serving


def test_cancel_then_resume(trainer_worker, tmp_path: Path):
    wp, raw, adapters = trainer_worker
    folder = make_folder(tmp_path / "pics")
    body = train_body(folder, "c", steps=400, checkpoint_every=10)
    rid = raw.send("train", body=body)
    while True:
        ev = raw.recv(60)
        assert ev is not None, wp.log_tail()
        if ev.id == rid and ev.type == "progress" and ev.body.get("step", 0) >= 12:
            break
    raw.send("cancel", body={"target": rid})
    events = raw.until_terminal(rid, timeout=60)
    assert events[-1].type == "cancelled" and events[-1].body["step"] >= 12
    assert not (adapters / "c.safetensors").exists()
    stopped = events[-1].body["step"]
    res = raw.call("train", {**body, "steps": 400}, timeout=300)
    assert res.type == "result" and res.body["resumed_from"] >= stopped


def test_kill_9_during_training_then_resume_gives_the_same_loss_curve(tmp_path: Path,
                                                                     tiny_weights: Path):
    folder = make_folder(tmp_path / "pics")
    adapters = tmp_path / "adapters"
    args = ("--weights-dir", str(tiny_weights), "--backend-option",
            f"builtin.adapters_dir={adapters}", "--progress-interval", "0")
    body = train_body(folder, "k", steps=240, checkpoint_every=40)

    wp = start_worker(tmp_path / "w1", *args)
    raw = Raw(wp.endpoint, wp.token)
    try:
        rid = raw.send("train", body=body)
        first: list = []
        while True:
            ev = raw.recv(120)
            assert ev is not None, wp.log_tail()
            if ev.id != rid:
                continue
            first.append(ev)
            assert not ev.is_terminal, "finished before the kill; " + str(ev.body)
            if ev.type == "progress" and ev.body.get("step", 0) >= 90:
                os.kill(wp.pid, signal.SIGKILL)
                break
        wp.proc.wait(10)
    finally:
        raw.close()
        wp.stop()
    killed = losses_by_step(first)
    assert max(killed) >= 90 and not (adapters / "k.safetensors").exists()

    wp = start_worker(tmp_path / "w2", *args)
    raw = Raw(wp.endpoint, wp.token)
    try:
        resumed_events = raw.until_terminal(raw.send("train", body=body), timeout=600)
        assert resumed_events[-1].type == "result", (resumed_events[-1].body, wp.log_tail())
        resumed = resumed_events[-1].body
        ref_events = raw.until_terminal(raw.send("train", body={**body, "name": "ref"}),
                                        timeout=600)
        reference = ref_events[-1].body
    finally:
        raw.close()
        wp.stop()
    assert resumed["resumed_from"] == 80 and resumed["name"] == "k"
    assert reference["resumed_from"] == 0 and resumed["steps"] == reference["steps"] == 240
    ref_curve = losses_by_step(ref_events)
    after = losses_by_step(resumed_events)
    assert sorted(after) == list(range(81, 241))
    # before the kill and after the resume: the uninterrupted run's curve, step for step
    for curve in (killed, after):
        steps = sorted(curve)
        np.testing.assert_allclose([curve[s] for s in steps], [ref_curve[s] for s in steps],
                                   rtol=1e-5, atol=1e-7)
    from safetensors.torch import load_file

    a, b = load_file(resumed["path"]), load_file(reference["path"])
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k].float().numpy(), b[k].float().numpy(), atol=1e-3)
    assert resumed["metadata"]["loss_curve"] == reference["metadata"]["loss_curve"]


def test_a_killed_worker_leaves_no_half_written_adapter(tmp_path: Path, tiny_weights: Path):
    """The library only ever holds whole files: listing it right after a kill shows
    nothing half-written (temp files are hidden and named .<name>.tmp)."""
    from t2i_core.finetune.library import AdapterLibrary

    lib = AdapterLibrary(tmp_path)
    tmp_path.joinpath(".x.safetensors.tmp").write_bytes(b"half")
    assert lib.names() == []
    time.sleep(0)  # nothing to wait for: the rule is structural
