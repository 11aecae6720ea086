"""The generation settings: prompt, negative prompt, seed, steps, guidance, size, count,
model, adapters (LoRA) with weights, the image-to-image mode and its strength, and Vector
(an SVG drawing as well, for models that offer it).

``params()`` reads the widgets into a ``GenerateParams``; ``set_params(body)`` fills them
from one (a history entry), so the form and the wire format never drift apart.

Steps, guidance and size start at the selected model's own ``generate_defaults`` (the
worker's model list) and follow the model when it changes. Until the user changes one of
them it is left out of the request, so the worker runs the model's own value (the
provenance records it); one the user changed is sent as it is. Defaults puts them back.
"""

from __future__ import annotations

import random

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from plugin.panel.fold import Foldable
from worker.params import GenerateParams, LoraParam
from worker.replies import GenerateDefaults, ModelEntry

MAX_SEED = 2**31 - 1
MODES = [("txt2img", "Text to image"), ("img2img", "Image to image (active layer)"),
         ("inpaint", "Inpaint the selection")]


class ParamsForm(QWidget):
    """The prompt (this widget) and ``advanced``: every other setting, in a ``Foldable``
    that starts folded. The form keeps ``advanced`` below the prompt; a panel on a small
    screen moves it into its scrolling part (``GeneratePanel``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        top = QFormLayout(self)
        top.setContentsMargins(0, 0, 0, 0)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the image: a red house, flat icon")
        self.prompt.setMinimumHeight(30)  # one line on a crowded small screen, else three
        self.prompt.setMaximumHeight(64)
        top.addRow("Prompt", self.prompt)
        settings = QWidget()
        form = QFormLayout(settings)
        form.setContentsMargins(0, 0, 0, 0)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("What to avoid (optional)")
        self.negative.setFixedHeight(40)
        form.addRow("Negative", self.negative)

        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setToolTip("Keep this seed; unlocked, every generation picks a new one")
        self.randomize = QPushButton("Randomize")
        self.randomize.clicked.connect(self.new_seed)
        form.addRow("Seed", _row(self.seed, self.seed_lock, self.randomize))

        self.changed: set[str] = set()  # of steps, guidance, size: set by the user, sent
        self.steps = QSpinBox()
        self.steps.setRange(1, 200)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("The model's own steps, guidance and size")
        self.defaults_button.clicked.connect(self.use_model_defaults)
        form.addRow("Steps", _row(self.steps, QLabel("Guidance"), self.guidance,
                                  self.defaults_button))

        self.size = QComboBox()
        self.count = QSpinBox()
        self.count.setRange(1, 16)
        form.addRow("Size", _row(self.size, QLabel("Images"), self.count))
        self.set_sizes([32, 64, 128, 256, 512], 128)
        self.steps.valueChanged.connect(lambda: self.changed.add("steps"))
        self.guidance.valueChanged.connect(lambda: self.changed.add("guidance"))
        self.size.currentIndexChanged.connect(lambda: self.changed.add("size"))

        self.model = QComboBox()
        self.model.addItem("builtin")
        self.model.currentIndexChanged.connect(self._model_changed)
        self._show_defaults(self.defaults)
        form.addRow("Model", self.model)

        self.adapters = QTableWidget(0, 2)
        self.adapters.setHorizontalHeaderLabels(["Adapter", "Weight"])
        self.adapters.horizontalHeader().setStretchLastSection(True)
        self.adapters.verticalHeader().setVisible(False)
        self.adapters.setFixedHeight(64)
        self.no_adapters = QLabel("No adapters installed")
        form.addRow("Adapters", _row(self.adapters, self.no_adapters))
        self.adapters.setVisible(False)

        self.mode = QComboBox()
        for key, label in MODES:
            self.mode.addItem(label, key)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.6)
        self.strength.setToolTip("0 keeps the source image, 1 ignores it")
        form.addRow("Source", _row(self.mode, QLabel("Strength"), self.strength))
        self.vector = QCheckBox("Vector")
        self.vector.setToolTip("Also return an SVG drawing: added as a vector layer, sharp at "
                               "any size (icon models only)")
        form.addRow("Output", _row(self.vector))
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self._mode_changed()
        self.advanced = Foldable("Advanced settings", settings, folded=True)
        self.advanced.setObjectName("advancedSettings")
        top.addRow(self.advanced)

    # --- filled from the worker's capabilities ------------------------------------------------

    def set_models(self, models: list[ModelEntry], loras: list[str]) -> None:
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        for m in models:
            self.model.addItem(m.id, m)
        self.model.setCurrentIndex(max(self.model.findText(current), 0))
        self.model.blockSignals(False)
        self._model_changed()
        kept = {lo.name: lo.weight for lo in self._checked_loras() if lo.name in loras}
        self.set_loras(loras, kept)  # a refresh (e.g. after a restart) keeps the choice

    def set_sizes(self, sizes: list[int], default: int) -> None:
        """Offer ``sizes``; a size the user chose stays if the model has it, else (and
        while the user has not chosen one) the model's ``default``."""
        current = self.size.currentData()
        keep = "size" in self.changed and current in sizes
        self.size.blockSignals(True)
        self.size.clear()
        for s in sizes:
            self.size.addItem(f"{s} × {s}", int(s))
        self.size.setCurrentIndex(max(self.size.findData(current if keep else default), 0))
        self.size.blockSignals(False)
        if not keep:
            self.changed.discard("size")

    @property
    def defaults(self) -> GenerateDefaults:
        """The selected model's generation defaults (the built-in model's before the
        worker's list arrives)."""
        info = self.model.currentData()
        if isinstance(info, ModelEntry):
            return info.defaults
        return GenerateDefaults(20, 3.0, 128, 128)

    def use_model_defaults(self) -> None:
        """Forget the user's steps, guidance and size: the model's own apply again."""
        self.changed.clear()
        self._show_defaults(self.defaults)

    @property
    def size_value(self) -> int:
        """The size shown (chosen, or the model's default): what the image will be."""
        return int(self.size.currentData() or self.defaults.width)

    def set_loras(self, names: list[str], weights: dict[str, float] | None = None) -> None:
        weights = weights or {}
        self.adapters.setRowCount(0)
        for name in names:
            row = self.adapters.rowCount()
            self.adapters.insertRow(row)
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if name in weights
                               else Qt.CheckState.Unchecked)
            self.adapters.setItem(row, 0, item)
            spin = QDoubleSpinBox()
            spin.setRange(-4.0, 4.0)
            spin.setSingleStep(0.1)
            spin.setValue(weights.get(name, 1.0))
            self.adapters.setCellWidget(row, 1, spin)
        self.adapters.setVisible(bool(names))
        self.no_adapters.setVisible(not names)

    # --- reading and filling ----------------------------------------------------------------

    @property
    def mode_key(self) -> str:
        return str(self.mode.currentData())

    def new_seed(self) -> None:
        self.seed.setValue(random.randint(0, MAX_SEED))

    def params(self) -> GenerateParams:
        """The current settings; an unlocked seed is re-rolled first (and shown)."""
        if not self.seed_lock.isChecked():
            self.new_seed()
        size = self.size_value if "size" in self.changed else None
        loras = self._checked_loras()
        return GenerateParams(
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative.toPlainText().strip(), seed=self.seed.value(),
            width=size, height=size, count=self.count.value(),
            steps=self.steps.value() if "steps" in self.changed else None,
            guidance=(round(self.guidance.value(), 3) if "guidance" in self.changed
                      else None), model=self.model.currentText(),
            strength=round(self.strength.value(), 3), loras=loras,
            vector=self.vector.isChecked() and self.vector.isEnabled())

    def set_params(self, body: dict) -> None:
        """Fill the form from a generate body or a provenance dict (a history entry)."""
        self.prompt.setPlainText(str(body.get("prompt", "")))
        self.negative.setPlainText(str(body.get("negative_prompt", "")))
        self.seed.setValue(int(body.get("seed", 0)))
        self.seed_lock.setChecked(True)  # reuse means: the same image again
        self.count.setValue(int(body.get("count", 1)))
        idx = self.model.findText(str(body.get("model", "builtin")))
        if idx >= 0:
            self.model.setCurrentIndex(idx)
        # the entry's own values are sent as they are (even where they equal the model's
        # defaults now: those may change); those it left out stay the model's
        if body.get("steps") is not None:
            self.steps.setValue(int(body["steps"]))
            self.changed.add("steps")
        if body.get("guidance") is not None:
            self.guidance.setValue(float(body["guidance"]))
            self.changed.add("guidance")
        idx = self.size.findData(int(body.get("width") or 0))
        if idx >= 0:
            self.size.setCurrentIndex(idx)
            self.changed.add("size")
        if body.get("strength") is not None:
            self.strength.setValue(float(body["strength"]))
        self.vector.setChecked(bool(body.get("vector", False)))
        weights = {lo["name"]: float(lo.get("weight", 1.0)) for lo in body.get("loras", [])}
        known = [self.adapters.item(r, 0).text() for r in range(self.adapters.rowCount())]
        self.set_loras(sorted(set(known) | set(weights)), weights)

    def _checked_loras(self) -> list[LoraParam]:
        loras = []
        for row in range(self.adapters.rowCount()):
            item = self.adapters.item(row, 0)
            if item.checkState() == Qt.CheckState.Checked:
                weight = round(self.adapters.cellWidget(row, 1).value(), 3)
                loras.append(LoraParam(item.text(), weight))
        return loras

    def _model_changed(self) -> None:
        info = self.model.currentData()
        defaults = self.defaults
        if isinstance(info, ModelEntry) and info.sizes:
            self.set_sizes(list(info.sizes), defaults.width)
        self._show_defaults(defaults)
        # Vector output only where the model offers it (the hello's model entry says so)
        self.vector.setEnabled(isinstance(info, ModelEntry) and info.vector)

    def _show_defaults(self, defaults: GenerateDefaults) -> None:
        """Show the model's values in the fields the user has not changed (quietly: this
        is not a change of the user's)."""
        for name, widget, value in (("steps", self.steps, defaults.steps),
                                    ("guidance", self.guidance, defaults.guidance)):
            widget.setToolTip(f"The model's default: {value:g}")
            if name not in self.changed:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        self.size.setToolTip(f"The model's default: {defaults.width} × {defaults.height}")
        if "size" not in self.changed:
            self.size.blockSignals(True)
            self.size.setCurrentIndex(max(self.size.findData(defaults.width), 0))
            self.size.blockSignals(False)

    def _mode_changed(self) -> None:
        self.strength.setEnabled(self.mode_key != "txt2img")


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return box
