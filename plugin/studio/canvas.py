"""The canvas: the flattened document, fitted to the view, with a rectangle selection.

Drag with the left button to select a rectangle (the inpaint mask); a click without a drag
clears it. The composite is cached and rebuilt only when the document changes.
"""

from __future__ import annotations

from qtpy.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from qtpy.QtWidgets import QSizePolicy, QWidget

from plugin.studio.document import Document

MARGIN = 16


class Canvas(QWidget):
    selection_changed = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.selection: QRect | None = None  # document coordinates
        self._drag_from: QPoint | None = None
        self._cache: QImage | None = None
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self._checker = _checkerboard()
        self.set_document(doc)

    def set_document(self, doc: Document) -> None:
        self.doc = doc
        self.selection = None
        doc.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self._cache = None
        self.update()

    def set_selection(self, rect: QRect | None) -> None:
        bounds = QRect(0, 0, self.doc.width, self.doc.height)
        rect = rect.normalized().intersected(bounds) if rect is not None else None
        self.selection = rect if rect is not None and not rect.isEmpty() else None
        self.selection_changed.emit()
        self.update()

    # --- geometry --------------------------------------------------------------------------

    def _scale(self) -> float:
        w = max(1, self.width() - 2 * MARGIN)
        h = max(1, self.height() - 2 * MARGIN)
        return min(w / max(1, self.doc.width), h / max(1, self.doc.height))

    def _origin(self) -> QPointF:
        s = self._scale()
        return QPointF((self.width() - self.doc.width * s) / 2,
                       (self.height() - self.doc.height * s) / 2)

    def to_document(self, p: QPointF) -> QPoint:
        s, o = self._scale(), self._origin()
        return QPoint(int((p.x() - o.x()) / s), int((p.y() - o.y()) / s))

    def _view_rect(self, r: QRect) -> QRectF:
        s, o = self._scale(), self._origin()
        return QRectF(o.x() + r.x() * s, o.y() + r.y() * s, r.width() * s, r.height() * s)

    # --- painting and mouse ----------------------------------------------------------------

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        if self._cache is None:
            self._cache = self.doc.composite()
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#3c3f41"))
        target = self._view_rect(QRect(0, 0, self.doc.width, self.doc.height))
        p.fillRect(target, QBrush(self._checker))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self._cache)
        if self.selection is not None:
            pen = QPen(QColor("#ffffff"), 1, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.fillRect(self._view_rect(self.selection), QColor(80, 160, 255, 50))
            p.drawRect(self._view_rect(self.selection))
        p.end()

    def mousePressEvent(self, event: object) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = self.to_document(_pos(event))

    def mouseMoveEvent(self, event: object) -> None:  # noqa: N802
        if self._drag_from is not None:
            self.selection = QRect(self._drag_from, self.to_document(_pos(event))).normalized()
            self.update()

    def mouseReleaseEvent(self, event: object) -> None:  # noqa: N802
        if self._drag_from is None:
            return
        end = self.to_document(_pos(event))
        start, self._drag_from = self._drag_from, None
        if (end - start).manhattanLength() < 3:
            self.set_selection(None)
        else:
            self.set_selection(QRect(start, end))


def _pos(event: object) -> QPointF:
    # Qt 6 has position(); Qt 5 only pos().
    return event.position() if hasattr(event, "position") else QPointF(event.pos())


def _checkerboard() -> QPixmap:
    pix = QPixmap(16, 16)
    pix.fill(QColor("#cccccc"))
    p = QPainter(pix)
    p.fillRect(0, 0, 8, 8, QColor("#ffffff"))
    p.fillRect(8, 8, 8, 8, QColor("#ffffff"))
    p.end()
    return pix
