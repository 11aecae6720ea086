"""The strip of results of the last generation: thumbnails that insert as layers on click."""

from __future__ import annotations

from dataclasses import dataclass

from qtpy.QtCore import QSize, Qt, Signal
from qtpy.QtGui import QIcon, QImage, QPixmap
from qtpy.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

THUMB = 72


@dataclass
class ResultImage:
    image: QImage  # RGBA8888, owned
    provenance: dict  # the worker's provenance + "parameters" (the A1111 text)
    mode: str  # txt2img / img2img / inpaint
    region: tuple[int, int, int, int] | None  # where img2img/inpaint results belong
    svg: str | None = None  # a vector result's drawing (the image is rendered from it)


class ResultStrip(QListWidget):
    """Emits ``chosen(ResultImage)`` when a thumbnail is clicked."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setFixedHeight(THUMB + 28)
        self.setToolTip("Click a result to add it as a new layer")
        self.results: list[ResultImage] = []
        self.itemClicked.connect(lambda item: self.chosen.emit(self.results[self.row(item)]))

    def show_results(self, results: list[ResultImage]) -> None:
        self.clear()
        self.results = list(results)
        for r in self.results:
            pix = QPixmap.fromImage(r.image.scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
            item = QListWidgetItem(QIcon(pix), f"seed {r.provenance.get('seed', '?')}")
            self.addItem(item)
