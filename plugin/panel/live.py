"""Live mode: as the user types, one-step previews (model ``live``) replace a preview layer.

Each edit of the prompt, the negative prompt, the seed or the size restarts a short debounce
timer; when it fires, the controller sends one ``generate`` with model ``live`` and cancels
the request before it, so the last request wins and the worker never works through a
backlog. Events of any other request id (a stale one answering late) are ignored. A result
replaces the single preview layer in place (``HostAdapter.set_preview_layer``: no new layer
per keystroke, not on the undo stack). Pin turns the current preview into a regular layer
with its provenance, inserted the way a Generate result is; the next update starts a fresh
preview layer. Turning Live off removes the preview layer, never a pinned or a user layer.
"""

from __future__ import annotations

from qtpy.QtCore import QObject, QTimer, Signal
from qtpy.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QWidget

from plugin.host import HostAdapter, Pixels, Rect
from plugin.panel.bridge import WorkerBridge
from plugin.panel.form import ParamsForm
from plugin.panel.messages import error_text
from plugin.qimage import to_qimage
from worker.protocol import GenerateParams, Message
from worker.replies import Failure, GenerateResult, ModelEntry

LIVE_MODEL = "live"
PREVIEW_NAME = "Live preview"
# 50 ms: a burst of keys closer together than that (auto-repeat at ~30/s, a paste, an input
# method committing several characters) becomes one request, while a person typing (rarely
# under ~80 ms between keys) gets a preview after every key. It is a third of the 150 ms
# keystroke-to-preview budget; a live request itself takes ~40 ms, and the request a new
# one replaces is cancelled, so a shorter wait would add worker work, not speed.
DEBOUNCE_MS = 50
UNAVAILABLE_TIP = ("This image generator does not offer the live model ('live'). Its "
                   "weights are missing: reinstall t2i-studio, or make them with "
                   "`t2i live train`, then restart the image generator.")
READY_TIP = ("Live: a quick one-step preview layer follows what you type. Pin keeps the "
             "current preview as a layer.")


