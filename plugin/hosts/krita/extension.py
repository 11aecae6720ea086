"""Krita's side of the plugin: the docker factory, a settings action, shutdown.

The only module that imports ``krita`` (Krita 5 with PyQt5 and Krita 6 with PyQt6 offer the
same ``DockWidget``/``Extension`` API; Qt itself goes through qtpy everywhere). The worker
connection (and with it pyzmq) loads when the first docker is made: a zip built for another
Python then shows what to rebuild in the docker instead of failing to load in silence.
"""

from __future__ import annotations

from qtpy.QtWidgets import QLabel

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita

from .adapter import KritaHost
from .vendor_path import missing_library_text

DOCKER_ID = "t2i_studio_docker"
SETTINGS_ACTION = "t2i_studio_settings"
DOCKERS: list[T2IDocker] = []  # one per main window (scripts and tests find them here)
_LINK = []  # the one WorkerLink of this Krita process, made on first use


def shared_link():
    """The process's ``WorkerLink`` (raises ImportError when pyzmq cannot load)."""
    if not _LINK:
        from .link import WorkerLink

        app = Krita.instance()
        _LINK.append(WorkerLink(app.readSetting, app.writeSetting))
        app.notifier().applicationClosing.connect(_LINK[0].close)
    return _LINK[0]


class T2IDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("T2I Studio")
        self.content = None
        try:
            from .docker_content import DockerContent

            link = shared_link()
        except ImportError as e:
            label = QLabel(missing_library_text(e))
            label.setWordWrap(True)
            self.setWidget(label)
        else:
            link.start()
            self.content = DockerContent(link, KritaHost(Krita.instance()))
            self.setWidget(self.content)
        DOCKERS.append(self)

    @property
    def panel(self):  # the GeneratePanel, or None while no worker can be reached
        return self.content.panel if self.content is not None else None

    def canvasChanged(self, canvas) -> None:  # noqa: N802 (Krita's name)
        if self.content is not None:
            self.content.document_changed()


class T2IExtension(Extension):
    """Tools ▸ Scripts ▸ T2I Studio worker settings… (also a button in the docker)."""

    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:  # noqa: N802 (Krita's name)
        action = window.createAction(SETTINGS_ACTION, "T2I Studio worker settings…",
                                     "tools/scripts")
        action.triggered.connect(self._open_settings)

    def _open_settings(self) -> None:
        docker = next((d for d in reversed(DOCKERS) if d.content is not None), None)
        if docker is not None:
            docker.show()
            docker.content.open_settings()


def register() -> None:
    app = Krita.instance()
    app.addExtension(T2IExtension(app))
    # Krita 6 (PyQt6) has only the scoped enum name; Krita 5's bindings may lack it
    scoped = getattr(DockWidgetFactoryBase, "DockPosition", None)
    position = scoped.DockRight if hasattr(scoped, "DockRight") \
        else DockWidgetFactoryBase.DockRight
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, position, T2IDocker))
