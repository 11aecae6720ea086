"""The Train form: a folder of images becomes a LoRA adapter, trained by the worker.

The user picks a folder, names the adapter, optionally gives a trigger phrase and up to four
sample prompts, and presses Train. The worker is the authority on everything about the
folder (it lives on the worker's machine, which may not be this one): the form checks only
what is obviously missing, then shows the job's ``progress`` events (phase, step/total,
loss, ETA, preview thumbnails from ``sample`` frames) and its one terminal event as a
sentence: the adapter's final name (``name-2`` when the name was taken), the images used,
the files skipped. The bridge re-asks the worker's capabilities after a result, so the
Generate form lists the new adapter at once.
"""

from __future__ import annotations

from dataclasses import fields

from qtpy.QtCore import Qt
from qtpy.QtGui import QPixmap
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from plugin.host import HostAdapter, Pixels
from plugin.panel.bridge import WorkerBridge
from plugin.panel.messages import train_error_text
from plugin.panel.train_advanced import TrainAdvanced
from plugin.qimage import to_qimage
from worker.params import TRAIN_DEFAULTS, TrainParams
from worker.protocol import Image, Message
from worker.replies import (
    Cancelled,
    Capabilities,
    Failure,
    ModelEntry,
    Progress,
    Queued,
    TrainDefaults,
    TrainResult,
)

MAX_SAMPLE_PROMPTS = 4  # the worker's limit (docs/protocol.md, "train")
THUMB = 72
SKIPPED_SHOWN = 3  # the first few skipped files are named, the rest counted
DEFAULTS = {**{f.name: f.default for f in fields(TrainParams)
               if f.name not in ("folder", "name")}, **TRAIN_DEFAULTS}
PHASES = {"loading": "Reading the folder", "preparing": "Preparing",
          "training": "Training", "sampling": "Drawing previews", "saving": "Saving the adapter"}
_SUBMITTING = "<submitting>"  # job id while bridge.train() runs (a closed client errs at once)


