"""``t2i generate`` goes through the worker; ``t2i worker`` runs one."""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image
from worker_helpers import QUIET_ENV, REPO


def t2i(*args: str, env: dict[str, str] | None = None, timeout: float = 180):
    return subprocess.run([sys.executable, "-m", "worker.commands", *args], cwd=REPO,
                          env={**os.environ, **QUIET_ENV, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def test_generate_through_a_running_worker(builtin_worker, tmp_path):
    out = tmp_path / "star.png"
    res = t2i("generate", "a star", "-o", str(out), "--size", "32", "--steps", "2", "--seed",
              "5", "--endpoint", builtin_worker.endpoint,
              env={"T2I_WORKER_TOKEN": builtin_worker.token})
    assert res.returncode == 0, res.stderr
    with Image.open(out) as im:
        assert im.size == (32, 32) and "Seed: 5" in im.info["parameters"]
    assert "also kept in" in res.stderr  # the worker's history has it too
    bad = t2i("generate", "a star", "--model", "nope", "--endpoint", builtin_worker.endpoint,
              env={"T2I_WORKER_TOKEN": builtin_worker.token})
    assert bad.returncode == 2 and "model 'nope' not found; installed: builtin" in bad.stderr


def test_generate_starts_its_own_worker(tmp_path, tiny_weights):
    out = tmp_path / "a.png"
    res = t2i("generate", "a cat", "-o", str(out), "--size", "32", "--steps", "2", "--count",
              "2", "--weights-dir", str(tiny_weights),
              env={"T2I_STATE_DIR": str(tmp_path / "state"),
                   "T2I_HISTORY_DIR": str(tmp_path / "history")})
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "a-1.png").exists() and (tmp_path / "a-2.png").exists()
    assert len(list((tmp_path / "history").rglob("*.png"))) == 2


def test_worker_subcommand_is_there():
    res = t2i("worker", "--help")
    assert res.returncode == 0 and "--curve-dir" in res.stdout and "--history-dir" in res.stdout
    res = t2i("generate", "--help")
    assert "--local" in res.stdout and "--endpoint" in res.stdout
