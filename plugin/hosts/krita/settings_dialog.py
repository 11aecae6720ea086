"""The worker settings dialog: mode, the worker's Python and arguments, or an address (a
worker, or a studio's cluster gateway with the artist's CURVE key files, docs/cluster.md)."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from plugin.panel.messages import state_text

from .link import WorkerLink
from .settings import MODES, WorkerSettings


class SettingsDialog(QDialog):
    def __init__(self, link: WorkerLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("T2I Studio: worker settings")
        current = link.settings
        form = QFormLayout(self)
        self.status = QLabel(_status(link))
        self.status.setWordWrap(True)
        form.addRow("Status", self.status)
        self.mode = QComboBox()
        for key, label in MODES.items():
            self.mode.addItem(label, key)
        self.mode.setCurrentIndex(max(self.mode.findData(current.mode), 0))
        form.addRow("Worker", self.mode)
        self.python = QLineEdit(current.python)
        self.python.setPlaceholderText("~/t2i-studio/.venv/bin/python")
        self.python.setToolTip("The python of the environment where t2i-studio is installed; "
                               "Krita's own Python cannot run the model")
        form.addRow("Worker Python", _with_browse(self.python, "The worker's Python"))
        self.worker_args = QLineEdit(current.worker_args)
        self.worker_args.setPlaceholderText("e.g. --threads 4 --backend diffusers")
        form.addRow("Worker arguments", self.worker_args)
        self.endpoint = QLineEdit(current.endpoint)
        self.endpoint.setPlaceholderText("tcp://127.0.0.1:5555")
        form.addRow("Address", self.endpoint)
        self.token = QLineEdit(current.token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setToolTip("The session token `t2i worker` printed (T2I_WORKER_TOKEN)")
        form.addRow("Token", self.token)
        self.server_key = QLineEdit(current.server_key)
        self.server_key.setPlaceholderText("server.key (from your studio)")
        self.server_key.setToolTip("A studio gateway: its public key file, server.key")
        form.addRow("Gateway key", _with_browse(self.server_key, "The gateway's server.key"))
        self.client_key = QLineEdit(current.client_key)
        self.client_key.setPlaceholderText("NAME.key_secret (your own key)")
        self.client_key.setToolTip("A studio gateway: your own key pair, the NAME.key_secret "
                                   "file the studio gave you (keep it to yourself)")
        form.addRow("Your key", _with_browse(self.client_key, "Your NAME.key_secret"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self._mode_changed()
        self._keep = current

    def settings(self) -> WorkerSettings:
        return WorkerSettings(mode=str(self.mode.currentData()), python=self.python.text(),
                              worker_args=self.worker_args.text(),
                              endpoint=self.endpoint.text(), token=self.token.text(),
                              connection_file=self._keep.connection_file,
                              server_key=self.server_key.text(),
                              client_key=self.client_key.text())

    def _mode_changed(self) -> None:
        remote = self.mode.currentData() == "endpoint"
        for w in (self.endpoint, self.token, self.server_key, self.client_key):
            w.setEnabled(remote)
        for w in (self.python, self.worker_args):
            w.setEnabled(not remote)



def _with_browse(field: QLineEdit, title: str) -> QWidget:
    """``field`` with a "…" button that picks a file into it."""
    browse = QPushButton("…")

    def pick() -> None:
        path, _ = QFileDialog.getOpenFileName(field, title, field.text())
        if path:
            field.setText(path)

    browse.clicked.connect(pick)
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(field, 1)
    row.addWidget(browse)
    return box


def _status(link: WorkerLink) -> str:
    if link.error:
        return link.error
    if link.client is None:
        return "not connected"
    text, _ = state_text(link.client.state)
    where = link.client.endpoint or "—"
    pid = f", worker process {link.client.proc.pid}" if link.client.proc is not None else ""
    return f"{text} ({where}{pid})"