class TrainPanel(QWidget):
    def __init__(self, bridge: WorkerBridge, host: HostAdapter | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.host = bridge, host
        self.job_id: str | None = None
        self.last_result: TrainResult | None = None  # the last finished job's
        lay = QVBoxLayout(self)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("A folder of 5 or more PNG, JPEG or WebP images")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        form.addRow("Images", _row(self.folder, self.browse_button))
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. ink-style")
        self.name.setMaxLength(64)
        form.addRow("Adapter name", self.name)
        self.trigger = QLineEdit()
        self.trigger.setPlaceholderText("optional, e.g. ink wash style")
        self.trigger.setToolTip("Put in front of every caption; type it in a prompt to call "
                                "the style")
        form.addRow("Trigger phrase", self.trigger)
        self.sample_prompts = QPlainTextEdit()
        self.sample_prompts.setPlaceholderText("optional previews, one prompt per line (up to "
                                               f"{MAX_SAMPLE_PROMPTS}), e.g. a cat")
        self.sample_prompts.setFixedHeight(64)
        form.addRow("Sample prompts", self.sample_prompts)
        self.model = QComboBox()
        self.model.setToolTip("The model the adapter is trained for (the worker's models that "
                              "can be fine-tuned)")
        self.model.addItem("builtin", None)  # until the worker's hello: the built-in model
        self.model.currentIndexChanged.connect(self._model_changed)
        form.addRow("Base model", self.model)
        lay.addLayout(form)

        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        lay.addWidget(self.advanced_toggle)
        self.advanced = TrainAdvanced(DEFAULTS)  # train_advanced.py: steps ... the look
        adv = self.advanced
        self.steps, self.rank, self.learning_rate = adv.steps, adv.rank, adv.learning_rate
        self.sample_every, self.look = adv.sample_every, adv.look
        self.advanced.setVisible(False)
        lay.addWidget(self.advanced)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        lay.addLayout(buttons)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        lay.addWidget(self.progress)
        self.info = QLabel()  # phase, loss, ETA, images/s
        self.info.setObjectName("trainInfo")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)

        self.samples_row = QHBoxLayout()
        self.sample_labels: list[QLabel] = []
        for _ in range(MAX_SAMPLE_PROMPTS):
            label = QLabel()
            label.setFixedSize(THUMB, THUMB)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("background: #2b2b2b; border-radius: 4px")
            label.setVisible(False)
            self.sample_labels.append(label)
            self.samples_row.addWidget(label)
        self.samples_row.addStretch(1)
        lay.addLayout(self.samples_row)

        self.message = QLabel()
        self.message.setObjectName("trainMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        lay.addStretch(1)

        self.train_button.clicked.connect(self.train)
        self.cancel_button.clicked.connect(self.cancel)
        bridge.event.connect(self._on_event)
        bridge.capabilities.connect(self._on_capabilities)
        if bridge.state in ("ready", "busy"):
            bridge.ask_capabilities()  # the worker's hello may have come before this tab

    # --- actions ---------------------------------------------------------------------------

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to train on",
                                                  self.folder.text())
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str) -> None:
        """Fill the folder field; an empty name becomes the folder's name."""
        self.folder.setText(folder)
        if not self.name.text().strip():
            base = folder.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
            self.name.setText(base[:64])

    def params(self) -> TrainParams:
        prompts = [p.strip() for p in self.sample_prompts.toPlainText().splitlines()
                   if p.strip()]
        return TrainParams(folder=self.folder.text().strip(), name=self.name.text().strip(),
                           trigger=self.trigger.text().strip(),
                           model=self.model.currentText() or "builtin",
                           sample_prompts=prompts, **self.advanced.values())

    def train(self) -> None:
        if self.job_id is not None:
            return
        params = self.params()
        problem = ("empty_folder_field" if not params.folder else
                   "empty_name" if not params.name else
                   "too_many_samples" if len(params.sample_prompts) > MAX_SAMPLE_PROMPTS
                   else "")
        if problem:
            self.show_message(train_error_text(problem, ""), error=True)
            return
        self.show_message("")
        self._clear_samples()
        self.progress.setRange(0, params.steps)
        self.progress.setValue(0)
        self.progress.setFormat("waiting for the image generator…")
        self.info.setText("")
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.job_id = _SUBMITTING
        rid = self.bridge.train(params)
        if self.job_id == _SUBMITTING:  # not already ended by an immediate error
            self.job_id = rid

    def cancel(self) -> None:
        if self.job_id is not None and self.job_id != _SUBMITTING:
            self.bridge.cancel(self.job_id)
            self.progress.setFormat("cancelling…")
            self.cancel_button.setEnabled(False)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828" if error else "color: palette(text)")
        self.message.setVisible(bool(text))

    def visible_samples(self) -> list[str]:
        """The prompts of the preview thumbnails shown now (their tooltips)."""
        return [la.toolTip() for la in self.sample_labels if la.isVisibleTo(self)]

    # --- worker events (UI thread, via the bridge's signals) -------------------------------

    def _on_event(self, ev: Message) -> None:
        if self.job_id is None or (ev.id != self.job_id and not (
                self.job_id == _SUBMITTING and ev.is_terminal)):
            return  # another request's event, or a late one
        reply = ev.reply
        if isinstance(reply, Queued):
            ahead = reply.position
            self.progress.setFormat(f"waiting: {ahead} job(s) ahead" if ahead else "starting…")
        elif isinstance(reply, Progress):
            self._on_progress(reply)
        elif isinstance(reply, TrainResult):
            self._finish()
            self._on_result(reply)
        elif isinstance(reply, Cancelled):
            self._finish()
            step = reply.step
            self.show_message(f"Training cancelled after step {step}. A checkpoint was saved: "
                              "press Train with the same folder and settings to continue "
                              "from there." if step else "Training cancelled before its "
                              "first step.")
        elif isinstance(reply, Failure):
            self._finish()
            self.show_message(train_error_text(reply.code, reply.message), error=True)

    def _on_progress(self, p: Progress) -> None:
        total = max(1, p.total)
        self.progress.setRange(0, total)
        self.progress.setValue(min(p.step, total))
        self.progress.setFormat("step %v of %m")
        parts = [PHASES.get(p.phase, p.phase)]
        if p.loss is not None:
            parts.append(f"loss {p.loss:.4f}")
        if p.eta_s is not None:
            parts.append(f"{_duration(p.eta_s)} left")
        if p.images_per_s:
            parts.append(f"{p.images_per_s:.1f} images/s")
        if p.message and p.phase in ("loading", "preparing", "saving"):
            parts.append(p.message)
        self.info.setText(" · ".join(part for part in parts if part))
        if p.samples:
            self._show_samples(p.samples, p.sample_images)

    def _on_result(self, r: TrainResult) -> None:
        self.last_result = r
        name, asked, steps, resumed = r.name, r.requested_name, r.steps, r.resumed_from
        lines = [f"Adapter “{name}” is ready: trained on {r.images} images in "
                 f"{steps} steps. Pick it in Generate ▸ Adapters (with a weight)."]
        if asked and name != asked:
            lines.append(f"The name “{asked}” was already taken, so this adapter was saved "
                         f"as “{name}”; the existing “{asked}” was not changed.")
        if resumed and resumed >= steps:
            lines.append("This training had already finished; the adapter it made is used "
                         "(nothing was trained again).")
        elif resumed:
            lines.append(f"Continued an interrupted run from step {resumed}.")
        total = max(r.skipped_total, len(r.skipped))
        if total:
            named = ", ".join(f"{s.file} ({s.reason})" for s in r.skipped[:SKIPPED_SHOWN])
            more = f" and {total - SKIPPED_SHOWN} more" if total > SKIPPED_SHOWN else ""
            lines.append(f"Skipped {total} file{'s' if total != 1 else ''}: {named}{more}.")
        lines.extend(r.warnings)
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("done")
        self.info.setText(f"final loss {r.loss or 0.0:.4f} · {_duration(r.seconds)}")
        self.show_message("\n".join(lines))

    def _show_samples(self, prompts: list[str], frames: list[Image]) -> None:
        for i, label in enumerate(self.sample_labels):
            if i < len(frames) and i < len(prompts) and frames[i].channels in (1, 4):
                im = frames[i]
                qimage = to_qimage(Pixels.from_wire(im))
                label.setPixmap(QPixmap.fromImage(qimage.scaled(
                    THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation)))
                label.setToolTip(prompts[i])
                label.setVisible(True)
            else:
                label.setVisible(False)

    def _clear_samples(self) -> None:
        for label in self.sample_labels:
            label.clear()
            label.setToolTip("")
            label.setVisible(False)

    def _finish(self) -> None:
        self.job_id = None
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("")

    def _on_capabilities(self, hello: Capabilities) -> None:
        """Offer the worker's trainable models (``train_defaults`` not None)."""
        models = [m for m in hello.models if m.train_defaults is not None]
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        for m in models:
            self.model.addItem(m.id, m)
        self.model.blockSignals(False)
        index = self.model.findText(current)
        self.model.setCurrentIndex(max(index, 0))
        if index < 0:
            self._model_changed()
        else:  # the same model, its settings as the user left them; whether it has a look
            self._offer_look()

    def _model_changed(self) -> None:
        """Show the picked model's own training settings (an SD model wants a far smaller
        learning rate than the built-in one); what the panel does not show (batch, alpha)
        the worker fills from the same defaults. The look is offered only for a model whose
        training has one."""
        entry = self.model.currentData()
        own = entry.train_defaults if isinstance(entry, ModelEntry) else None
        settings = {**DEFAULTS, **(own.given() if isinstance(own, TrainDefaults) else {})}
        self._offer_look()
        self.steps.setValue(int(settings["steps"]))
        self.rank.setValue(int(settings["rank"]))
        self.learning_rate.setValue(float(settings["learning_rate"]))

    def _offer_look(self) -> None:
        """The look only for a model whose training has one (``ModelEntry.train_look``; the
        placeholder "builtin" before the worker's hello has one)."""
        entry = self.model.currentData()
        self.advanced.set_model_has_look(entry.train_look if isinstance(entry, ModelEntry)
                                         else True)

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown
                                          else Qt.ArrowType.RightArrow)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return box
