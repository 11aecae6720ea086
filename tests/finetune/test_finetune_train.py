"""Training an adapter on the tiny model, and using it at once (in-process)."""

from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from finetune_helpers import quick
from safetensors import safe_open

from t2i_core.backends.base import GenerateRequest, LoraRef
from t2i_core.errors import Cancelled, T2IError
from t2i_core.finetune.dataset import hash_tree
from t2i_core.finetune.job import CHECKPOINT, train
from t2i_core.finetune.library import read_metadata


def test_training_writes_an_adapter_with_metadata_and_never_touches_the_folder(
        backend, style_folder: Path):
    before = hash_tree(style_folder)
    events = []
    res = train(backend, quick(style_folder, trigger="teal style", sample_prompts=["a circle"],
                               sample_every=5), events.append)
    assert hash_tree(style_folder) == before  # every file, byte for byte
    assert res.name == "teal" and res.steps == 12 and res.resumed_from == 0
    assert res.images == 7 and {s["file"] for s in res.skipped} >= {"notes.md", "empty.png"}
    assert len(res.losses) == 12 and all(np.isfinite(res.losses))
    meta = read_metadata(Path(res.path))
    assert meta["format"] == "t2i-studio-lora-1"
    assert meta["base_model"] == "builtin" and meta["base_hash"] == backend.model.hash
    assert (meta["rank"], meta["alpha"], meta["steps"], meta["dataset_size"]) == (8, 8.0, 12, 7)
    assert meta["trigger"] == "teal style" and meta["captions"]["from_txt"] == 1
    with safe_open(res.path, "pt") as f:
        keys = set(f.keys())
    # the style path only (adaLN + text map); the folder's images are not in the file
    assert {"denoiser.blocks.0.ada.lora_A.weight", "denoiser.text_mlp.0.lora_B.weight"} <= keys
    assert not any(k.startswith("memory.") or ".qkv." in k for k in keys)
    assert meta["retrieval_style"] in ("emoji", "color", "icon")
    phases = [e.phase for e in events]
    assert phases[0] == "loading" and "training" in phases and phases[-1] == "sampling"
    trained = [e for e in events if e.phase == "training"]
    assert [e.step for e in trained] == list(range(1, 13))
    assert all(e.loss is not None for e in trained) and trained[-1].eta_s == 0
    samples = [e for e in events if e.samples]
    assert samples and samples[0].samples[0][0] == "a circle"
    assert samples[0].samples[0][1].shape == (64, 64, 4)
    assert not (backend.adapter_library.root / ".runs" / "teal").exists()  # cleaned up


def test_adapter_is_listed_and_used_at_once_with_weights_and_several_together(
        backend, style_folder: Path):
    assert backend.loras() == []
    a = train(backend, quick(style_folder, name="a"))
    assert backend.loras() == ["a"]
    b = train(backend, quick(style_folder, name="b", seed=1, learning_rate=5e-3))
    assert backend.loras() == ["a", "b"]
    base = GenerateRequest(prompt="a circle", seed=3, width=32, height=32, steps=4)

    def gen(*loras: LoraRef) -> np.ndarray:
        req = GenerateRequest(**{**base.__dict__, "loras": list(loras)})
        res = backend.generate(req)
        assert res.provenance[0].loras == list(loras)
        return res.images[0].astype(int)

    plain = gen()
    assert np.array_equal(gen(LoraRef("a", 0.0)), plain)  # weight 0 = the base model
    with_a = gen(LoraRef("a", 1.0))
    assert not np.array_equal(with_a, plain)
    assert not np.array_equal(gen(LoraRef("a", 0.5)), with_a)
    both = gen(LoraRef("a", 1.0), LoraRef(b.name, 0.7))
    assert not np.array_equal(both, with_a)
    assert np.array_equal(gen(LoraRef("a", 1.0)), with_a)  # cached merge, same result
    assert a.path != b.path


def test_unknown_and_damaged_adapters_are_clean_errors(backend, style_folder: Path):
    req = GenerateRequest(prompt="a circle", width=32, height=32, steps=2,
                          loras=[LoraRef("nope", 1.0)])
    with pytest.raises(T2IError) as e:
        backend.generate(req)
    assert e.value.code == "lora_not_found" and "installed: none" in e.value.message
    backend.adapter_library.root.mkdir(parents=True, exist_ok=True)
    (backend.adapter_library.root / "bad.safetensors").write_bytes(b"garbage")
    req.loras = [LoraRef("bad", 1.0)]
    with pytest.raises(T2IError) as e:
        backend.generate(req)
    assert e.value.code == "lora_corrupt"
    req.loras = [LoraRef("../bad", 1.0)]
    with pytest.raises(T2IError) as e:
        backend.generate(req)
    assert e.value.code == "bad_name"