class LiveBar(QWidget):
    """The Live toggle, the Pin button and a one-line state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.toggle = QCheckBox("Live")
        self.toggle.setObjectName("liveToggle")
        self.pin_button = QPushButton("Pin")
        self.pin_button.setObjectName("livePin")
        self.pin_button.setToolTip("Keep the current live preview as a regular layer")
        self.pin_button.setEnabled(False)
        self.state = QLabel()
        self.state.setObjectName("liveState")
        lay.addWidget(self.toggle)
        lay.addWidget(self.pin_button)
        lay.addWidget(self.state, 1)


class LiveController(QObject):
    """Drives live mode for one panel. ``updated(provenance)`` after each preview lands."""

    updated = Signal(object)
    failed = Signal(str)  # a sentence for the panel's message line
    pinned = Signal(object, object)  # (QImage, provenance): for the panel's history

    def __init__(self, bridge: WorkerBridge, host: HostAdapter, form: ParamsForm,
                 bar: LiveBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.host, self.form, self.bar = bridge, host, form, bar
        self.available = False
        self.sizes: list[int] = []
        self.vector = False  # the live model can return SVG drawings
        # what each update asks for: one step of `live` (a benchmark compares the same
        # pipeline on the multi-step `builtin` model by changing these)
        self.model, self.steps, self.guidance = LIVE_MODEL, 1, 0.0
        self.current_id: str | None = None  # the one request whose result may land
        self.sent: list[GenerateParams] = []  # every request sent (tests, benchmarks)
        self.cancelled_ids: list[str] = []  # stale requests cancelled when a newer one went
        self.ignored_events = 0  # events of stale ids that arrived late and were dropped
        self.last: tuple[Pixels, dict, Rect] | None = None  # the preview shown now
        self.last_svg: str | None = None  # its drawing, when Vector is on
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.request_now)
        bar.toggle.toggled.connect(self.set_enabled)
        bar.pin_button.clicked.connect(self.pin)
        for signal in (form.prompt.textChanged, form.negative.textChanged,
                       form.seed.valueChanged, form.size.currentIndexChanged,
                       form.vector.toggled):
            signal.connect(self.edited)
        bridge.event.connect(self._on_event)
        self.set_available(False)

    @property
    def active(self) -> bool:
        return self.bar.toggle.isChecked() and self.available

    # --- the worker offers live or not ------------------------------------------------------

    def set_models(self, models: list[ModelEntry]) -> None:
        """From the worker's hello: enable the toggle when it lists model ``live``."""
        info = next((m for m in models if m.id == LIVE_MODEL), None)
        self.sizes = list(info.sizes) if info else []
        self.vector = bool(info and info.vector)  # sharp previews traced as SVG
        self.set_available(info is not None)

    def set_available(self, available: bool) -> None:
        self.available = available
        self.bar.toggle.setEnabled(available)
        self.bar.toggle.setToolTip(READY_TIP if available else UNAVAILABLE_TIP)
        if not available and self.bar.toggle.isChecked():
            self.bar.toggle.setChecked(False)  # removes the preview layer

    # --- edits, the debounce, the request -------------------------------------------------

    def set_enabled(self, on: bool) -> None:
        if on and self.available:
            self.bar.state.setText("Live: type a prompt")
            self.edited()
            return
        self.timer.stop()
        self._cancel_current()
        self.host.remove_preview_layer()
        self.last = None
        self.bar.pin_button.setEnabled(False)
        self.bar.state.setText("")

    def document_changed(self) -> None:
        """Another document became active: the preview leaves the old one (its layer is
        removed now) and a fresh one is made for the new document."""
        if self.last is None and self.current_id is None:
            return
        self.timer.stop()
        self._cancel_current()
        self.host.remove_preview_layer()
        self.last = None
        self.bar.pin_button.setEnabled(False)
        self.edited()

    def edited(self, *_: object) -> None:
        """Any edit that changes the preview: (re)start the debounce timer."""
        if self.active:
            self.timer.start()

    def request_now(self) -> None:
        """Send the live request for the form as it is now; cancel the one before it."""
        self.timer.stop()  # called directly, it serves any edit still waiting too
        if not self.active:
            return
        params = self.params()
        if not params.prompt:
            self._cancel_current()
            self.bar.state.setText("Live: type a prompt")
            return
        self._cancel_current()
        self.sent.append(params)
        self.current_id = self.bridge.generate(params)
        self.bar.state.setText("Live: updating…")

    def params(self) -> GenerateParams:
        """The form's prompt, negative prompt and seed (never re-rolled here: the preview
        follows the text, not a new seed per key) at a size the live model serves."""
        size = int(self.form.size.currentData() or 128)
        if self.sizes and size not in self.sizes:
            size = min(self.sizes, key=lambda s: abs(s - size))
        return GenerateParams(
            prompt=self.form.prompt.toPlainText().strip(),
            negative_prompt=self.form.negative.toPlainText().strip(),
            seed=self.form.seed.value(), width=size, height=size, count=1, steps=self.steps,
            guidance=self.guidance, model=self.model,
            # the form's Vector option: the preview is the drawing rendered at its size
            # (sharp), and a pin adds the vector layer
            vector=self.vector and self.form.vector.isChecked())

    def _cancel_current(self) -> None:
        if self.current_id is not None:
            self.bridge.cancel(self.current_id)
            self.cancelled_ids.append(self.current_id)
            self.current_id = None

    # --- results --------------------------------------------------------------------------

    def _on_event(self, ev: Message) -> None:
        if ev.id != self.current_id:
            if ev.id in self.cancelled_ids:
                self.ignored_events += 1  # a stale request answering late: last one wins
            return
        if not ev.is_terminal:
            return
        self.current_id = None
        reply = ev.reply
        if isinstance(reply, GenerateResult) and reply.images and self.active:
            self._show(reply)
        elif isinstance(reply, Failure):
            message = error_text(reply.code, reply.message)
            self.bar.state.setText("Live: error")
            self.failed.emit(message)

    def _show(self, result: GenerateResult) -> None:
        im = result.images[0]
        pixels = Pixels.from_wire(im)
        provenance = result.provenance_of(0)
        at = self._place(im.width, im.height)
        self.host.set_preview_layer(pixels, PREVIEW_NAME, provenance, at)
        self.last = (pixels, provenance, at)
        self.last_svg = result.svg[0] if result.svg else None
        self.bar.pin_button.setEnabled(True)
        self.bar.state.setText(f"Live: {provenance.get('prompt', '')[:30]}")
        self.updated.emit(provenance)

    def _place(self, w: int, h: int) -> Rect:
        """Where the preview goes: the selection (filled), else the canvas centre, as a
        Generate result would land."""
        selection = self.host.selection()
        if selection is not None:
            return selection[0]
        cw, ch = self.host.canvas_size()
        return Rect(max(0, (cw - w) // 2), max(0, (ch - h) // 2), w, h)

    # --- pin ------------------------------------------------------------------------------

    def pin(self) -> tuple[Pixels, dict] | None:
        """The current preview becomes a regular layer with its provenance (inserted as a
        Generate result is, undoable where the host allows); the preview layer goes, and the
        next update starts a fresh one."""
        if self.last is None:
            return None
        pixels, provenance, at = self.last
        self.host.remove_preview_layer()
        name = f"{provenance.get('prompt', '')[:40]} (seed {provenance.get('seed', '?')})"
        if self.last_svg:  # a vector preview is pinned as a vector layer
            self.host.insert_vector_layer(self.last_svg, name, dict(provenance), at)
        else:
            self.host.insert_layer(pixels, name, dict(provenance), at)
        self.last = None
        self.bar.pin_button.setEnabled(False)
        self.bar.state.setText("Live: pinned")
        self.pinned.emit(to_qimage(pixels), provenance)
        return pixels, provenance
