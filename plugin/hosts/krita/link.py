"""The one worker connection of a Krita process, shared by the dockers of all its windows.

``WorkerLink`` reads the settings, makes the ``WorkerClient`` and its ``WorkerBridge``, and
remakes them when the settings change (``changed`` tells the dockers to rebuild their
panels). A setting that cannot work leaves no client and an ``error`` that the docker shows
in place of the panel, with the fix. Krita closing ends the client (and a worker it started).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from qtpy.QtCore import QObject, Signal

from plugin.panel import WorkerBridge
from worker.client import WorkerClient
from worker.launch import default_connection_file, read_connection_file

from .settings import SettingsError, WorkerSettings


class WorkerLink(QObject):
    changed = Signal()

    def __init__(self, read: Callable[[str, str, str], str],
                 write: Callable[[str, str, str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._read, self._write = read, write
        self.settings = WorkerSettings.load(read)
        self.client: WorkerClient | None = None
        self.bridge: WorkerBridge | None = None
        self.error = ""
        self._started = False

    def start(self) -> None:
        """Connect (once); the first docker shown calls this, not Krita's startup."""
        if not self._started:
            self._started = True
            self._connect()

    def apply(self, settings: WorkerSettings) -> None:
        """Save new settings and reconnect with them."""
        settings.save(self._write)
        self.settings = settings
        self._started = True
        self.close()
        self._connect()

    def close(self) -> None:
        client, self.client, self.bridge = self.client, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing must never stop Krita closing
                client.close()

    def _connect(self) -> None:
        try:
            kwargs = self.settings.client_kwargs(default_connection_file, read_connection_file)
        except SettingsError as e:
            self.error = str(e)
        else:
            self.error = ""
            self.client = WorkerClient(**kwargs)
            self.bridge = WorkerBridge(self.client, self)
        self.changed.emit()