def test_existing_name_gets_a_new_version(backend, style_folder: Path):
    first = train(backend, quick(style_folder, name="ink"))
    data = Path(first.path).read_bytes()
    second = train(backend, quick(style_folder, name="ink", seed=5))
    assert (second.name, second.requested_name) == ("ink-2", "ink")
    assert Path(first.path).read_bytes() == data  # untouched
    assert backend.loras() == ["ink", "ink-2"]


def test_bad_requests_name_the_problem(backend, style_folder: Path, tmp_path: Path):
    cases = [(quick(style_folder, name="../x"), "bad_name"),
             (quick(tmp_path / "missing"), "folder_not_found"),
             (quick(style_folder, steps=0), "bad_steps"),
             (quick(style_folder, learning_rate=float("nan")), "bad_learning_rate"),
             (quick(style_folder, sample_prompts=[""]), "bad_sample_prompts")]
    (tmp_path / "empty").mkdir()
    cases.append((quick(tmp_path / "empty"), "folder_empty"))
    for request, code in cases:
        with pytest.raises(T2IError) as e:
            train(backend, request)
        assert e.value.code == code, (request, e.value.message)
    assert not any((tmp_path / "adapters").glob("*.safetensors"))


@pytest.mark.parametrize("augment", [False, True])
def test_training_with_and_without_augmentation(backend, style_folder: Path, augment: bool):
    res = train(backend, quick(style_folder, augment_images=augment, augment_text=augment))
    assert res.steps == 12 and np.isfinite(res.loss)


def test_cancel_keeps_a_checkpoint_and_the_same_request_resumes(backend, style_folder: Path):
    flag = threading.Event()

    def progress(p):
        if p.step == 7:
            flag.set()

    with pytest.raises(Cancelled):
        train(backend, quick(style_folder), progress, flag)
    run = backend.adapter_library.root / ".runs" / "teal"
    assert (run / CHECKPOINT).exists() and backend.loras() == []
    res = train(backend, quick(style_folder))
    assert res.resumed_from == 7 and res.steps == 12 and res.name == "teal"
    reference = train(backend, quick(style_folder, name="ref"))
    np.testing.assert_allclose(res.losses, reference.losses, rtol=1e-5, atol=1e-7)


def test_a_different_request_does_not_resume_someone_elses_run(backend, style_folder: Path):
    flag = threading.Event()
    with pytest.raises(Cancelled):
        train(backend, quick(style_folder), lambda p: p.step == 3 and flag.set(), flag)
    res = train(backend, quick(style_folder, steps=10))  # other settings: a fresh run
    assert res.resumed_from == 0 and res.name == "teal-2"


def test_disk_full_during_a_checkpoint_is_a_clean_error_and_keeps_the_previous_one(
        backend, style_folder: Path, monkeypatch):
    """In-process variant with ENOSPC (the real-OS variant is in test_finetune_resume.py)."""
    import t2i_core.checkpoint as ckpt_mod

    real = ckpt_mod.save_file
    calls = {"n": 0}

    def filling_disk(tensors, path, metadata=None):
        calls["n"] += 1
        if calls["n"] == 1:
            return real(tensors, path, metadata=metadata)
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod, "save_file", filling_disk)
    with pytest.raises(T2IError) as e:
        train(backend, quick(style_folder))
    assert e.value.code == "disk_full" and "intact" in e.value.message
    run = backend.adapter_library.root / ".runs" / "teal"
    with safe_open(str(run / CHECKPOINT), "pt") as f:
        assert f.metadata()["step"] == "5"
    assert not list(run.glob("*.tmp"))
    monkeypatch.setattr(ckpt_mod, "save_file", real)
    res = train(backend, quick(style_folder))
    assert res.resumed_from == 5 and res.steps == 12


def test_run_file_records_the_request(backend, style_folder: Path):
    flag = threading.Event()
    with pytest.raises(Cancelled):
        train(backend, quick(style_folder, trigger="t"), lambda p: p.step == 2 and flag.set(),
              flag)
    info = json.loads((backend.adapter_library.root / ".runs" / "teal" / "run.json")
                      .read_text())
    assert info["request"]["trigger"] == "t" and info["settings"]["steps"] == 12
