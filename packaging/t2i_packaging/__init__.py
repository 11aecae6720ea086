"""Building the editor plugins' zips: ``t2i package <target>`` (blender; krita next).

Kept out of the importable top level on purpose: a package named ``packaging`` would shadow
the PyPI ``packaging`` library. ``worker/commands/__init__.py`` puts this folder's parent on
``sys.path`` only when ``t2i package`` runs.

Shared pieces for every host: ``vendor`` (the worker client, pure-Python distributions,
pyzmq for a target Python) and ``archive`` (reproducible zips).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class PackagingError(Exception):
    """A package cannot be built; the message says why and what to do."""


def _targets() -> dict[str, Callable[[argparse.ArgumentParser], None]]:
    from . import blender, krita

    return {"blender": blender.add_arguments, "krita": krita.add_arguments}


def main(target: str, argv: list[str]) -> int:
    """``t2i package TARGET [options]``; returns the exit code."""
    targets = _targets()
    if target not in targets:
        print(f"t2i package: unknown target {target!r}; choose one of "
              f"{', '.join(sorted(targets))}")
        return 2
    parser = argparse.ArgumentParser(prog=f"t2i package {target}")
    targets[target](parser)
    args = parser.parse_args(argv)
    try:
        out = args.build(args)
    except PackagingError as e:
        print(f"t2i package {target}: {e}")
        return 2
    print(out)
    return 0
