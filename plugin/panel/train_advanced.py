"""The Train form's Advanced section: steps, LoRA rank, learning rate, previews, and the look.

The *look* (docs/finetune.md, "The recipe") is what an adapter of the built-in model paints
over the base model's drawing: the folder's colour tables, and, on request, a learned
renderer that also takes the folder's shading and gloss (``render_steps`` of training
beside the LoRA; it may soften thin subjects, and training takes about 1.6x as long). Only
models whose training has a look (``ModelEntry.train_look``: the built-in model) offer the
choice; for the others (Stable Diffusion models) it is disabled with a tooltip saying why,
and the request carries ``render_steps`` 0, as it does when the default is left alone (so
runs resume and adapters match what they matched before the choice existed).

The widgets keep their values between runs and across model switches (a model switch sets
steps, rank and learning rate to the model's own; the look stays as the user left it).
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

# The renderer's steps for the shading look: the value measured in docs/finetune.md
# ("The renderer", "Session 8": 400 steps x 16, ~73 s on a busy 2-core CPU).
SHADING_RENDER_STEPS = 400
# (label, render_steps, tooltip); the first is the default
LOOKS = (
    ("Colours (keeps thin subjects)", 0,
     "Paints the folder's colours, rims and inner lines over the model's drawing; thin "
     "subjects stay readable"),
    ("Colours + learned shading (slower)", SHADING_RENDER_STEPS,
     "Also learns the folder's shading and gloss; thin subjects can come out softer, and "
     "training takes about 1.6x as long"),
)
LOOK_TIP = "How the adapter paints the folder's look over the model's drawing"
NO_LOOK_TIP = ("This model's training has no look to choose (Stable Diffusion models learn "
               "the LoRA only; a worker older than this panel does not say), so colours only")


class TrainAdvanced(QWidget):
    """The folded settings; ``values()`` gives them for ``TrainParams``."""

    def __init__(self, defaults: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        adv = QFormLayout(self)
        adv.setContentsMargins(16, 0, 0, 0)
        self.steps = _spin(1, 100_000, defaults["steps"])
        self.rank = _spin(1, 128, defaults["rank"])
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.00001, 1.0)
        self.learning_rate.setSingleStep(0.0005)
        self.learning_rate.setValue(defaults["learning_rate"])
        self.sample_every = _spin(0, 100_000, defaults["sample_every"])
        self.sample_every.setToolTip("Draw the sample prompts every this many steps (0: only "
                                     "at the end)")
        self.look = QComboBox()
        for i, (label, render_steps, tip) in enumerate(LOOKS):
            self.look.addItem(label, render_steps)
            self.look.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.look.setToolTip(LOOK_TIP)
        self.has_look = True  # the built-in model's, until the worker's hello says otherwise
        adv.addRow("Steps", self.steps)
        adv.addRow("LoRA rank", self.rank)
        adv.addRow("Learning rate", self.learning_rate)
        adv.addRow("Previews every", self.sample_every)
        adv.addRow("Look", self.look)

    def set_model_has_look(self, has_look: bool) -> None:
        """Offer the look for a model whose training has one; else disable it (the choice
        is kept for when such a model is picked again) and say why."""
        self.has_look = has_look
        self.look.setEnabled(has_look)
        self.look.setToolTip(LOOK_TIP if has_look else NO_LOOK_TIP)

    def render_steps(self) -> int:
        """The renderer's steps to ask for: 0 unless the look is offered and shading picked."""
        return int(self.look.currentData() or 0) if self.has_look else 0

    def values(self) -> dict:
        return {"steps": self.steps.value(), "rank": self.rank.value(),
                "learning_rate": round(self.learning_rate.value(), 6),
                "sample_every": self.sample_every.value(),
                "render_steps": self.render_steps()}


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setValue(value)
    return spin
