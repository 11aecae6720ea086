"""``t2i``'s subcommands that a higher level owns are found through the ``t2i.commands``
entry-point group (worker/commands/registered.py), so the command line imports no plugin."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from worker.commands import build_parser
from worker.commands.registered import GROUP, add_registered_commands, declared_commands

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_the_t2i_script_and_every_registered_command_resolve():
    main = EntryPoint("t2i", PYPROJECT["scripts"]["t2i"], "console_scripts").load()
    assert main.__module__ == "worker.commands" and callable(main)
    assert declared_commands()["studio"] == "plugin.studio.command:register"
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(PYPROJECT["entry-points"][GROUP]) <= set(sub.choices)


def _pyproject(tmp_path: Path, target: str) -> Path:
    f = tmp_path / "pyproject.toml"
    f.write_text(f'[project]\nname = "t2i-studio"\n\n[project.entry-points."{GROUP}"]\n'
                 f'hello = "{target}"\n')
    return f


def register_hello(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("hello").set_defaults(func=lambda args: 0)


def register_wrong_name(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("goodbye")


def test_a_command_declared_in_the_checkout_is_added(tmp_path: Path):
    sub = argparse.ArgumentParser().add_subparsers()
    add_registered_commands(sub, _pyproject(tmp_path, f"{__name__}:register_hello"))
    assert "hello" in sub.choices


def test_a_command_that_registers_another_name_is_an_error(tmp_path: Path):
    sub = argparse.ArgumentParser().add_subparsers()
    with pytest.raises(RuntimeError, match="registered as `t2i hello` but added"):
        add_registered_commands(sub, _pyproject(tmp_path, f"{__name__}:register_wrong_name"))


def test_a_missing_part_leaves_its_command_out(tmp_path: Path):
    sub = argparse.ArgumentParser().add_subparsers()
    add_registered_commands(sub, _pyproject(tmp_path, "no_such_part.command:register"))
    assert "hello" not in sub.choices


def test_the_command_line_never_imports_the_plugin_until_a_plugin_command_runs():
    code = ("import sys; from worker.commands import build_parser; build_parser(); "
            "print(' '.join(sorted(m for m in sys.modules "
            "if m.startswith(('plugin.', 'qtpy', 'PySide6')))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # the studio's registration (argparse) and its arguments, never its window or Qt
    loaded = set(out.stdout.split())
    assert "plugin.studio.command" in loaded
    assert not loaded & {"plugin.studio.window", "qtpy", "PySide6"}, loaded
