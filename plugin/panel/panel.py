"""The generation panel: one widget for every Qt host (standalone, Krita 5/6).

It talks to the worker through a ``WorkerBridge`` (signals on the UI thread) and to the
editor through a ``HostAdapter``; it never blocks on either. One generation runs at a time:
Generate submits, events drive the progress bar and the live preview, the terminal event
fills the result strip and the history, and (by default) adds the first image as a layer
(a vector layer when the result carries an SVG drawing: the form's Vector option).
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from plugin.host import HostAdapter, Pixels, Rect
from plugin.panel.bridge import WorkerBridge
from plugin.panel.fold import scrolling
from plugin.panel.form import ParamsForm
from plugin.panel.history import HistoryList
from plugin.panel.live import LiveBar, LiveController
from plugin.panel.messages import error_text, state_text
from plugin.panel.results import ResultImage, ResultStrip
from plugin.panel.upscale import UpscaleBar
from plugin.qimage import to_pixels, to_qimage
from worker.params import GenerateParams
from worker.protocol import Image, Message
from worker.replies import Cancelled, Capabilities, Failure, GenerateResult, Progress, Queued

PREVIEW = 96


class Job:
    """The generation in flight: what was asked, and where its images belong."""

    def __init__(self, rid: str, params: GenerateParams, mode: str, region: Rect | None):
        self.id, self.params, self.mode, self.region = rid, params, mode, region


class GeneratePanel(QWidget):
    def __init__(self, bridge: WorkerBridge, host: HostAdapter,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.host = bridge, host
        self.job: Job | None = None
        self.previewed: str | None = None  # the request whose progress the preview shows
        self.state_history: list[str] = []  # every worker state seen, in order

        # On top, always visible: the prompt, Generate/Cancel and a thin progress bar.
        # Below, in one scroll area: the worker state, Live, the folded advanced settings,
        # the preview, messages, results and history. The panel's minimum height stays
        # near 100 px, so that a Krita docker stacked under Krita's default dockers, or the
        # studio's side dock, fits a 1280 x 720 screen.
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.form = ParamsForm()
        lay.addWidget(self.form)
        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        lay.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setMaximumHeight(16)
        lay.addWidget(self.progress)

        body = QWidget()
        below = QVBoxLayout(body)
        below.setContentsMargins(0, 0, 4, 0)
        self.status = QLabel()
        self.status.setObjectName("workerStatus")
        below.addWidget(self.status)
        self.live_bar = LiveBar()  # as-you-type previews (plugin/panel/live.py)
        below.addWidget(self.live_bar)
        below.addWidget(self.form.advanced)  # moved here from under the prompt
        preview_row = QHBoxLayout()
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW, PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #2b2b2b; border-radius: 4px")
        self.preview.setVisible(False)  # an empty dark square says nothing: shown with a picture
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("panelMessage")
        self.message.setVisible(False)
        preview_row.addWidget(self.preview)
        preview_row.addWidget(self.message, 1)
        below.addLayout(preview_row)

        self.upscale_bar = UpscaleBar(bridge, host)  # the active layer, enlarged sharply
        lay.addWidget(self.upscale_bar)

        self.auto_insert = QCheckBox("Add the first result as a layer")
        self.auto_insert.setChecked(True)
        below.addWidget(self.auto_insert)
        self.results = ResultStrip()
        below.addWidget(self.results)
        below.addWidget(QLabel("History"))
        self.history = HistoryList(host)
        self.history.setMinimumHeight(140)  # its own scrolling inside the panel's
        below.addWidget(self.history, 1)
        self.scroll = scrolling(body, "panelScroll")
        lay.addWidget(self.scroll, 1)

        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.results.chosen.connect(self.insert)
        self.history.reuse.connect(lambda entry: self.form.set_params(entry["params"]))
        self.live = LiveController(bridge, host, self.form, self.live_bar, self)
        self.live.failed.connect(lambda text: self.show_message(text, error=True))
        self.live.pinned.connect(lambda image, prov: self.history.add(
            {k: v for k, v in prov.items() if k != "parameters"}, "txt2img", image))
        bridge.event.connect(self._on_event)
        bridge.state_changed.connect(self._on_state)
        bridge.capabilities.connect(self._on_capabilities)
        self._on_state(bridge.state, bridge.state_detail)
        if bridge.state in ("ready", "busy"):
            bridge.ask_capabilities()

    # --- actions ---------------------------------------------------------------------------

    def generate(self) -> None:
        if self.job is not None:
            return
        params = self.form.params()
        if not params.prompt:
            self.show_message(error_text("empty_prompt", ""), error=True)
            return
        mode = self.form.mode_key
        try:
            region, init, mask = self._sources(mode, params)
        except ValueError as e:
            self.show_message(str(e), error=True)
            return
        self.show_message("")
        rid = self.bridge.generate(params, init, mask)
        self.job = Job(rid, params, mode, region)
        self.generate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, params.steps or self.form.steps.value())
        self.progress.setValue(0)
        self.progress.setFormat("waiting for the image generator…")

    def cancel(self) -> None:
        if self.job is not None:
            self.bridge.cancel(self.job.id)
            self.progress.setFormat("cancelling…")
            self.cancel_button.setEnabled(False)

    def insert(self, result: ResultImage) -> None:
        """Add one result as a new layer above the active one."""
        w, h = result.image.width(), result.image.height()
        if result.region is not None:
            at = Rect(*result.region)
        else:
            cw, ch = self.host.canvas_size()
            at = Rect(max(0, (cw - w) // 2), max(0, (ch - h) // 2), w, h)
        p = result.provenance
        name = f"{p.get('prompt', '')[:40]} (seed {p.get('seed', '?')})"
        if result.svg:
            try:  # a vector layer where the host has them; the raster if the SVG is refused
                self.host.insert_vector_layer(result.svg, name, dict(p), at)
                return
            except ValueError as e:  # SvgError
                self.show_message(f"The drawing could not be added as a vector layer ({e}); "
                                  "added as pixels instead.", error=True)
        self.host.insert_layer(to_pixels(result.image), name, dict(p), at)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828" if error else "color: palette(text)")
        self.message.setVisible(bool(text))

    # --- where the init image and mask come from -------------------------------------------

    def _sources(self, mode: str, params: GenerateParams
                 ) -> tuple[Rect | None, Image | None, Image | None]:
        selection = self.host.selection()
        if mode == "txt2img":
            # With a selection, the result fills it; otherwise it lands in the middle.
            return (selection[0] if selection else None), None, None
        cw, ch = self.host.canvas_size()
        if not cw or not ch:
            raise ValueError("Open or create a document first: image-to-image starts from "
                             "its active layer.")
        if mode == "inpaint" and selection is None:
            raise ValueError("Select the area to repaint first (drag a rectangle on the "
                             "canvas), or switch Source to Image to image.")
        region = selection[0] if selection else Rect(0, 0, cw, ch)
        source = self.host.source_image(region)
        if source is None:
            raise ValueError("There is no layer to start from: add or select a layer.")
        size = (params.width or self.form.size_value, params.height or self.form.size_value)
        init = _scaled(to_qimage(source), size)
        images = [Image((size[1], size[0], 4), to_pixels(init).data, "init_image")]
        if mode == "inpaint" and selection is not None:
            mask = _scaled(to_qimage(selection[1]), size)
            images.append(Image((size[1], size[0]), to_pixels(mask, 1).data, "mask"))
        return region, images[0], (images[1] if len(images) > 1 else None)

    # --- worker events (UI thread, via the bridge's signals) ---------------------------------

    def _on_state(self, state: str, detail: str) -> None:
        self.state_history.append(state)
        text, colour = state_text(state)
        if state in ("unavailable", "lost") and detail:
            text = f"{text}: {detail}"
        self.status.setText(f"● {text}")
        self.status.setStyleSheet(f"color: {colour}; font-weight: bold")
        self.status.setToolTip(detail)

    def _on_capabilities(self, hello: Capabilities) -> None:
        self.form.set_models(hello.models, hello.loras)
        self.live.set_models(hello.models)
        if hello.load_error:
            self.show_message(error_text("backend_unavailable", hello.load_error), True)

    def _on_event(self, ev: Message) -> None:
        job = self.job
        if job is None or ev.id != job.id:
            return  # a late event of a finished request
        reply = ev.reply
        if isinstance(reply, Queued):
            ahead = reply.position
            self.progress.setFormat(f"waiting: {ahead} ahead" if ahead else "starting…")
        elif isinstance(reply, Progress):
            self.progress.setRange(0, max(1, reply.total))
            self.progress.setValue(reply.step)
            self.progress.setFormat("step %v of %m")
            if reply.preview is not None:
                self._show_preview(reply.preview)
        elif isinstance(reply, GenerateResult):
            self._finish()
            self._on_result(job, reply)
        elif isinstance(reply, Cancelled):
            self._finish()
            self._drop_partial_preview(job)
            self.show_message(f"Cancelled after step {reply.step}.")
        elif isinstance(reply, Failure):
            self._finish()
            self._drop_partial_preview(job)
            self.show_message(error_text(reply.code, reply.message), error=True)

    def _on_result(self, job: Job, result: GenerateResult) -> None:
        region = job.region
        results = []
        for i, im in enumerate(result.images):
            image = to_qimage(Pixels.from_wire(im))
            at = (region.x, region.y, region.width, region.height) if region else None
            results.append(ResultImage(image, result.provenance_of(i), job.mode, at,
                                       result.svg[i] if result.svg else None))
        self.results.show_results(results)
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("done")
        if results:
            self.set_preview(_fit(results[0].image))
        # the history keeps the values the worker used (the model's own, where left out)
        used = {k: v for k, v in (result.provenance[0] if result.provenance else {}).items()
                if k in ("steps", "guidance", "width", "height", "scheduler")}
        self.history.add({**job.params.to_body(), **used}, job.mode,
                         results[0].image if results else None)
        self.show_message("; ".join(result.warnings))
        if results and self.auto_insert.isChecked():
            self.insert(results[0])

    def _show_preview(self, im: Image) -> None:
        if im.channels not in (1, 4):
            return
        px = Pixels.from_wire(im)
        self.set_preview(_fit(to_qimage(px)))
        self.previewed = self.job.id if self.job else None

    def set_preview(self, pixmap: QPixmap | None) -> None:
        """Show ``pixmap`` in the preview box; None clears the box and hides it."""
        self.previewed = None
        if pixmap is None:
            self.preview.clear()
        else:
            self.preview.setPixmap(pixmap)
        self.preview.setVisible(pixmap is not None)

    def _drop_partial_preview(self, job: Job) -> None:
        """A run that ended without images (cancelled, failed) leaves no half-made picture
        behind; a previous result still shown (no preview of this run came) stays."""
        if self.previewed == job.id:
            self.set_preview(None)

    def _finish(self) -> None:
        self.job = None
        self.generate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("")


def _scaled(image: QImage, size: tuple[int, int]) -> QImage:
    if (image.width(), image.height()) == size:
        return image
    return image.scaled(size[0], size[1], Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


def _fit(image: QImage) -> QPixmap:
    return QPixmap.fromImage(image.scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))
