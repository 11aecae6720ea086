"""The panel's Upscale row: enlarge the active layer into a new layer, sharply.

The drawing on the active layer (inside the selection, if there is one) is cropped to what is
drawn (its non-transparent pixels), sent to the worker's ``upscale`` request and comes back
``scale`` times larger as a new layer, centred where the drawing was, so a small icon becomes
a large one in place. The source layer is never modified.

The worker says which method ran: the learned icon upscaler, or plain resampling when its
weights are missing; the row says so plainly in the second case.
"""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from plugin.host import HostAdapter, Pixels, Rect
from plugin.panel.bridge import WorkerBridge
from plugin.panel.messages import error_text
from worker.protocol import MAX_SIDE, Image, Message
from worker.replies import Failure, Upscaler, UpscaleResult

SCALES = (2, 4, 8, 16)


def drawn_box(px: Pixels) -> Rect | None:
    """The bounding box of the non-transparent pixels of an RGBA image (None: all empty).
    Pure Python over byte strings (no numpy inside the editor): C-speed slicing per row."""
    w, h = px.width, px.height
    alpha = px.data[3::4]
    rows = [y for y in range(h) if alpha[y * w:(y + 1) * w].strip(b"\0")]
    if not rows:
        return None
    left, right = w, 0
    for y in rows:
        row = alpha[y * w:(y + 1) * w]
        left = min(left, len(row) - len(row.lstrip(b"\0")))
        right = max(right, len(row.rstrip(b"\0")))
    return Rect(left, rows[0], right - left, rows[-1] + 1 - rows[0])


def crop(px: Pixels, box: Rect) -> Pixels:
    stride = px.width * 4
    data = b"".join(px.data[y * stride + box.x * 4:y * stride + (box.x + box.width) * 4]
                    for y in range(box.y, box.y + box.height))
    return Pixels(box.width, box.height, data)


class UpscaleBar(QWidget):
    """Scale choice + Upscale button + a status line; one upscale at a time."""

    said = Signal(str)  # every status text, for tests and a host's own status bar

    def __init__(self, bridge: WorkerBridge, host: HostAdapter,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.host = bridge, host
        self.job: tuple[str, Rect, int, str] | None = None  # id, where, scale, layer name
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.button = QPushButton("Upscale")
        self.button.setObjectName("upscaleButton")
        self.button.setToolTip("Enlarge the active layer (or the selection) into a new, "
                               "sharp layer")
        self.scale = QComboBox()
        for s in SCALES:
            self.scale.addItem(f"{s}×", s)
        self.scale.setCurrentIndex(SCALES.index(4))
        # builtin (icons) + the user's own diffusers upscalers, from the worker's hello
        self.model = QComboBox()
        self.model.setObjectName("upscaleModel")
        # until the worker's hello says which kind it is
        self.model.addItem("Built-in (icons)", Upscaler("builtin", "", list(SCALES)))
        row.addWidget(self.button, 2)
        row.addWidget(self.scale, 1)
        row.addWidget(self.model, 2)
        lay.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("upscaleStatus")
        self.status.setVisible(False)
        lay.addWidget(self.status)
        self.button.clicked.connect(self.upscale)
        self.model.currentIndexChanged.connect(self._on_model)
        bridge.event.connect(self._on_event)
        bridge.capabilities.connect(lambda hello: self.set_upscalers(hello.upscalers))

    def set_upscalers(self, upscalers: list[Upscaler]) -> None:
        """The worker's ``upscalers`` (hello): the built-in one first, then the user's
        diffusers upscalers by folder name. Says plainly when only resampling is there."""
        self.model.blockSignals(True)
        self.model.clear()
        builtin = next((u for u in upscalers if u.id == "builtin"),
                       Upscaler("builtin", "learned", list(SCALES)))
        self.model.addItem("Built-in (icons)", builtin)
        for u in upscalers:
            if u.kind == "diffusers":
                self.model.addItem(f"{u.id} ({u.pipeline or 'diffusers'})", u)
        self.model.blockSignals(False)
        self._on_model()
        if builtin.kind == "resampling" and self.model.count() == 1:
            self._say("Only resampling is available: the built-in upscaler's weights are "
                      "missing and the models folder has no upscaler model.", error=True)

    def _on_model(self) -> None:
        entry = self.model.currentData()
        scales = [s for s in SCALES if s in ((entry.scales if entry else None) or SCALES)]
        current = self.scale.currentData()
        self.scale.clear()
        for s in scales:
            self.scale.addItem(f"{s}×", s)
        self.scale.setCurrentIndex(scales.index(current) if current in scales
                                   else len(scales) - 1 if 4 not in scales
                                   else scales.index(4))

    def upscale(self) -> None:
        if self.job is not None:
            return
        scale = int(self.scale.currentData())
        cw, ch = self.host.canvas_size()
        if not cw or not ch:
            return self._say("Open or create a document first: Upscale enlarges its active "
                             "layer.", error=True)
        selection = self.host.selection()
        region = selection[0] if selection else Rect(0, 0, cw, ch)
        source = self.host.source_image(region)
        box = drawn_box(source) if source is not None else None
        if source is None or box is None:
            return self._say("The active layer is empty here: select a layer with a "
                             "drawing to upscale.", error=True)
        if max(box.width, box.height) * scale > MAX_SIDE:
            return self._say(f"The drawing is {box.width}×{box.height} px: at {scale}× it "
                             f"would be over {MAX_SIDE} px. Choose a smaller scale or select "
                             "a smaller area.", error=True)
        image = crop(source, box)
        # centred on the drawing, scale times larger (the host keeps what leaves the canvas)
        cx, cy = region.x + box.x + box.width / 2, region.y + box.y + box.height / 2
        w, h = box.width * scale, box.height * scale
        at = Rect(round(cx - w / 2), round(cy - h / 2), w, h)
        entry = self.model.currentData()
        model = entry.id if entry else "builtin"
        rid = self.bridge.upscale(Image((image.height, image.width, 4), image.data, "image"),
                                  scale, model)
        self.job = (rid, at, scale, f"upscaled {scale}×")
        self.button.setEnabled(False)
        self._say(f"Upscaling {box.width}×{box.height} px to {w}×{h} px…")

    def _on_event(self, ev: Message) -> None:
        if self.job is None or ev.id != self.job[0] or not ev.is_terminal:
            return
        _, at, scale, name = self.job
        self.job = None
        self.button.setEnabled(True)
        reply = ev.reply
        if isinstance(reply, Failure):
            return self._say(error_text(reply.code, reply.message), error=True)
        if not isinstance(reply, UpscaleResult) or reply.image is None:
            return self._say("The upscale was cancelled.")
        im, method = reply.image, reply.method
        prov = {"upscale": {"scale": scale, "method": method, "model": reply.model}}
        self.host.insert_layer(Pixels(im.width, im.height, bytes(im.data)), name, prov, at)
        if method == "learned":
            self._say(f"Added a {im.width}×{im.height} px layer (learned upscaler).")
        elif method == "diffusers":
            self._say(f"Added a {im.width}×{im.height} px layer ({reply.model}).")
        else:
            self._say(f"Added a {im.width}×{im.height} px layer, but only resampling was "
                      f"available: {reply.notice}", error=True)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c62828" if error else "color: palette(text)")
        self.status.setVisible(bool(text))
        self.said.emit(text)
