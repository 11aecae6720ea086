"""The standalone editor's document: a stack of raster and vector layers with undo.

Layers are kept bottom to top (index 0 is the bottom); each has its own size and offset, as
in OpenRaster. Pixels are QImage RGBA8888 (straight alpha, the worker's format), so a
generated layer keeps the exact bytes of the result. A vector layer keeps its SVG
(``Layer.svg``) and shows pixels rendered from it at its size (plugin/studio/vector.py).
Insert, delete, move and rename are undoable; visibility and opacity are view settings and
take effect at once. Live mode's preview layer is transient: created, replaced in place and
removed without undo entries, left out of saved files and exports, and never marks the
document modified."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from qtpy.QtCore import QObject, QPoint, QRect, Signal
from qtpy.QtGui import QColor, QImage, QPainter

from plugin.qimage import RGBA

_uids = itertools.count(1)


@dataclass(eq=False)
class Layer:
    name: str
    image: QImage  # RGBA8888
    x: int = 0
    y: int = 0
    visible: bool = True
    opacity: float = 1.0
    provenance: dict | None = None  # set for generated layers
    uid: int = field(default_factory=lambda: next(_uids))
    preview: bool = False  # live mode's transient preview: never saved or exported
    svg: str | None = None  # a vector layer: its drawing (``image`` is rendered from it)

    @property
    def rect(self) -> QRect:
        return QRect(self.x, self.y, self.image.width(), self.image.height())


@dataclass
class _Command:
    text: str
    redo: Callable[[], None]
    undo: Callable[[], None]


class Document(QObject):
    """Emits ``changed`` after every edit (layers, order, names, visibility, active)."""

    changed = Signal()

    def __init__(self, width: int = 512, height: int = 512, background: bool = True) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.layers: list[Layer] = []
        self.active = -1
        self.data: dict[str, str] = {}  # the panel's per-document store (its history)
        self.path: str | None = None
        self.modified = False
        self._undo: list[_Command] = []
        self._redo: list[_Command] = []
        if background:
            white = QImage(width, height, RGBA)
            white.fill(QColor("white"))
            self.layers.append(Layer("Background", white))
            self.active = 0

    # --- undoable edits --------------------------------------------------------------------

    def insert(self, layer: Layer, index: int | None = None) -> None:
        """Add ``layer`` at ``index`` (default: directly above the active layer)."""
        at = self.active + 1 if index is None else index
        at = max(0, min(at, len(self.layers)))
        prev_active = self.active

        def redo() -> None:
            self.layers.insert(at, layer)
            self.active = at

        def undo() -> None:
            self.layers.remove(layer)
            self.active = min(prev_active, len(self.layers) - 1)

        self._push(_Command(f"Insert {layer.name}", redo, undo))

    def delete(self, index: int) -> None:
        if not 0 <= index < len(self.layers):
            return
        layer = self.layers[index]
        if layer.preview:  # transient: an undo must not bring back a second preview layer
            self.remove_preview()
            return

        def redo() -> None:
            self.layers.remove(layer)
            self.active = min(index, len(self.layers) - 1)

        def undo() -> None:
            self.layers.insert(index, layer)
            self.active = index

        self._push(_Command(f"Delete {layer.name}", redo, undo))

    def move(self, index: int, to: int) -> None:
        if not (0 <= index < len(self.layers) and 0 <= to < len(self.layers)) or index == to:
            return
        layer = self.layers[index]

        def place(src: int, dst: int) -> Callable[[], None]:
            def run() -> None:
                self.layers.insert(dst, self.layers.pop(src))
                self.active = self.layers.index(layer)
            return run

        self._push(_Command(f"Move {layer.name}", place(index, to), place(to, index)))

    def rename(self, index: int, name: str) -> None:
        layer = self.layers[index]
        old = layer.name
        if name == old or not name.strip():
            return

        def setter(value: str) -> Callable[[], None]:
            return lambda: setattr(layer, "name", value)

        self._push(_Command(f"Rename {old}", setter(name), setter(old)))

    def undo(self) -> bool:
        if not self._undo:
            return False
        cmd = self._undo.pop()
        cmd.undo()
        self._redo.append(cmd)
        self._touch()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cmd = self._redo.pop()
        cmd.redo()
        self._undo.append(cmd)
        self._touch()
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    # --- view settings (not undoable) ----------------------------------------------------------

    def set_visible(self, index: int, visible: bool) -> None:
        self.layers[index].visible = visible
        self._touch()

    def set_opacity(self, index: int, opacity: float) -> None:
        self.layers[index].opacity = max(0.0, min(1.0, opacity))
        self._touch()

    def set_active(self, index: int) -> None:
        if 0 <= index < len(self.layers) and index != self.active:
            self.active = index
            self.changed.emit()

    def set_data(self, key: str, value: str) -> None:
        self.data[key] = value
        self.modified = True

    # --- live mode's preview layer (transient: no undo entry, not saved) ---------------------

    @property
    def preview(self) -> Layer | None:
        return next((la for la in self.layers if la.preview), None)

    def set_preview(self, name: str, image: QImage, x: int, y: int) -> Layer:
        """Replace the preview layer's pixels in place, or add it on top of the stack (the
        active layer stays active). Undo/redo of user edits are unaffected."""
        layer = self.preview
        if layer is None:
            layer = Layer(name, image, x, y, preview=True)
            self.layers.append(layer)
        else:
            layer.image, layer.x, layer.y = image, x, y
        self.changed.emit()
        return layer

    def remove_preview(self) -> bool:
        layer = self.preview
        if layer is None:
            return False
        active = self.layers[self.active] if 0 <= self.active < len(self.layers) else None
        self.layers.remove(layer)
        self.active = self.layers.index(active) if active in self.layers else \
            min(self.active, len(self.layers) - 1)
        self.changed.emit()
        return True

    # --- pixels ----------------------------------------------------------------------------

    def composite(self, region: QRect | None = None, include_preview: bool = True) -> QImage:
        """The visible layers flattened over transparency (ARGB32, straight alpha); without
        the live preview for files (saved, exported)."""
        region = region or QRect(0, 0, self.width, self.height)
        out = QImage(region.width(), region.height(), QImage.Format.Format_ARGB32_Premultiplied)
        out.fill(0)
        painter = QPainter(out)
        for layer in self.layers:
            if layer.preview and not include_preview:
                continue
            if layer.visible and layer.opacity > 0:
                painter.setOpacity(layer.opacity)
                painter.drawImage(QPoint(layer.x - region.x(), layer.y - region.y()),
                                  layer.image)
        painter.end()
        return out.convertToFormat(QImage.Format.Format_ARGB32)

    def layer_pixels(self, index: int, region: QRect) -> QImage:
        """One layer's pixels over ``region`` (transparent where the layer has none)."""
        layer = self.layers[index]
        out = QImage(region.width(), region.height(), RGBA)
        out.fill(0)
        painter = QPainter(out)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(QPoint(layer.x - region.x(), layer.y - region.y()), layer.image)
        painter.end()
        return out

    def _push(self, cmd: _Command) -> None:
        cmd.redo()
        self._undo.append(cmd)
        self._redo.clear()
        self._touch()

    def _touch(self) -> None:
        self.modified = True
        self.changed.emit()
