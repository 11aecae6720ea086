"""The layer list: top layer first; the check box is visibility, double-click renames;
buttons move and delete; the opacity box acts on the active layer."""

from __future__ import annotations

from qtpy.QtCore import QSize, Qt
from qtpy.QtGui import QIcon, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from plugin.studio.document import Document

ICON = 40


class LayersPanel(QWidget):
    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setIconSize(QSize(ICON, ICON))
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        self.opacity = QSpinBox()
        self.opacity.setRange(0, 100)
        self.opacity.setSuffix(" %")
        row.addWidget(self.opacity, 1)
        lay.addLayout(row)
        buttons = QHBoxLayout()
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.delete = QPushButton("Delete")
        for b in (self.up, self.down, self.delete):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: palette(mid)")
        lay.addWidget(self.info)

        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_changed)
        self.opacity.valueChanged.connect(
            lambda v: self.doc.set_opacity(self.doc.active, v / 100) if self._has_active()
            else None)
        self.up.clicked.connect(lambda: self._move(+1))
        self.down.clicked.connect(lambda: self._move(-1))
        self.delete.clicked.connect(lambda: self.doc.delete(self.doc.active))
        self.doc = doc
        self.set_document(doc)

    def set_document(self, doc: Document) -> None:
        self.doc = doc
        doc.changed.connect(self.refresh)
        self.refresh()

    def _index(self, row: int) -> int:
        return len(self.doc.layers) - 1 - row  # the list shows the top layer first

    def _has_active(self) -> bool:
        return 0 <= self.doc.active < len(self.doc.layers)

    def refresh(self) -> None:
        self.list.blockSignals(True)
        self.opacity.blockSignals(True)
        self.list.clear()
        for layer in reversed(self.doc.layers):
            item = QListWidgetItem(layer.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable
                          | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible
                               else Qt.CheckState.Unchecked)
            item.setIcon(QIcon(QPixmap.fromImage(layer.image.scaled(
                ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))))
            if layer.provenance:
                p = layer.provenance
                item.setToolTip(f"{p.get('prompt', '')}\nseed {p.get('seed')}, "
                                f"{p.get('steps')} steps, model {p.get('model')}"
                                + ("\nvector layer (SVG)" if layer.svg is not None else ""))
            self.list.addItem(item)
        if self._has_active():
            self.list.setCurrentRow(len(self.doc.layers) - 1 - self.doc.active)
            active = self.doc.layers[self.doc.active]
            self.opacity.setValue(round(active.opacity * 100))
            p = active.provenance
            text = f"Generated: “{p.get('prompt', '')}”, seed {p.get('seed')}" if p else ""
            if active.svg is not None:  # the layer is its SVG drawing (saved as SVG)
                text = f"Vector layer (SVG). {text}".strip()
            self.info.setText(text)
        self.list.blockSignals(False)
        self.opacity.blockSignals(False)
        for w in (self.opacity, self.up, self.down, self.delete):
            w.setEnabled(self._has_active())

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.doc.set_active(self._index(row))

    def _item_changed(self, item: QListWidgetItem) -> None:
        index = self._index(self.list.row(item))
        layer = self.doc.layers[index]
        visible = item.checkState() == Qt.CheckState.Checked
        if visible != layer.visible:
            self.doc.set_visible(index, visible)
        elif item.text() != layer.name:
            self.doc.rename(index, item.text())

    def _move(self, step: int) -> None:
        if self._has_active():
            self.doc.move(self.doc.active, self.doc.active + step)
