"""The panel's Vector option, in the standalone editor on a real worker: offered where the
model lists vector output; a vector generation becomes a vector layer holding the worker's
SVG; a history entry brings the option back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from panel_helpers import WAIT
from qtpy.QtCore import Qt

from worker.replies import ModelEntry


def test_vector_option_follows_the_model(window):
    form = window.panel.form
    assert form.vector.isEnabled()  # the built-in model offers vector output
    form.set_models([ModelEntry("sd", sizes=[512], default_size=512)], [])
    assert not form.vector.isEnabled()
    form.vector.setChecked(True)
    assert form.params().vector is False  # never asked of a model that cannot
    form.set_models([ModelEntry("builtin", sizes=[32, 64, 128], default_size=128,
                                vector=True)], [])
    assert form.vector.isEnabled() and form.params().vector is True


def test_a_vector_generation_becomes_a_vector_layer(qtbot, window):
    form, doc = window.panel.form, window.doc
    form.prompt.setPlainText("a red apple")
    form.steps.setValue(2)
    form.size.setCurrentIndex(form.size.findData(128))
    form.vector.setChecked(True)
    n = len(doc.layers)
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(doc.layers) == n + 1, timeout=WAIT)
    layer = doc.layers[doc.active]
    result = window.panel.results.results[0]
    assert result.svg and layer.svg is not None
    assert ET.fromstring(layer.svg).get("viewBox") == ET.fromstring(result.svg).get("viewBox")
    assert (layer.image.width(), layer.image.height()) == (128, 128)
    assert layer.provenance["vector"] is True and "Vector: svg" in layer.provenance[
        "parameters"]
    # reuse from the history: the same settings, Vector included
    form.vector.setChecked(False)
    form.set_params(window.panel.history.entries[0]["params"])
    assert form.vector.isChecked()
