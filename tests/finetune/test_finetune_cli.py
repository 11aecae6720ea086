"""``t2i train`` from the command line: in-process (--local) and through a worker it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from finetune_helpers import make_folder

from t2i_core.finetune.dataset import hash_tree

REPO = Path(__file__).resolve().parents[2]


def t2i(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "worker.commands", *args], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=600)


def test_train_local_with_progress_and_samples(tmp_path: Path, tiny_weights: Path):
    folder = make_folder(tmp_path / "pics")
    before = hash_tree(folder)
    out = t2i("train", "--local", "--folder", str(folder), "--name", "cli", "--steps", "6",
              "--batch", "2", "--weights-dir", str(tiny_weights), "--adapters-dir",
              str(tmp_path / "lib"), "--sample", "a circle", "--samples-dir",
              str(tmp_path / "previews"), "--trigger", "teal style")
    assert out.returncode == 0, out.stderr[-3000:]
    assert str(tmp_path / "lib" / "cli.safetensors") in out.stdout
    assert "training" in out.stderr and "6/6" in out.stderr  # the tqdm bar
    assert "skipped notes.md: not a PNG" in out.stderr
    assert list((tmp_path / "previews").glob("*a-circle.png"))
    assert hash_tree(folder) == before


def test_train_through_a_worker_the_command_starts(tmp_path: Path, tiny_weights: Path):
    folder = make_folder(tmp_path / "pics")
    env = {"T2I_ADAPTER_DIR": str(tmp_path / "lib"), "T2I_STATE_DIR": str(tmp_path / "state")}
    out = t2i("train", "--folder", str(folder), "--name", "w", "--steps", "4", "--batch", "2",
              "--weights-dir", str(tiny_weights), env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "lib" / "w.safetensors").exists()
    again = t2i("train", "--folder", str(folder), "--name", "w", "--steps", "4", "--batch",
                "2", "--seed", "1", "--weights-dir", str(tiny_weights), env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "exists already; this one is 'w-2'" in again.stderr


def test_bad_folder_is_a_clean_error(tmp_path: Path, tiny_weights: Path):
    out = t2i("train", "--local", "--folder", str(tmp_path / "nope"), "--name", "x",
              "--weights-dir", str(tiny_weights), "--adapters-dir", str(tmp_path / "lib"))
    assert out.returncode == 2
    assert "error: the folder" in out.stderr and "does not exist" in out.stderr
    assert "Traceback" not in out.stderr
    bad = t2i("train", "--local", "--folder", str(tmp_path), "--name", "../up",
              "--weights-dir", str(tiny_weights), "--adapters-dir", str(tmp_path / "lib"))
    assert bad.returncode == 2 and "not allowed" in bad.stderr


def test_layers_none_through_a_worker_trains_the_renderer_and_no_lora(
        tmp_path: Path, tiny_weights: Path):
    """--layers and --render-steps cross the wire (TrainParams) to the core's request."""
    from safetensors import safe_open

    folder = make_folder(tmp_path / "pics")
    env = {"T2I_ADAPTER_DIR": str(tmp_path / "lib"), "T2I_STATE_DIR": str(tmp_path / "state")}
    out = t2i("train", "--folder", str(folder), "--name", "r", "--steps", "4", "--batch", "2",
              "--layers", "none", "--weights-dir", str(tiny_weights), env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    with safe_open(str(tmp_path / "lib" / "r.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("look.render.") for k in keys)
    assert not any("lora" in k for k in keys), keys
    bad = t2i("train", "--folder", str(folder), "--name", "r", "--render-steps", "-1",
              "--weights-dir", str(tiny_weights), env=env)
    assert bad.returncode != 0 and "render_steps" in bad.stderr
