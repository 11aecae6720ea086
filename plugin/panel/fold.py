"""Small-screen helpers: a foldable section and a vertical scroll area.

The panel lives in a Krita docker beside Krita's own dockers, in the studio's side dock, on
laptops down to 1280 x 720: it must never force its host window taller than the screen.
What matters (prompt, Generate) stays on top; the rest scrolls, and the advanced settings
start folded.
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class Foldable(QWidget):
    """A title button with an arrow; clicking it shows or hides ``content``."""

    def __init__(self, title: str, content: QWidget, folded: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold }")
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.button)
        lay.addWidget(content)
        self.button.toggled.connect(self.set_folded_inverse)
        self.set_folded(folded)

    @property
    def folded(self) -> bool:
        return not self.content.isVisibleTo(self)

    def set_folded(self, folded: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(not folded)
        self.button.blockSignals(False)
        self.set_folded_inverse(not folded)

    def set_folded_inverse(self, unfolded: bool) -> None:
        self.button.setArrowType(Qt.ArrowType.DownArrow if unfolded
                                 else Qt.ArrowType.RightArrow)
        self.content.setVisible(unfolded)


def scrolling(widget: QWidget, name: str = "") -> QScrollArea:
    """``widget`` in a frameless vertical scroll area that follows its width."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumHeight(1)  # not the scroll bars' hint: the area may shrink to nothing
    if name:
        area.setObjectName(name)
    return area
