"""What the T2I docker shows: the shared panel (tabs Generate and Train) on the shared
worker link, or, when the settings cannot reach a worker, what to fix and the button that
opens the settings.

Plain Qt (through qtpy): the Krita ``DockWidget`` subclass in ``extension.py`` only wraps
this widget, so it can be built and tested outside Krita.
"""

from __future__ import annotations

from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from plugin.host import HostAdapter
from plugin.panel import GeneratePanel, TrainPanel
from plugin.panel.fold import scrolling

from .link import WorkerLink
from .settings_dialog import SettingsDialog


class DockerContent(QWidget):
    def __init__(self, link: WorkerLink, host: HostAdapter, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("t2iDockerContent")
        self.link, self.host = link, host
        self.panel: GeneratePanel | None = None
        self.train_panel: TrainPanel | None = None
        self.tabs: QTabWidget | None = None  # Generate | Train
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.problem = QLabel()
        self.problem.setObjectName("t2iSettingsProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828")
        lay.addWidget(self.problem)
        self.body = QVBoxLayout()
        lay.addLayout(self.body, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.settings_button = QPushButton("Worker settings…")
        self.settings_button.setToolTip("Which image generator (worker) this docker uses, and "
                                        "the Python that starts it")
        self.settings_button.clicked.connect(self.open_settings)
        row.addWidget(self.settings_button)
        lay.addLayout(row)
        link.changed.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        """A panel on the link's current bridge (after a settings change, a new one)."""
        if self.tabs is not None:
            self.body.removeWidget(self.tabs)
            self.tabs.deleteLater()
            self.tabs = self.panel = self.train_panel = None
        self.problem.setText(self.link.error)
        self.problem.setVisible(bool(self.link.error))
        if self.link.bridge is not None:
            self.panel = GeneratePanel(self.link.bridge, self.host)
            self.panel.setObjectName("t2iPanel")
            self.train_panel = TrainPanel(self.link.bridge, self.host)
            self.train_panel.setObjectName("t2iTrainPanel")
            self.tabs = QTabWidget()
            self.tabs.setObjectName("t2iTabs")
            self.tabs.addTab(self.panel, "Generate")
            # the Generate panel scrolls below its prompt; the Train form scrolls whole
            self.tabs.addTab(scrolling(self.train_panel, "trainScroll"), "Train")
            self.body.addWidget(self.tabs)

    def document_changed(self) -> None:
        """Another document became active: show its history."""
        if self.panel is not None:
            self.panel.history.reload()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.link, self)
        if dialog.exec():
            self.link.apply(dialog.settings())
