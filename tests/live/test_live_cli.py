"""`t2i live train` as a user runs it: a real subprocess, resumable, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}


def t2i(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "worker.commands", "live", "train", *args],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)


def test_live_train_command_runs_and_resumes(tiny_weights: Path, tmp_path: Path):
    common = ["--builtin", str(tiny_weights / "builtin.safetensors"), "--run",
              str(tmp_path / "run"), "--out", str(tmp_path / "live.safetensors"), "--batch",
              "8", "--no-progress"]
    first = t2i(*common, "--steps", "2")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout.strip().splitlines()[-1])["step"] == 2
    assert (tmp_path / "live.safetensors").is_file()
    second = t2i(*common, "--steps", "3")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1])["step"] == 3  # resumed, not redone


def test_missing_builtin_weights_is_a_clear_error(tmp_path: Path):
    out = t2i("--builtin", str(tmp_path / "nope.safetensors"), "--run", str(tmp_path / "r"),
              "--out", str(tmp_path / "live.safetensors"), "--steps", "1")
    assert out.returncode == 2
    assert "built-in weights not found" in out.stderr and "nope.safetensors" in out.stderr
    assert not (tmp_path / "live.safetensors").exists()
