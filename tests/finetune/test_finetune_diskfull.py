"""A disk that fills up during a checkpoint, for real: the training process runs with a file
size limit (RLIMIT_FSIZE) smaller than a checkpoint, so the kernel refuses the write (EFBIG)
exactly as a full disk refuses it (ENOSPC). The job must stop with a clean error, keep the
previous checkpoint intact, and resume from it once there is room."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from finetune_helpers import quick
from safetensors import safe_open

from t2i_core.errors import Cancelled
from t2i_core.finetune.job import CHECKPOINT, train

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys
sys.path.insert(0, {helpers!r})
from pathlib import Path
from finetune_helpers import quick
from t2i_core.backends.builtin import BuiltinBackend
from t2i_core.errors import T2IError
from t2i_core.finetune.job import train
backend = BuiltinBackend(Path({weights!r}), adapters_dir=Path({lib!r}))
try:
    train(backend, quick(Path({folder!r})))
    print("finished")
except T2IError as e:
    print("ERROR", e.code, e.message)
"""


def test_full_disk_during_checkpoint(backend, style_folder: Path, tiny_weights: Path):
    flag = threading.Event()
    with pytest.raises(Cancelled):  # a run stopped at step 7 with its checkpoint saved
        train(backend, quick(style_folder), lambda p: p.step == 7 and flag.set(), flag)
    run = backend.adapter_library.root / ".runs" / "teal"
    ckpt = run / CHECKPOINT
    size = ckpt.stat().st_size
    saved = ckpt.read_bytes()

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    code = CHILD.format(helpers=str(Path(__file__).parent), weights=str(tiny_weights),
                        lib=str(backend.adapter_library.root), folder=str(style_folder))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env, preexec_fn=small_disk, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]  # a clean error, not a crash
    assert out.stdout.startswith("ERROR disk_full"), (out.stdout, out.stderr[-2000:])
    assert "step 10" in out.stdout and "intact" in out.stdout
    assert ckpt.read_bytes() == saved  # the previous checkpoint, byte for byte
    with safe_open(str(ckpt), "pt") as f:
        assert f.metadata()["step"] == "7"
    assert sorted(p.name for p in run.iterdir()) == [CHECKPOINT, "run.json"]  # no temp file
    assert backend.loras() == []
    res = train(backend, quick(style_folder))  # room again: resumes from the intact one
    assert res.resumed_from == 7 and res.steps == 12
