"""Does this environment hold exactly what the lock file says? (the dependency-drift guard)

    python scripts/lockcheck.py                 check the running environment against the lock
                                                its setup recorded (scripts/setup.sh writes
                                                <venv>/t2i-lock), or --lock FILE
    python scripts/lockcheck.py --fingerprint   print the fingerprint of pyproject's
                                                dependencies that scripts/lock.sh records

Exit 0 when every locked package is installed at its locked version, 1 otherwise, with one
line per difference and the command that re-syncs. Standard library only, so it runs before
anything else is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "locks"
MARKER = "t2i-lock"  # in the venv's prefix: the profile setup.sh installed
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# Installed beside the lock by design: the installers and the project itself.
NOT_LOCKED = {"pip", "uv", "t2i-studio"}


def normalize(name: str) -> str:
    """PEP 503 name: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def platform_dir() -> str:
    system = {"Linux": "linux", "Windows": "windows", "Darwin": "macos"}.get(platform.system(),
                                                                             "unknown")
    machine = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    return f"{system}-{machine}"


def lock_path(profile: str) -> Path:
    return LOCKS / platform_dir() / f"{profile}.txt"


def read_lock(path: Path) -> dict[str, str]:
    """``{normalized name: exact version}`` of a lock file (hash lines are skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def installed() -> dict[str, str]:
    return {normalize(d.metadata["Name"]): d.version for d in metadata.distributions()
            if d.metadata["Name"]}


def drift(locked: dict[str, str], have: dict[str, str]) -> list[str]:
    """One line per locked package that is missing or at another version."""
    problems = []
    for name, version in sorted(locked.items()):
        if name not in have:
            problems.append(f"{name} is not installed; the lock has {version}")
        elif have[name] != version:
            problems.append(f"{name} {have[name]} is installed; the lock has {version}")
    return problems


def recorded_profile(prefix: Path = Path(sys.prefix)) -> str | None:
    marker = prefix / MARKER
    return marker.read_text().strip() if marker.exists() else None


def fingerprint(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """What the locks depend on: pyproject's requirements and the lock script itself."""
    project = tomllib.loads(pyproject.read_text())["project"]
    inputs = {"requires-python": project.get("requires-python"),
              "dependencies": project.get("dependencies", []),
              "optional-dependencies": project.get("optional-dependencies", {}),
              "lock.sh": (ROOT / "scripts" / "lock.sh").read_text()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, help="a lock file (default: the recorded profile)")
    parser.add_argument("--fingerprint", action="store_true")
    args = parser.parse_args(argv)
    if args.fingerprint:
        print(fingerprint())
        return 0
    profile = recorded_profile()
    path = args.lock or (lock_path(profile) if profile else None)
    if path is None:
        print(f"no lock recorded for {sys.prefix} (it was not made by scripts/setup.sh); "
              "run: bash scripts/setup.sh [runtime|studio|diffusers|test]", file=sys.stderr)
        return 1
    if not path.exists():
        print(f"no lock file {path} for this platform; locked platforms: "
              f"{', '.join(sorted(p.name for p in LOCKS.iterdir() if p.is_dir()))}",
              file=sys.stderr)
        return 1
    problems = drift(read_lock(path), installed())
    if problems:
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"this environment differs from {rel}:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        print(f"re-sync it: bash scripts/setup.sh {path.stem}", file=sys.stderr)
        return 1
    print(f"{sys.prefix} matches {path.name} ({platform_dir()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
