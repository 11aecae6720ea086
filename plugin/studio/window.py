"""The standalone editor's main window; it is also the panel's host adapter.

Canvas in the middle, the panel on the left (tabs: Generate, and Train for fine-tuning an
adapter on a folder of images), the layer list on the right.
File: New, Open/Save OpenRaster, Export PNG (flattened, with the A1111 ``parameters``
chunk of the topmost visible generated layer). Edit: Undo/Redo of layer edits, Deselect.
Problems are reported in words in the status bar and a non-blocking message box; a file
that fails to open leaves the current document untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from qtpy.QtCore import QRect, Qt
from qtpy.QtGui import QGuiApplication, QKeySequence
from qtpy.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from plugin.host import Pixels, Rect
from plugin.panel import GeneratePanel, PlanPanel, TrainPanel, WorkerBridge
from plugin.panel.fold import scrolling
from plugin.qimage import png_bytes, to_pixels, to_qimage
from plugin.studio.canvas import Canvas
from plugin.studio.document import Document, Layer
from plugin.studio.layers import LayersPanel
from plugin.studio.ora import OraError, open_ora, save_ora
from plugin.studio.vector import render_svg
from plugin.svg import sized_svg

TITLE = "t2i studio"


def fitting_size(width: int, height: int) -> tuple[int, int]:
    """The wanted window size, shrunk to the screen's free area (a 1280 x 720 laptop)."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return width, height
    free = screen.availableGeometry()
    return min(width, free.width()), min(height, free.height())


