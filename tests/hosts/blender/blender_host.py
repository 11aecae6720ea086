"""Running Debian's ``blender`` headless for the host tests: a private user config and
scripts folder per run, environment for the worker the add-on starts, a hard timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/host_tools.py: shared with the Krita tests
from host_tools import (  # noqa: E402
    QUIET,
    REPO,
    checkout_python,
    package_plugin,
    tool_or_fail,
)

SCRIPTS = HERE / "scripts"
__all__ = ["QUIET", "REPO", "SCRIPTS", "blender_env", "blender_or_fail", "blender_rgba8",
           "build_addon", "checkout_python", "run_blender", "run_blender_window",
           "xvfb_run_or_fail"]


def blender_or_fail() -> str:
    """The blender executable. Missing: a failure in CI (which installs it), else a skip."""
    return tool_or_fail("blender", "blender python3-zmq")


def xvfb_run_or_fail() -> str:
    return tool_or_fail("xvfb-run", "xvfb xauth")


def build_addon(zip_path: Path) -> Path:
    """``t2i package blender`` (the real command): the add-on zip at ``zip_path``."""
    return package_plugin("blender", zip_path)


def blender_env(home: Path, **extra: str) -> dict[str, str]:
    """A Blender that sees nothing of the user's config, add-ons or shared worker."""
    env = {**os.environ, **QUIET, "BLENDER_USER_CONFIG": str(home / "config"),
           "BLENDER_USER_SCRIPTS": str(home / "scripts"), "T2I_STATE_DIR": str(home / "state"),
           **extra}
    env.pop("PYTHONPATH", None)  # the add-on must work from its zip alone
    return env


def run_blender(args: list[str], env: dict[str, str], log: Path,
                timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [blender_or_fail(), "-b", "--factory-startup", "--python-exit-code", "1", *args]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=log.parent)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"")[-4000:] if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise AssertionError(f"blender ran past {timeout} s: {' '.join(cmd)}\n{out}") from None
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    assert proc.returncode == 0, (f"blender exited {proc.returncode}: {' '.join(cmd)}\n"
                                  f"{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}")
    return proc


def blender_rgba8(path: Path, width: int, height: int) -> np.ndarray:
    """Blender's float pixels (bottom-up) as top-down RGBA8, the worker's layout —
    written independently of the add-on's own conversion code."""
    values = np.frombuffer(path.read_bytes(), np.float32).reshape(height, width, 4)[::-1]
    return np.clip(np.floor(values.astype(np.float64) * 255.0 + 0.5), 0, 255).astype(np.int16)


def run_blender_window(tmp: Path, script: str, report: Path, *flags: str,
                       screen: str = "1280x800") -> tuple[dict, str]:
    """Blender with a window (Xvfb, ``screen`` pixels) running ``SCRIPTS/script`` with the
    config in ``tmp/config.json``; returns the JSON report the script wrote and Blender's
    output."""
    env = blender_env(tmp, T2I_BLENDER_TEST_CONFIG=str(tmp / "config.json"))
    cmd = [xvfb_run_or_fail(), "-a", "-s", f"-screen 0 {screen}x24", "timeout", "300",
           blender_or_fail(), "--factory-startup", *flags, "--python-exit-code", "1",
           "--python", str(SCRIPTS / script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=330, cwd=tmp)
    (tmp / f"{Path(script).stem}.log").write_text(proc.stdout + "\n--- stderr ---\n"
                                                  + proc.stderr)
    assert report.exists(), f"blender exited {proc.returncode} without a report:\n" \
                            f"{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}"
    return json.loads(report.read_text()), proc.stdout + proc.stderr
