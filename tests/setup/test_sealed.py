"""Tests never see the user's worker, history, adapters or settings (issue 14).

A pretend user's HOME gets decoys in the real locations: a real running worker advertised in
``$XDG_RUNTIME_DIR/t2i-studio/worker.json``, a history entry, an adapter, and T2I_* settings
pointing at them. Tests then run inside that environment in a child pytest: they see none of
it, the decoy worker receives no job, and no decoy file changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parents[2]
# Set by tests/conftest.py (not imported from it: several folders have a conftest module).
SEALED_ROOT = Path(os.environ["T2I_TEST_HOME_ROOT"])
SEALED_VARS = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME")
USER_ENV: dict[str, str] = json.loads((SEALED_ROOT / "user_env.json").read_text())


def test_this_session_runs_in_private_folders():
    for var in SEALED_VARS:
        assert Path(os.environ[var]).is_relative_to(SEALED_ROOT), var
    assert Path(os.environ["T2I_ADAPTER_DIR"]).is_relative_to(SEALED_ROOT)
    assert Path(os.environ["HOME"]) != Path(USER_ENV["HOME"])
    # Every T2I_* setting now is the suite's own, none inherited from outside.
    assert all(Path(v).is_relative_to(SEALED_ROOT) for k, v in os.environ.items()
               if k.startswith("T2I_")), {k: v for k, v in os.environ.items()
                                          if k.startswith("T2I_")}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SEALED_VARS
           and not k.startswith("T2I_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_RUNTIME_DIR=str(home / "run"),
               XDG_STATE_HOME=str(home / ".local/state"), PYTHONPATH=str(REPO),
               PROBE_USER_HOME=str(home))
    return env


def test_decoys_in_the_users_places_change_no_result(tmp_path: Path, tiny_weights: Path):
    home = tmp_path / "user"
    env = _user_env(home)
    (home / "run").mkdir(parents=True, mode=0o700)
    adapters = home / ".local/share/t2i-studio/adapters"
    adapters.mkdir(parents=True)
    save_file({"x": np.zeros(1, np.float32)}, str(adapters / "decoy-style.safetensors"),
              metadata={"format": "t2i-studio-lora-1"})
    history = home / ".local/share/t2i-studio/history"
    history.mkdir(parents=True)
    (history / "decoy.json").write_text(json.dumps({"prompt": "decoy"}))
    env.update(T2I_ADAPTER_DIR=str(adapters), T2I_HISTORY_DIR=str(history),
               T2I_WORKER_TOKEN="decoy-token")
    # The user's own worker, advertising itself where `t2i worker` does.
    decoy_log = tmp_path / "decoy-worker.log"
    with open(decoy_log, "wb") as log:
        decoy = subprocess.Popen([sys.executable, "-m", "worker", "--weights-dir",
                                  str(tiny_weights), "--threads", "1"], cwd=REPO, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    advert = home / "run" / "t2i-studio" / "worker.json"
    try:
        deadline = time.monotonic() + 120
        while not advert.exists() and decoy.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert advert.exists(), decoy_log.read_text()[-2000:]
        before = _digest(home / ".local")

        def probe(*extra: str, expect: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
                cwd=REPO, env={**env, "PROBE_EXPECT": expect}, capture_output=True,
                text=True, timeout=600)

        # The control: without the suite's conftest the probe sees every decoy.
        leaky = probe("--noconftest", "tests/setup/sealed_probe.py", expect="leaky")
        assert leaky.returncode == 0, leaky.stdout[-3000:]
        # The suite as CI runs it: the probe, and the test that once joined a user's worker.
        sealed = probe("tests/setup/sealed_probe.py",
                       "tests/hosts/krita/test_krita_parts.py::"
                       "test_docker_shows_the_fix_then_the_panel_on_a_real_worker",
                       expect="sealed")
        assert sealed.returncode == 0, sealed.stdout[-3000:]
        assert "5 passed" in sealed.stdout
        assert decoy.poll() is None, "the user's worker stopped"
        assert _digest(home / ".local") == before, "a decoy file changed"
        assert not any(p.name != "decoy.json" for p in history.rglob("*.json")), \
            "the user's worker ran a job"
    finally:
        decoy.terminate()
        decoy.wait(20)
