"""The lock files are complete, fresh, inside pyproject's ranges, and installed exactly."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("lockcheck", REPO / "scripts" / "lockcheck.py")
lockcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lockcheck)

PLATFORMS = ("linux-x86_64", "windows-x86_64", "macos-arm64")
PROFILES = {"runtime": [], "studio": ["gui"], "diffusers": ["gui", "diffusers"],
            "cluster": ["gui", "diffusers", "cluster"],
            "test": ["train", "test", "gui", "diffusers", "data", "cluster"]}
LOCK_FILES = [(plat, prof) for plat in PLATFORMS for prof in PROFILES
              if prof not in ("test", "cluster") or plat == "linux-x86_64"]


def test_the_locks_were_made_from_todays_pyproject():
    recorded = (REPO / "locks" / "pyproject.sha256").read_text().strip()
    assert recorded == lockcheck.fingerprint(), (
        "pyproject.toml's dependencies (or scripts/lock.sh) changed since the locks were made: "
        "run `bash scripts/lock.sh` and commit locks/")


@pytest.mark.parametrize(("platform", "profile"), LOCK_FILES)
def test_every_locked_package_has_hashes_and_fits_pyproject(platform: str, profile: str):
    path = REPO / "locks" / platform / f"{profile}.txt"
    text = path.read_text()
    pins = lockcheck.read_lock(path)
    assert len(pins) > 20
    # Each pin is followed by at least one --hash line (pip's --require-hashes needs them).
    blocks = text.split("\n")
    for i, line in enumerate(blocks):
        if lockcheck.PIN.match(line):
            assert blocks[i].endswith("\\") and "--hash=sha256:" in blocks[i + 1], line
    # pyproject's ranges admit exactly what is locked: the honest ranges and the lock agree.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in PROFILES[profile]:
        wanted += project["optional-dependencies"][extra]
    env = {"python_version": "3.11", "sys_platform": {"linux-x86_64": "linux",
           "windows-x86_64": "win32", "macos-arm64": "darwin"}[platform],
           "platform_system": {"linux-x86_64": "Linux", "windows-x86_64": "Windows",
                               "macos-arm64": "Darwin"}[platform], "extra": ""}
    for line in wanted:
        req = Requirement(line)
        if req.name == "t2i-studio" or (req.marker and not req.marker.evaluate(env)):
            continue
        locked = pins.get(lockcheck.normalize(req.name))
        assert locked is not None, f"{req.name} is required by pyproject but not in {path}"
        assert req.specifier.contains(Version(locked), prereleases=True), (
            f"{path.name}: {req.name}=={locked} is outside pyproject's {req.specifier}")


def test_known_breaks_are_excluded_by_the_ranges():
    # transformers 5.24 demands a peft that is not published (issue 14): pyproject says so.
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    transformers = next(Requirement(d) for d in deps if d.startswith("transformers"))
    assert not transformers.specifier.contains("5.24.0")


def test_this_environment_is_exactly_its_lock():
    """The drift guard on the environment the tests run in (CI: `setup.sh test`)."""
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "lockcheck.py")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_drift_is_named_with_the_command_that_resyncs(tmp_path: Path, capsys):
    real = lockcheck.lock_path(lockcheck.recorded_profile() or "test")
    pins = lockcheck.read_lock(real)
    numpy = pins["numpy"]
    lock = tmp_path / "test.txt"
    lock.write_text(real.read_text().replace(f"numpy=={numpy}", "numpy==1.0.0"))
    assert lockcheck.main(["--lock", str(lock)]) == 1
    err = capsys.readouterr().err
    assert f"numpy {numpy} is installed; the lock has 1.0.0" in err
    assert "bash scripts/setup.sh test" in err
    lock.write_text("not-a-real-package-t2i==1.0 \\\n    --hash=sha256:00\n")
    assert lockcheck.main(["--lock", str(lock)]) == 1
    assert "not-a-real-package-t2i is not installed" in capsys.readouterr().err
