"""What the Blender and Krita host tests share: the quiet environment for the worker a host
starts, a system tool that is a failure in CI and a skip elsewhere, the plugin zip built by
the real ``t2i package`` command, this checkout's Python for the worker a host starts, and
the screenshots some tests may copy into docs/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUIET = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
         "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
         "TOKENIZERS_PARALLELISM": "false"}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def refresh_doc_picture(shot: Path, name: str) -> bool:
    """Copy a host test's screenshot to docs/<name> only when asked (T2I_UPDATE_DOCS=1):
    a test run must leave the checkout as it found it."""
    if os.environ.get("T2I_UPDATE_DOCS", "") in ("", "0") or not shot.exists():
        return False
    shutil.copyfile(shot, REPO / "docs" / name)
    return True


def tool_or_fail(name: str, install: str) -> str:
    """An executable; missing: a failure in CI (which installs it), else a skip."""
    exe = shutil.which(name)
    if exe is None:
        why = f"{name} is not installed (apt-get install --no-install-recommends {install})"
        if in_ci():
            pytest.fail(f"{why}; .ci/run installs it, so in CI this is a failure")
        pytest.skip(why)
    return exe


def run_package(target: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``t2i package TARGET -o OUT`` (the real command), whatever its outcome."""
    return subprocess.run([sys.executable, "-m", "worker.commands", "package", target, "-o",
                           str(out), *extra], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def package_plugin(target: str, out: Path, *extra: str) -> Path:
    """The plugin zip for ``target`` (blender, krita) at ``out``; a failed build fails."""
    proc = run_package(target, out, *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def checkout_python(tmp: Path) -> str:
    """This checkout's interpreter with this checkout first on its path, for the worker the
    host starts: the host's environment is cleaned of PYTHONPATH, and an editable install
    may point at another checkout (where the tested code is not)."""
    exe = tmp / "python-checkout"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" "$@"\n')
    exe.chmod(0o755)
    return str(exe)
