"""Subcommands that a higher level owns, found at run time through an entry-point group.

``t2i studio`` belongs to ``plugin/`` (the editor window); the command line sits below it, so it
must not import it. Instead ``pyproject.toml`` names each such command in the ``t2i.commands``
entry-point group, as ``NAME = "module:register"``, where ``register(subparsers)`` adds the
subcommand (argparse only: nothing heavy is imported until the command runs).

An editable install records the group when it is installed; a source checkout run with
``PYTHONPATH`` may sit beside an install made before a command was added, so the checkout's own
``pyproject.toml`` is read as well (the same table, so the two cannot disagree for long).
"""

from __future__ import annotations

import argparse
import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Protocol

GROUP = "t2i.commands"
SOURCE_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class Register(Protocol):
    def __call__(self, subparsers: argparse._SubParsersAction) -> None: ...


def declared_commands(pyproject: Path = SOURCE_PYPROJECT) -> dict[str, str]:
    """``{name: "module:function"}`` from the installed metadata and the source checkout."""
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "t2i-studio":
            found.update(project.get("entry-points", {}).get(GROUP, {}))
    return found


def add_registered_commands(subparsers: argparse._SubParsersAction,
                            pyproject: Path = SOURCE_PYPROJECT) -> None:
    for name, target in sorted(declared_commands(pyproject).items()):
        try:
            register: Register = EntryPoint(name, target, GROUP).load()
        except ImportError:  # an install without that part (e.g. a worker-only environment)
            continue
        before = set(subparsers.choices)
        register(subparsers)
        if name not in set(subparsers.choices) - before:
            raise RuntimeError(f"{target} was registered as `t2i {name}` but added "
                               f"{sorted(set(subparsers.choices) - before)}")
