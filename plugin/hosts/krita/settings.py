"""Which worker the docker talks to, and how it is started: the plugin's settings.

Kept in Krita's own settings file (``kritarc``, group ``[t2i_studio]``) through
``Krita.readSetting``/``writeSetting``. The values and their checks are the worker client's
``ConnectionSettings`` (shared with the Blender add-on); this module only adds where Krita
keeps them and how its user reaches them. Inside Krita ``sys.executable`` is whatever
``python3`` comes first on PATH, so a worker is only ever started with the interpreter the
user set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from worker.launch import CONNECTION_MODES as MODES
from worker.launch import ConnectionSettings, SettingsError

GROUP = "t2i_studio"
WHERE = "the T2I docker ▸ Worker settings…"

__all__ = ["GROUP", "MODES", "SettingsError", "WorkerSettings"]


class WorkerSettings(ConnectionSettings):
    @classmethod
    def load(cls, read: Callable[[str, str, str], str]) -> WorkerSettings:
        """From ``read(group, name, default)`` (``Krita.instance().readSetting``)."""
        return cls(**{f.name: str(read(GROUP, f.name, f.default) or "") for f in fields(cls)})

    def save(self, write: Callable[[str, str, str], None]) -> None:
        for f in fields(self):
            write(GROUP, f.name, getattr(self, f.name))

    def client_kwargs(self, find_default: Callable[[], Path],  # type: ignore[override]
                      read: Callable[[Path], dict | None]) -> dict[str, Any]:
        """Keyword arguments for ``WorkerClient``; raises ``SettingsError`` with a fix."""
        return super().client_kwargs("Krita", WHERE, find_default, read)
