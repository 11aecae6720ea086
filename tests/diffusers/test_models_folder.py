"""Models as users have them, through a real worker (``python -m worker --backend diffusers``):
old key layouts (A1111/kohya), files added or replaced in place while the worker runs, each
model's own generation defaults, refused files with their reasons, and ``t2i models``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

PROMPT = "a red square"
OLD_CLIP = "cond_stage_model.transformer."


@dataclass
class Folder:
    models: Path
    spare: Path  # a second, different sd1 single file (to replace a file in place)
    worker: object
    env: dict


def _old_layout(src: Path, dest: Path) -> None:
    """The text encoder under the names old checkpoints use (no ``text_model.``)."""
    from safetensors.torch import load_file, save_file

    sd = load_file(str(src))
    renamed = {k.replace(OLD_CLIP + "text_model.", OLD_CLIP): v for k, v in sd.items()}
    assert any(k.startswith(OLD_CLIP + "embeddings.") for k in renamed)
    save_file(renamed, str(dest))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory):
    import tiny_models as tm
    from worker_helpers import start_worker

    root = tmp_path_factory.mktemp("models-folder")
    models, work = root / "models", root / "work"
    models.mkdir()
    tm.save_single_file(tm.build("sd1", work / "tok", seed=0), models / "sd1.safetensors")
    spare = tm.save_single_file(tm.build("sd1", work / "tok", seed=1), work / "spare.safetensors")
    _old_layout(models / "sd1.safetensors", models / "sd1-old-layout.safetensors")
    shutil.copy(models / "sd1.safetensors", models / "swap.safetensors")
    (models / "old.ckpt").write_bytes(b"\x80\x02not really a pickle")  # never opened
    wp = start_worker(root / "worker", "--backend", "diffusers",
                      "--backend-option", f"diffusers.models_dir={models}",
                      "--backend-option", f"diffusers.cache_dir={root / 'cache'}",
                      "--backend-option", "diffusers.device=cpu", "--progress-interval", "0")
    env = {**os.environ, "T2I_WORKER_TOKEN": wp.token, "PYTHONPATH": str(Path.cwd())}
    yield Folder(models, spare, wp, env)
    wp.stop()


@pytest.fixture
def raw(folder: Folder):
    from worker_helpers import Raw

    r = Raw(folder.worker.endpoint, folder.worker.token)
    yield r
    r.close()


def _generate(raw, timeout: float = 300, **body):
    events = raw.until_terminal(raw.send("generate", body={"prompt": PROMPT, "seed": 3,
                                                           **body}), timeout)
    return events


def _image(events) -> np.ndarray:
    res = events[-1]
    assert res.type == "result", res.body
    return res.images[0].to_numpy()


def test_an_old_layout_single_file_is_listed_as_sd1_and_generates_like_the_original(folder,
                                                                                    raw):
    listing = raw.call("list_models", timeout=300)
    by_id = {m["id"]: m for m in listing.body["models"]}
    assert "sd1-old-layout" in by_id and "Stable Diffusion 1.x" in by_id[
        "sd1-old-layout"]["description"]
    small = {"width": 64, "height": 64, "steps": 3}
    original = _image(_generate(raw, model="sd1", **small))
    old = _image(_generate(raw, model="sd1-old-layout", **small))
    # the same weights under other names: the very same picture
    assert np.array_equal(original, old)
    assert old[..., :3].std() > 1  # a picture, not a blank


def test_a_model_without_a_step_count_runs_its_own_defaults(folder, raw):
    listing = raw.call("list_models", timeout=300)
    d = {m["id"]: m for m in listing.body["models"]}["sd1"]["generate_defaults"]
    assert d == {"steps": 25, "guidance": 7.0, "scheduler": "euler", "width": 512,
                 "height": 512}
    events = _generate(raw, model="sd1", width=64, height=64)  # steps, guidance left out
    prov = events[-1].body["provenance"][0]
    assert (prov["steps"], prov["guidance"], prov["scheduler"]) == (25, 7.0, "euler")
    totals = {e.body["total"] for e in events if e.type == "progress"}
    assert totals == {25}
    given = _generate(raw, model="sd1", width=64, height=64, steps=2, guidance=1.5)
    assert (given[-1].body["provenance"][0]["steps"],
            given[-1].body["provenance"][0]["guidance"]) == (2, 1.5)


def test_a_file_added_while_the_worker_runs_is_found(folder, raw):
    shutil.copy(folder.models / "sd1.safetensors", folder.models / "added.partial")
    os.replace(folder.models / "added.partial", folder.models / "added.safetensors")
    # no list_models first: a request naming it is enough
    events = _generate(raw, model="added", width=64, height=64, steps=2)
    assert events[-1].type == "result", events[-1].body
    listing = raw.call("list_models", timeout=300)
    assert "added" in {m["id"] for m in listing.body["models"]}


def test_a_file_replaced_in_place_gets_its_new_hash_in_the_next_provenance(folder, raw):
    path = folder.models / "swap.safetensors"
    first = _generate(raw, model="swap", width=64, height=64, steps=2)
    old_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert first[-1].body["provenance"][0]["model_hash"] == old_hash
    time.sleep(0.01)  # a distinct mtime even on coarse clocks
    shutil.copy(folder.spare, folder.models / "swap.partial")
    os.replace(folder.models / "swap.partial", path)  # what a download manager does
    new_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert new_hash != old_hash
    second = _generate(raw, model="swap", width=64, height=64, steps=2)
    assert second[-1].body["provenance"][0]["model_hash"] == new_hash
    assert "Model hash: " + new_hash[:10] in second[-1].body["parameters"][0]
    # generated from the new weights (the loaded model was dropped), not the old ones
    assert not np.array_equal(_image(first), _image(second))
    listing = raw.call("list_models", timeout=300)
    assert {m["id"]: m["hash"] for m in listing.body["models"]}["swap"] == new_hash


def test_a_refused_file_is_model_refused_and_listed_with_its_reason(folder, raw):
    events = _generate(raw, model="old", width=64, height=64, steps=2)
    err = events[-1]
    assert err.type == "error" and err.body["code"] == "model_refused", err.body
    assert "pickle" in err.body["message"] and "safetensors" in err.body["message"]
    assert not any(e.type == "queued" for e in events)  # refused before queueing
    listing = raw.call("list_models", timeout=300)
    refused = {r["file"]: r for r in listing.body["refused"]}
    assert refused["old.ckpt"]["backend"] == "diffusers"
    assert "pickle" in refused["old.ckpt"]["reason"]
    missing = _generate(raw, model="no-such-model")[-1]
    assert missing.body["code"] == "model_not_found" and "sd1" in missing.body["message"]


def test_t2i_models_prints_what_the_worker_offers_and_refuses(folder):
    out = subprocess.run([sys.executable, "-m", "worker.commands", "models", "--endpoint",
                          folder.worker.endpoint], env=folder.env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "sd1-old-layout" in text and "Stable Diffusion 1.x" in text
    assert "steps 25" in text and "guidance 7.0" in text
    assert "old.ckpt" in text and "pickle" in text
    assert "refused" in text


def test_generate_help_does_not_promise_only_the_builtin_sizes():
    out = subprocess.run([sys.executable, "-m", "worker.commands", "generate", "--help"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert out.returncode == 0, out.stderr
    help_text = " ".join(out.stdout.split())
    assert "32, 64, 128, 256 or 512" not in help_text
    assert "t2i models" in help_text and "model's own" in help_text


def test_an_sdxl_merge_with_the_old_clip_names_loads_like_the_original(tmp_path):
    """SDXL's first text encoder under the same old names (``conditioner.embedders.0.
    transformer.embeddings.*``), loaded in-process: the very same picture."""
    import tiny_models as tm
    from safetensors.torch import load_file, save_file

    from t2i_core.backends.base import GenerateRequest
    from t2i_core.backends.diffusers_backend import DiffusersBackend

    models = tmp_path / "models"
    models.mkdir()
    original = tm.save_single_file(tm.build("sdxl", tmp_path / "tok"), models / "xl.safetensors")
    prefix = "conditioner.embedders.0.transformer."
    sd = load_file(str(original))
    save_file({k.replace(prefix + "text_model.", prefix): v for k, v in sd.items()},
              str(models / "xl-old.safetensors"))
    backend = DiffusersBackend(models_dir=models, cache_dir=tmp_path / "cache", device="cpu")
    assert {m.id: m.description.split(" (")[0] for m in backend.models()} == {
        "xl": "Stable Diffusion XL", "xl-old": "Stable Diffusion XL"}
    images = [backend.generate(GenerateRequest(PROMPT, model=m, width=64, height=64, steps=2,
                                               seed=1)).images[0] for m in ("xl", "xl-old")]
    assert np.array_equal(images[0], images[1])
