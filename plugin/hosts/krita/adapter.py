"""The panel's ``HostAdapter`` for Krita: the active document through Krita's scripting API.

Every call looks the active document up again: the user switches views between calls.
Results become paint layers (vector layers for SVG results) directly above the active layer
(the user picks the position by selecting a layer first); their provenance goes into the
document's annotations (``provenance.py``), which the .kra keeps.

Krita's API has two limits that shape this code: layer pixels cross it in the layer's
colour space (BGRA for RGBA/U8), and a layer added from a script is not on the undo stack
(Krita 5.1's ``Node.addChildNode`` runs its command without recording it). Live mode's
preview layer is one node kept on top whose pixels are overwritten in place.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from qtpy.QtCore import QByteArray, Qt, QTimer

from plugin.host import Pixels, Rect
from plugin.qimage import to_pixels, to_qimage
from plugin.svg import placed_svg

from .pixels import clip_rect, swap_red_blue
from .provenance import PROVENANCE_TYPE, annotation_type, description, with_layer

RGBA8 = ("RGBA", "U8")
SRGB = "sRGB-elle-V2-srgbtrc.icc"  # Krita's default sRGB profile
BATCH_S = 1.0  # inserts this close together are one batch (a plan's layers), stacked in order


class KritaHost:
    """``HostAdapter`` over ``Krita.instance()`` (passed in: this module never imports
    ``krita``, so it loads in tests and in Krita 5 and 6 alike)."""

    def __init__(self, krita: Any) -> None:
        self.krita = krita
        # live mode's preview layer: (its document, its uuid, the rect it covers); the
        # uuid is looked up again on every update because the user may delete the layer
        self._preview: tuple[Any, str, Rect] | None = None
        # The last layer inserted: (document, node, uuid of the layer active before it, when).
        # Krita applies setActiveNode later (in its event loop), so layers inserted one after
        # another in one go (a plan's six layers) would all land above the same old layer,
        # in reverse order; an insert within a moment of the last one goes above it instead.
        self._inserted: tuple[Any, Any, str, float] | None = None

    def document(self) -> Any:
        return self.krita.activeDocument()

    # --- HostAdapter ----------------------------------------------------------------------

    def canvas_size(self) -> tuple[int, int]:
        doc = self.document()
        return (doc.width(), doc.height()) if doc is not None else (0, 0)

    def insert_layer(self, image: Pixels, name: str, provenance: dict, at: Rect) -> None:
        doc = self.document()
        if doc is None:  # nothing open: the result becomes a new document of its size
            doc = self._new_document(at.x + at.width, at.y + at.height)
        if (image.width, image.height) != (at.width, at.height):
            image = to_pixels(to_qimage(image).scaled(
                at.width, at.height, Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        node = doc.createNode(name, "paintlayer")
        before = doc.activeNode()
        parent, above = self._insert_point(doc)
        parent.addChildNode(node, above)
        self._remember(doc, node, before)
        if (node.colorModel(), node.colorDepth()) != RGBA8:
            node.setColorSpace("RGBA", "U8", SRGB)  # a layer may differ from its image
        node.setPixelData(QByteArray(swap_red_blue(image.data)), at.x, at.y, image.width,
                          image.height)
        uuid = node.uniqueId().toString()
        doc.setAnnotation(PROVENANCE_TYPE, description(PROVENANCE_TYPE), QByteArray(
            with_layer(_bytes(doc.annotation(PROVENANCE_TYPE)), uuid, name, provenance)))
        doc.setActiveNode(node)
        doc.setModified(True)
        doc.refreshProjection()

    def insert_vector_layer(self, svg: str, name: str, provenance: dict, at: Rect) -> None:
        """A Krita vector layer holding the drawing as editable shapes
        (``VectorLayer.addShapesFromSvg``), above the active layer. Krita reads SVG user
        units as points and places points at the document's resolution, so the drawing is
        scaled by 72 / dpi to land on ``at`` in pixels."""
        doc = self.document()
        if doc is None:
            doc = self._new_document(at.x + at.width, at.y + at.height)
        k = 72.0 / (doc.resolution() or 72.0)
        placed = placed_svg(svg, at.x * k, at.y * k, at.width * k, at.height * k,
                            doc.width() * k, doc.height() * k)  # SvgError: nothing added
        node = doc.createVectorLayer(name)
        before = doc.activeNode()
        parent, above = self._insert_point(doc)
        parent.addChildNode(node, above)
        self._remember(doc, node, before)
        node.addShapesFromSvg(placed)
        uuid = node.uniqueId().toString()
        doc.setAnnotation(PROVENANCE_TYPE, description(PROVENANCE_TYPE), QByteArray(
            with_layer(_bytes(doc.annotation(PROVENANCE_TYPE)), uuid, name, provenance)))
        doc.setActiveNode(node)
        doc.setModified(True)
        doc.refreshProjection()

    def set_preview_layer(self, image: Pixels, name: str, provenance: dict, at: Rect) -> None:
        """One paint layer on top of the stack, its pixels replaced in place with
        ``setPixelData`` (which, like ``addChildNode``, records no undo step in Krita 5.1).
        Not made active, no provenance annotation (a pin inserts a regular layer)."""
        doc = self.document()
        if doc is None:
            doc = self._new_document(at.x + at.width, at.y + at.height)
        if self._preview is not None and not _same_document(self._preview[0], doc):
            self.remove_preview_layer()  # live follows the active document: one preview
        if (image.width, image.height) != (at.width, at.height):
            image = to_pixels(to_qimage(image).scaled(
                at.width, at.height, Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        node = self._preview_node(doc)
        if node is None:
            active = doc.activeNode()
            node = doc.createNode(name, "paintlayer")
            root = doc.rootNode()
            children = root.childNodes()
            root.addChildNode(node, children[-1] if children else None)
            if (node.colorModel(), node.colorDepth()) != RGBA8:
                node.setColorSpace("RGBA", "U8", SRGB)
            if active is not None:
                # Krita's view activates an added layer from a queued signal: give the
                # user's layer back once that has run (a zero timer comes after it)
                QTimer.singleShot(0, lambda: _reactivate(doc, active))
        else:
            old = self._preview[2] if self._preview else at
            if old != at:  # clear what the last preview covered outside the new one
                node.setPixelData(QByteArray(bytes(old.width * old.height * 4)), old.x, old.y,
                                  old.width, old.height)
        node.setPixelData(QByteArray(swap_red_blue(image.data)), at.x, at.y, image.width,
                          image.height)
        self._preview = (doc, node.uniqueId().toString(), at)
        doc.refreshProjection()

    def remove_preview_layer(self) -> None:
        if self._preview is None:
            return
        doc = self._preview[0]
        try:
            node = self._preview_node(doc)
            if node is not None:
                node.remove()
                doc.refreshProjection()
        except RuntimeError:  # the document was closed: its layers went with it
            pass
        self._preview = None

    def _preview_node(self, doc: Any) -> Any:
        """The preview layer in ``doc``, or None (another document, or the user deleted it)."""
        if self._preview is None:
            return None
        uuid = self._preview[1]
        for node in doc.rootNode().childNodes():
            if node.uniqueId().toString() == uuid:
                return node
        return None

    def selection(self) -> tuple[Rect, Pixels] | None:
        doc = self.document()
        sel = doc.selection() if doc is not None else None
        if sel is None or sel.width() <= 0 or sel.height() <= 0:
            return None
        box = clip_rect(sel.x(), sel.y(), sel.width(), sel.height(), doc.width(), doc.height())
        if box is None:
            return None
        x, y, w, h = box
        mask = _bytes(sel.pixelData(x, y, w, h))
        if not any(mask):
            return None
        return Rect(x, y, w, h), Pixels(w, h, mask, 1)

    def source_image(self, region: Rect) -> Pixels | None:
        doc = self.document()
        if doc is None:
            return None
        doc.waitForDone()  # layer projections update in Krita's threads: read settled pixels
        node = doc.activeNode()
        x, y, w, h = region.x, region.y, region.width, region.height
        if node is not None and "mask" not in node.type() \
                and (node.colorModel(), node.colorDepth()) == RGBA8:
            # the layer as it looks on its own (group, vector and filter layers included)
            data = node.projectionPixelData(x, y, w, h)
            return Pixels(w, h, swap_red_blue(_bytes(data)))
        # no usable layer (a mask, another colour space): the visible canvas in sRGB
        image = doc.projection(x, y, w, h)
        if image is None or image.isNull():
            return None
        return to_pixels(image)

    def document_data(self, key: str) -> str | None:
        doc = self.document()
        if doc is None:
            return None
        raw = _bytes(doc.annotation(annotation_type(key)))
        return raw.decode("utf-8", "replace") if raw else None

    def set_document_data(self, key: str, value: str) -> None:
        doc = self.document()
        if doc is None:
            return
        type_ = annotation_type(key)
        doc.setAnnotation(type_, description(type_), QByteArray(value.encode("utf-8")))

    # --- helpers ----------------------------------------------------------------------------

    def _new_document(self, width: int, height: int) -> Any:
        doc = self.krita.createDocument(max(width, 1), max(height, 1), "Generated", "RGBA",
                                        "U8", "", 72.0)
        window = self.krita.activeWindow()
        if window is not None:
            window.addView(doc)
        return doc

    def _insert_point(self, doc: Any) -> tuple[Any, Any]:
        """(parent, the node the new layer goes above): above the active layer; above the
        layer that owns an active mask; on top when nothing is active."""
        node = doc.activeNode()
        last, self._inserted = self._inserted, None
        if (last is not None and time.monotonic() - last[3] < BATCH_S and last[0] == doc
                and node is not None):  # (libkis compares documents with ==)
            with contextlib.suppress(RuntimeError):  # the inserted layer may be gone
                if node.uniqueId().toString() == last[2] and last[1].parentNode() is not None:
                    return last[1].parentNode(), last[1]
        return self._above(doc, node)

    def _remember(self, doc: Any, node: Any, before: Any) -> None:
        self._inserted = (doc, node, before.uniqueId().toString() if before is not None
                          else "", time.monotonic())

    @staticmethod
    def _above(doc: Any, node: Any) -> tuple[Any, Any]:
        root = doc.rootNode()
        while node is not None and "mask" in node.type():
            node = node.parentNode()
        if node is None or node.parentNode() is None:
            children = root.childNodes()
            return root, (children[-1] if children else None)
        return node.parentNode(), node


def _same_document(a: Any, b: Any) -> bool:
    """Krita hands out a new wrapper per call: compare the documents' root nodes."""
    try:
        return a.rootNode().uniqueId() == b.rootNode().uniqueId()
    except (RuntimeError, AttributeError):  # a closed document is no longer the active one
        return False


def _reactivate(doc: Any, node: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the document or the layer is gone meanwhile
        doc.setActiveNode(node)


def _bytes(data: Any) -> bytes:
    """QByteArray (PyQt5/PyQt6) or bytes -> bytes."""
    return bytes(data) if data is not None else b""
