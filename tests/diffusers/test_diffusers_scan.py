"""The models-folder scanner: family detection from weights, hashes and their cache, refusals,
the CLIP tokenizer built from the bundled BPE file, and offline loading of both layouts."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from diffusers_helpers import FAMILIES, Zoo

from t2i_core.backends.diffusers_backend.detect import read_header
from t2i_core.backends.diffusers_backend.hashing import HashCache
from t2i_core.backends.diffusers_backend.scanner import scan
from t2i_core.errors import T2IError


def test_every_family_is_detected_in_both_layouts_with_content_hashes(zoo: Zoo):
    result = scan(zoo.models, HashCache(None))
    found = {e.id: e for e in result.models}
    assert sorted(found) == sorted([f"tiny-{f}" for f in FAMILIES]
                                   + [f"tiny-{f}-file" for f in FAMILIES])
    for fam in FAMILIES:
        folder, single = found[f"tiny-{fam}"], found[f"tiny-{fam}-file"]
        assert (folder.layout, folder.family) == ("folder", fam)
        assert (single.layout, single.family) == ("file", fam)
        # a single file's hash is its SHA-256 (A1111 shows the first 10 digits)
        assert single.hash == hashlib.sha256(single.path.read_bytes()).hexdigest()
    assert len({e.hash for e in result.models}) == len(result.models)
    assert found["tiny-sd2-file"].detected.prediction_type == "v_prediction"
    assert "old-model.ckpt" in result.refused


def test_rescan_uses_the_hash_cache_and_notices_changes(zoo: Zoo, tmp_path: Path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(zoo.models / "tiny-sd1-file.safetensors", models / "a.safetensors")
    shutil.copytree(zoo.models / "tiny-sd1", models / "b")
    cache_file = tmp_path / "cache" / "hashes.json"
    first = HashCache(cache_file)
    before = {e.id: e.hash for e in scan(models, first).models}
    assert first.computed > 3  # the file + every file of the folder
    again = HashCache(cache_file)  # a new process: reads the cache file
    assert {e.id: e.hash for e in scan(models, again).models} == before
    assert again.computed == 0
    cfg = models / "b" / "scheduler" / "scheduler_config.json"
    cfg.write_text(cfg.read_text().replace("1000", "1000 "))
    changed = HashCache(cache_file)
    after = {e.id: e.hash for e in scan(models, changed).models}
    assert changed.computed == 1 and after["a"] == before["a"] and after["b"] != before["b"]


def test_pickles_loras_and_damaged_files_are_refused_with_what_to_do(zoo: Zoo, tmp_path: Path):
    models = tmp_path / "m"
    (models / "pickled" / "unet").mkdir(parents=True)
    (models / "pickled" / "model_index.json").write_text('{"_class_name": "X"}')
    (models / "pickled" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x02")
    (models / "old.ckpt").write_bytes(b"\x80\x02")
    shutil.copy(zoo.models / "loras" / "squares.safetensors", models / "misplaced.safetensors")
    data = (zoo.models / "tiny-sd1-file.safetensors").read_bytes()
    (models / "cut.safetensors").write_bytes(data[:1000])
    result = scan(models, HashCache(None))
    assert result.models == []
    assert "pickle" in result.refused["old.ckpt"]
    assert "weights_only=True" in result.refused["old.ckpt"]
    assert "old.safetensors" in result.refused["old.ckpt"]
    assert "pickle" in result.refused["pickled"]
    assert "LoRA adapter" in result.refused["misplaced.safetensors"]
    assert "download it again" in result.refused["cut.safetensors"]
    assert (models / "old.ckpt").read_bytes() == b"\x80\x02"  # nothing was touched


def test_variants_from_names_and_a1111_sidecars(zoo: Zoo, tmp_path: Path):
    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(zoo.models / "tiny-sdxl-file.safetensors", models / "my-sdxl-turbo.safetensors")
    shutil.copy(zoo.models / "tiny-sd2-file.safetensors", models / "sd2-base.safetensors")
    (models / "sd2-base.yaml").write_text("model:\n  params:\n    parameterization: eps\n")
    found = {e.id: e for e in scan(models, HashCache(None)).models}
    assert found["my-sdxl-turbo"].detected.variant == "turbo"
    assert found["sd2-base"].detected.prediction_type == "epsilon"


def test_architecture_comes_from_the_weights_not_the_name(zoo: Zoo, tmp_path: Path):
    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(zoo.models / "tiny-sd2-file.safetensors", models / "sd15-really.safetensors")
    shutil.copy(zoo.models / "tiny-sd3-file.safetensors", models / "xl.safetensors")
    found = {e.id: e.family for e in scan(models, HashCache(None)).models}
    assert found == {"sd15-really": "sd2", "xl": "sd3"}
    h = read_header(models / "xl.safetensors")
    assert any(k.startswith("model.diffusion_model.joint_blocks.") for k in h.shapes)


def test_missing_models_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(T2IError) as e:
        scan(tmp_path / "nope", HashCache(None))
    assert e.value.code == "models_dir_missing" and "create it" in e.value.message


def test_clip_tokenizer_from_the_bundled_bpe_matches_open_clip(tmp_path: Path):
    from transformers import CLIPTokenizer

    from t2i_core.backends.diffusers_backend.clip_tokenizer import write_clip_tokenizer

    tok = CLIPTokenizer.from_pretrained(str(write_clip_tokenizer(tmp_path / "tok")),
                                        local_files_only=True)
    assert len(tok) == 49408 and tok.model_max_length == 77
    text = "A photo of a Cat, running! naïve café 2024 <3"
    ids = tok(text).input_ids
    open_clip = pytest.importorskip("open_clip")
    expected = open_clip.tokenize([text])[0]
    expected = expected[: int((expected != 0).sum())].tolist()
    assert ids == expected


def test_offline_loading_gives_identical_pipelines_for_file_and_folder(zoo: Zoo):
    """The single file is loaded through a config folder written from its own weights; with
    HF_HUB_OFFLINE=1 set, the folder and the file must give the same image."""
    import torch

    from t2i_core.backends.diffusers_backend.loader import load_pipeline

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    entries = {e.id: e for e in scan(zoo.models, HashCache(None)).models}
    images = {}
    for model_id in ("tiny-sdxl", "tiny-sdxl-file"):
        e = entries[model_id]
        pipe, _ = load_pipeline(e, "StableDiffusionXLPipeline", torch.float32,
                                zoo.cache / "configs-direct", None)
        pipe.set_progress_bar_config(disable=True)
        images[e.layout] = pipe("a cat", num_inference_steps=2, width=64, height=64,
                                generator=torch.Generator().manual_seed(3),
                                output_type="np").images[0]
    np.testing.assert_allclose(images["file"], images["folder"], atol=1e-5)