class StudioWindow(QMainWindow):
    def __init__(self, bridge: WorkerBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = Document()
        self.last_notice = ""
        self.canvas = Canvas(self.doc)
        self.setCentralWidget(self.canvas)
        self.layers = LayersPanel(self.doc)
        self.panel = GeneratePanel(bridge, self)
        self.train_panel = TrainPanel(bridge, self)
        self.plan_panel = PlanPanel(bridge, self)  # floor plans as vector layers
        self.tabs = QTabWidget()  # Generate | Train (fine-tune an adapter on a folder) | Plan
        self.tabs.addTab(self.panel, "Generate")
        self.tabs.addTab(scrolling(self.train_panel, "trainScroll"), "Train")
        self.tabs.addTab(scrolling(self.plan_panel, "planScroll"), "Plan")
        self._dock(self.tabs, "Text to image", Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock(self.layers, "Layers", Qt.DockWidgetArea.RightDockWidgetArea)
        self._menus()
        self.doc.changed.connect(self._update_title)
        self._update_title()
        self.resize(*fitting_size(1280, 800))

    # --- HostAdapter -----------------------------------------------------------------------

    def canvas_size(self) -> tuple[int, int]:
        return self.doc.width, self.doc.height

    def insert_layer(self, image: Pixels, name: str, provenance: dict, at: Rect) -> None:
        qimage = to_qimage(image)
        if (at.width, at.height) != (image.width, image.height):
            qimage = qimage.scaled(at.width, at.height, Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.doc.insert(Layer(name, qimage, at.x, at.y, provenance=provenance))

    def insert_vector_layer(self, svg: str, name: str, provenance: dict, at: Rect) -> None:
        drawing = sized_svg(svg, at.width, at.height)  # SvgError: nothing is added
        image = render_svg(drawing, at.width, at.height)
        self.doc.insert(Layer(name, image, at.x, at.y, provenance=provenance, svg=drawing))

    def set_preview_layer(self, image: Pixels, name: str, provenance: dict, at: Rect) -> None:
        qimage = to_qimage(image)  # provenance stays with the panel until a pin
        if (at.width, at.height) != (image.width, image.height):
            qimage = qimage.scaled(at.width, at.height, Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.doc.set_preview(name, qimage, at.x, at.y)

    def remove_preview_layer(self) -> None:
        self.doc.remove_preview()

    def selection(self) -> tuple[Rect, Pixels] | None:
        r = self.canvas.selection
        if r is None:
            return None
        mask = Pixels(r.width(), r.height(), b"\xff" * (r.width() * r.height()), 1)
        return Rect(r.x(), r.y(), r.width(), r.height()), mask

    def source_image(self, region: Rect) -> Pixels | None:
        rect = QRect(region.x, region.y, region.width, region.height)
        if 0 <= self.doc.active < len(self.doc.layers):
            return to_pixels(self.doc.layer_pixels(self.doc.active, rect))
        return to_pixels(self.doc.composite(rect)) if self.doc.layers else None

    def document_data(self, key: str) -> str | None:
        return self.doc.data.get(key)

    def set_document_data(self, key: str, value: str) -> None:
        self.doc.set_data(key, value)

    # --- files -----------------------------------------------------------------------------

    def new_document(self, width: int = 512, height: int = 512) -> None:
        self._set_document(Document(width, height))

    def open_file(self, path: str | Path) -> bool:
        """Open an .ora; on failure the current document stays and the reason is shown."""
        try:
            content = open_ora(path)
        except OraError as e:
            self.notice(str(e), error=True)
            return False
        doc = Document(content.width, content.height, background=False)
        doc.layers = content.layers
        doc.active = len(doc.layers) - 1
        doc.data = content.data
        doc.path = str(path)
        self._set_document(doc)
        if content.warnings:
            self.notice(f"Opened {Path(path).name} with problems: "
                        + "; ".join(content.warnings), error=True)
        else:
            self.notice(f"Opened {Path(path).name}")
        return True

    def save_file(self, path: str | Path) -> bool:
        try:
            save_ora(self.doc, path)
        except OSError as e:
            self.notice(f"Could not save {Path(path).name}: {e.strerror or e}. The file on "
                        "disk was not changed.", error=True)
            return False
        self.doc.path, self.doc.modified = str(path), False
        self._update_title()
        self.notice(f"Saved {Path(path).name}")
        return True

    def export_png(self, path: str | Path) -> bool:
        texts = {}
        generated = [la for la in self.doc.layers
                     if la.visible and la.provenance and not la.preview]
        if generated:
            top = generated[-1].provenance or {}
            if top.get("parameters"):
                texts["parameters"] = str(top["parameters"])
            texts["t2i-layers"] = json.dumps([la.provenance for la in generated])
        try:
            data = png_bytes(self.doc.composite(include_preview=False), texts)
            tmp = Path(str(path) + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as e:
            self.notice(f"Could not export {Path(path).name}: {e}", error=True)
            return False
        self.notice(f"Exported {Path(path).name}")
        return True

    def notice(self, text: str, error: bool = False) -> None:
        self.last_notice = text
        self.statusBar().showMessage(text, 0 if error else 8000)
        if error and self.isVisible():
            box = QMessageBox(QMessageBox.Icon.Warning, TITLE, text, parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # not exec(): never block the event loop

    # --- internals -------------------------------------------------------------------------

    def _set_document(self, doc: Document) -> None:
        self.doc = doc
        self.canvas.set_document(doc)
        self.layers.set_document(doc)
        self.panel.history.reload()
        doc.changed.connect(self._update_title)
        self._update_title()

    def _update_title(self) -> None:
        name = Path(self.doc.path).name if self.doc.path else "Untitled"
        self.setWindowTitle(f"{name}{' *' if self.doc.modified else ''} — {TITLE}")

    def _dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(area, dock)

    def _menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New", QKeySequence.StandardKey.New, self.new_document)
        self._action(file, "&Open…", QKeySequence.StandardKey.Open, self._ask_open)
        self._action(file, "&Save", QKeySequence.StandardKey.Save, self._ask_save)
        self._action(file, "Save &As…", QKeySequence.StandardKey.SaveAs,
                     lambda: self._ask_save(force=True))
        self._action(file, "&Export PNG…", None, self._ask_export)
        self._action(file, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = bar.addMenu("&Edit")
        self._action(edit, "&Undo", QKeySequence.StandardKey.Undo, lambda: self.doc.undo())
        self._action(edit, "&Redo", QKeySequence.StandardKey.Redo, lambda: self.doc.redo())
        self._action(edit, "&Deselect", None, lambda: self.canvas.set_selection(None))

    def _action(self, menu: object, text: str, key: object, slot: object) -> None:
        action = menu.addAction(text)
        if key is not None:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda *_: slot())

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open", "", "OpenRaster (*.ora)")
        if path:
            self.open_file(path)

    def _ask_save(self, force: bool = False) -> None:
        path = self.doc.path
        if force or not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save", path or "untitled.ora",
                                                  "OpenRaster (*.ora)")
        if path:
            self.save_file(path if path.endswith(".ora") else path + ".ora")

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", "image.png", "PNG (*.png)")
        if path:
            self.export_png(path)
