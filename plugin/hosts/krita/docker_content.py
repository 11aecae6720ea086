"""What the T2I docker shows: the shared panel (tabs Generate and Train) on the shared
worker link, or, when the settings cannot reach a worker, what to fix and the button that
opens the settings.

Plain Qt (through qtpy): the Krita ``DockWidget`` subclass in ``extension.py`` only wraps
this widget, so it can be built and tested outside Krita.
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from plugin.host import HostAdapter
from plugin.panel import GeneratePanel, PlanPanel, TrainPanel
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
        self.plan_panel: PlanPanel | None = None
        self.tabs: QTabWidget | None = None  # Generate | Train | Plan
        self._live_document: str | None = None  # the document Live last followed
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.problem = QLabel()
        self.problem.setObjectName("t2iSettingsProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828")
        lay.addWidget(self.problem)
        self.body = QVBoxLayout()
        lay.addLayout(self.body, 1)
        self.settings_row = QWidget()  # shown while there is no panel; else a tab corner
        row = QHBoxLayout(self.settings_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        self.settings_button = QPushButton("Worker settings…")
        self.settings_button.setToolTip("Which image generator (worker) this docker uses, and "
                                        "the Python that starts it")
        self.settings_button.clicked.connect(self.open_settings)
        row.addWidget(self.settings_button)
        lay.addWidget(self.settings_row)
        link.changed.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        """A panel on the link's current bridge (after a settings change, a new one)."""
        if self.tabs is not None:
            self.body.removeWidget(self.tabs)
            self.tabs.deleteLater()
            self.tabs = self.panel = self.train_panel = self.plan_panel = None
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
            self.plan_panel = PlanPanel(self.link.bridge, self.host)
            self.plan_panel.setObjectName("t2iPlanPanel")
            self.tabs.addTab(scrolling(self.plan_panel, "planScroll"), "Plan")
            corner = QToolButton()  # the settings, in the tab bar's free corner
            corner.setText("Settings…")
            corner.setObjectName("t2iSettingsCorner")
            corner.setToolTip(self.settings_button.toolTip())
            corner.setAutoRaise(True)
            corner.clicked.connect(self.open_settings)
            self.tabs.setCornerWidget(corner)
            self.body.addWidget(self.tabs)
        self.settings_row.setVisible(self.tabs is None)

    def document_changed(self) -> None:
        """Another document became active: show its history; Live follows it."""
        if self.panel is not None:
            self.panel.history.reload()
            key = self._document_key()
            if key != self._live_document:  # a canvas change within one document is not
                self._live_document = key   # a move
                self.panel.live.document_changed()

    def _document_key(self) -> str | None:
        doc = self.host.document() if hasattr(self.host, "document") else None
        try:
            return doc.rootNode().uniqueId().toString() if doc is not None else None
        except (RuntimeError, AttributeError):
            return None

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.link, self)
        if dialog.exec():
            self.link.apply(dialog.settings())
