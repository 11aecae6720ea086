"""The settings form, image-to-image from the active layer, and an unreachable worker."""

from __future__ import annotations

from panel_helpers import WAIT
from qtpy.QtCore import Qt

from worker.client import WorkerClient
from worker.protocol import LoraParam
from worker.replies import ModelEntry


def test_form_reads_and_refills_every_setting(qtbot):
    from plugin.panel.form import ParamsForm

    form = ParamsForm()
    qtbot.addWidget(form)
    form.set_models([ModelEntry("builtin", sizes=[32, 64], default_size=64),
                     ModelEntry("sd15", sizes=[512, 768], default_size=512)], ["ink", "paper"])
    assert form.size.currentData() == 64 and form.adapters.rowCount() == 2
    form.model.setCurrentIndex(1)  # another model offers other sizes
    assert [form.size.itemData(i) for i in range(form.size.count())] == [512, 768]
    form.model.setCurrentIndex(0)
    form.prompt.setPlainText("  a red kite  ")
    form.negative.setPlainText("blurry")
    form.seed_lock.setChecked(True)
    form.seed.setValue(1234)
    form.steps.setValue(12)
    form.guidance.setValue(4.5)
    form.count.setValue(3)
    form.adapters.item(0, 0).setCheckState(Qt.CheckState.Checked)
    form.adapters.cellWidget(0, 1).setValue(0.8)
    p = form.params()
    assert (p.prompt, p.negative_prompt, p.seed, p.steps, p.guidance, p.count) == (
        "a red kite", "blurry", 1234, 12, 4.5, 3)
    # the size was left at the model's default: left out, the worker runs the model's own
    assert (p.width, p.height, p.model, form.size_value) == (None, None, "builtin", 64)
    assert p.loras == [LoraParam("ink", 0.8)]

    other = ParamsForm()
    qtbot.addWidget(other)
    other.set_models([ModelEntry("builtin", sizes=[32, 64, 128], default_size=128)],
                     ["paper"])
    other.set_params(p.to_body())
    q = other.params()
    assert q.to_body() == p.to_body()  # "ink" is listed again, checked, with its weight
    # unlocked, the seed is re-rolled on every read (and shown)
    other.seed_lock.setChecked(False)
    seeds = {other.params().seed for _ in range(5)}
    assert len(seeds) > 1 and other.seed.value() in seeds


def test_image_to_image_starts_from_the_active_layer(qtbot, window):
    form = window.panel.form
    form.mode.setCurrentIndex(form.mode.findData("img2img"))
    form.prompt.setPlainText("a green leaf")
    form.steps.setValue(3)
    form.strength.setValue(0.5)
    form.size.setCurrentIndex(form.size.findData(32))
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.doc.layers) == 2, timeout=WAIT)
    layer = window.doc.layers[1]
    # no selection: the whole canvas was the source, so the result covers it
    assert (layer.x, layer.y, layer.image.width(), layer.image.height()) == (0, 0, 512, 512)
    assert layer.provenance["mode"] == "img2img" and layer.provenance["strength"] == 0.5


def test_an_unreachable_worker_is_explained(qtbot, tmp_path):
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    client = WorkerClient(endpoint="tcp://127.0.0.1:9", token="x", spawn=False)
    try:
        window = StudioWindow(WorkerBridge(client))
        qtbot.addWidget(window)
        panel = window.panel
        panel.form.prompt.setPlainText("a cat")
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.job is None, timeout=WAIT)
        assert "could not be reached or started" in panel.message.text()
        qtbot.waitUntil(lambda: panel.bridge.state == "unavailable", timeout=WAIT)
        assert "not available" in panel.status.text()
        assert panel.generate_button.isEnabled()  # nothing hangs: the user can try again
    finally:
        client.close()
