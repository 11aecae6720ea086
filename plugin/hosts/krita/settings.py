"""Which worker the docker talks to, and how it is started: the plugin's settings.

Kept in Krita's own settings file (``kritarc``, group ``[t2i_studio]``) through
``Krita.readSetting``/``writeSetting``; here they are plain values so they can be checked
without Krita. Krita's embedded Python cannot run the model, and inside Krita
``sys.executable`` is whatever ``python3`` comes first on PATH, so a worker is only ever
started with the interpreter the user set (the Python of the environment where
t2i-studio is installed).

Modes: ``shared`` — use the worker ``t2i worker`` advertises, else start one with the
configured Python; ``start`` — always start a private worker; ``endpoint`` — connect to a
worker started by hand (``tcp://host:port`` + its session token).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

GROUP = "t2i_studio"
MODES = {"shared": "Use a running worker, or start one",
         "start": "Always start a private worker",
         "endpoint": "Connect to a worker at an address"}
WHERE = "the T2I docker ▸ Worker settings…"
# The client's default (1.5 s) suits a dedicated process. Inside Krita the client's I/O
# thread shares the GIL with Krita's Python UI; a worker we started is still declared lost
# at once when its process exits.
HEARTBEAT_TIMEOUT = 10.0


class SettingsError(ValueError):
    """The settings cannot make a connection; the message says what to set."""


@dataclass(frozen=True)
class WorkerSettings:
    mode: str = "shared"
    python: str = ""
    worker_args: str = ""
    endpoint: str = ""
    token: str = ""
    connection_file: str = ""

    @classmethod
    def load(cls, read: Callable[[str, str, str], str]) -> WorkerSettings:
        """From ``read(group, name, default)`` (``Krita.instance().readSetting``)."""
        return cls(**{f.name: str(read(GROUP, f.name, f.default) or "") for f in fields(cls)})

    def save(self, write: Callable[[str, str, str], None]) -> None:
        for f in fields(self):
            write(GROUP, f.name, getattr(self, f.name))

    def client_kwargs(self, default_connection_file: Callable[[], Path],
                      read_connection_file: Callable[[Path], dict | None]) -> dict[str, Any]:
        """Keyword arguments for ``WorkerClient``; raises ``SettingsError`` with a fix."""
        if self.mode not in MODES:
            raise SettingsError(f"unknown worker mode {self.mode!r}; choose one of "
                                f"{', '.join(MODES)} in {WHERE}")
        try:
            args = shlex.split(self.worker_args)
        except ValueError as e:
            raise SettingsError(f"the worker arguments in {WHERE} cannot be read ({e}); "
                                "quote paths that contain spaces") from None
        common = {"heartbeat_timeout": HEARTBEAT_TIMEOUT}
        if self.mode == "endpoint":
            if not self.endpoint.strip().startswith(("tcp://", "ipc://")):
                raise SettingsError(f"set the worker address in {WHERE}, like "
                                    "tcp://127.0.0.1:5555 (`t2i worker` prints it)")
            return {**common, "endpoint": self.endpoint.strip(), "token": self.token.strip(),
                    "spawn": False}
        conn = Path(os.path.expanduser(self.connection_file)) if self.connection_file \
            else default_connection_file()
        if self.mode == "shared" and read_connection_file(conn):
            return {**common, "connection_file": conn, "spawn": False}
        python = self.checked_python(conn)
        if self.mode == "start":
            conn = Path(os.devnull)  # never pick up a shared worker
        return {**common, "connection_file": conn, "spawn": True, "python": python,
                "worker_args": args}

    def checked_python(self, conn: Path) -> str:
        python = os.path.expanduser(self.python.strip())
        if not python:
            why = (f"No worker is running (none advertised in {conn}) and n" if
                   self.mode == "shared" else "N")
            raise SettingsError(
                f"{why}o Python is set to start one. In {WHERE}, set 'Worker Python' to the "
                "python of the environment where t2i-studio is installed (for example "
                "~/t2i-studio/.venv/bin/python), or start `t2i worker` yourself. Krita's own "
                "Python cannot run the model.")
        if not os.path.isfile(python) or not os.access(python, os.X_OK):
            raise SettingsError(f"The Worker Python '{python}' set in {WHERE} is not an "
                                "executable file: point it at the python of the environment "
                                "where t2i-studio is installed.")
        return python
