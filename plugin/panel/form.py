"""The generation settings: prompt, negative prompt, seed, steps, guidance, size, count,
model, adapters (LoRA) with weights, the image-to-image mode and its strength, and Vector
(an SVG drawing as well, for models that offer it).

``params()`` reads the widgets into a ``GenerateParams``; ``set_params(body)`` fills them
from one (a history entry), so the form and the wire format never drift apart.
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
from worker.protocol import GenerateParams, LoraParam

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

        self.steps = QSpinBox()
        self.steps.setRange(1, 200)
        self.steps.setValue(20)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(3.0)
        form.addRow("Steps", _row(self.steps, QLabel("Guidance"), self.guidance))

        self.size = QComboBox()
        self.count = QSpinBox()
        self.count.setRange(1, 16)
        form.addRow("Size", _row(self.size, QLabel("Images"), self.count))
        self.set_sizes([32, 64, 128, 256, 512], 128)

        self.model = QComboBox()
        self.model.addItem("builtin")
        self.model.currentIndexChanged.connect(self._model_changed)
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

    def set_models(self, models: list[dict], loras: list[str]) -> None:
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        for m in models:
            self.model.addItem(str(m.get("id")), m)
        self.model.setCurrentIndex(max(self.model.findText(current), 0))
        self.model.blockSignals(False)
        self._model_changed()
        kept = {lo.name: lo.weight for lo in self._checked_loras() if lo.name in loras}
        self.set_loras(loras, kept)  # a refresh (e.g. after a restart) keeps the choice

    def set_sizes(self, sizes: list[int], default: int) -> None:
        current = self.size.currentData()
        self.size.clear()
        for s in sizes:
            self.size.addItem(f"{s} × {s}", int(s))
        want = current if current in sizes else default
        self.size.setCurrentIndex(max(self.size.findData(want), 0))

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
        size = int(self.size.currentData() or 128)
        loras = self._checked_loras()
        return GenerateParams(
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative.toPlainText().strip(), seed=self.seed.value(),
            width=size, height=size, count=self.count.value(), steps=self.steps.value(),
            guidance=round(self.guidance.value(), 3), model=self.model.currentText(),
            strength=round(self.strength.value(), 3), loras=loras,
            vector=self.vector.isChecked() and self.vector.isEnabled())

    def set_params(self, body: dict) -> None:
        """Fill the form from a generate body or a provenance dict (a history entry)."""
        self.prompt.setPlainText(str(body.get("prompt", "")))
        self.negative.setPlainText(str(body.get("negative_prompt", "")))
        self.seed.setValue(int(body.get("seed", 0)))
        self.seed_lock.setChecked(True)  # reuse means: the same image again
        self.steps.setValue(int(body.get("steps", 20)))
        self.guidance.setValue(float(body.get("guidance", 3.0)))
        self.count.setValue(int(body.get("count", 1)))
        idx = self.model.findText(str(body.get("model", "builtin")))
        if idx >= 0:
            self.model.setCurrentIndex(idx)
        idx = self.size.findData(int(body.get("width", 128)))
        if idx >= 0:
            self.size.setCurrentIndex(idx)
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
        if isinstance(info, dict) and info.get("sizes"):
            self.set_sizes(list(info["sizes"]), int(info.get("default_size", 128)))
        # Vector output only where the model offers it (the hello's model entry says so)
        self.vector.setEnabled(isinstance(info, dict) and bool(info.get("vector")))

    def _mode_changed(self) -> None:
        self.strength.setEnabled(self.mode_key != "txt2img")


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return box
