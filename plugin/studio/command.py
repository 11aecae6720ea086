"""``t2i studio``, registered by ``plugin/`` in the ``t2i.commands`` entry-point group.

The command line (worker/commands/) sits below the editor, so it finds this at run time instead
of importing it. argparse only here: the window (PySide6, qtpy) is imported when it runs.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from plugin.studio.app import add_studio_arguments

    st = subparsers.add_parser("studio", help="the standalone editor window (needs the gui "
                               "extra)")
    add_studio_arguments(st)
    st.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from plugin.studio.app import run

    return run(args)
