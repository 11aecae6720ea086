"""The Generate form adopts the selected model's own generation defaults (list_models:
``generate_defaults``): it shows them, follows a model change, and leaves steps, guidance
and size out of the request until the user changes them, so the worker runs the model's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from panel_helpers import WAIT
from qtpy.QtCore import Qt

from worker.client import WorkerClient
from worker.replies import GenerateDefaults, ModelEntry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
from worker_helpers import start_worker  # noqa: E402

SD = ModelEntry("sd15", sizes=[256, 512, 768], default_size=512,
                generate_defaults=GenerateDefaults(25, 7.0, 512, 512, "euler"))
ICONS = ModelEntry("builtin", sizes=[32, 64, 128], default_size=128,
                   generate_defaults=GenerateDefaults(20, 3.0, 128, 128))


def test_the_form_shows_the_models_defaults_and_sends_only_what_the_user_changed(qtbot):
    from plugin.panel.form import ParamsForm

    form = ParamsForm()
    qtbot.addWidget(form)
    form.set_models([ICONS, SD], [])
    form.prompt.setPlainText("a kite")
    assert (form.steps.value(), form.guidance.value(), form.size_value) == (20, 3.0, 128)
    body = form.params().to_body()
    assert not {"steps", "guidance", "width", "height"} & set(body)  # the model's own
    form.model.setCurrentIndex(1)  # the SD model: its own values are shown
    assert (form.steps.value(), form.guidance.value(), form.size_value) == (25, 7.0, 512)
    assert "25" in form.steps.toolTip()
    assert not {"steps", "guidance", "width"} & set(form.params().to_body())
    form.steps.setValue(30)  # the user's choice is sent and survives a model change
    form.size.setCurrentIndex(form.size.findData(256))
    p = form.params()
    assert (p.steps, p.guidance, p.width, p.height) == (30, None, 256, 256)
    form.model.setCurrentIndex(0)  # 256 px is not a size of the icon model: its default
    assert (form.steps.value(), form.guidance.value(), form.size_value) == (30, 3.0, 128)
    p = form.params()
    assert (p.steps, p.guidance, p.width) == (30, None, None)
    form.defaults_button.click()  # back to the model's own
    assert form.steps.value() == 20 and form.params().steps is None
    # a history entry's values are sent as they are, even those equal to the defaults now
    form.set_params({"prompt": "a kite", "steps": 20, "guidance": 3.0, "width": 128,
                     "model": "builtin"})
    p = form.params()
    assert (p.steps, p.guidance, p.width) == (20, 3.0, 128)


@pytest.fixture
def own_defaults_window(qtbot, tmp_path, tiny_weights):
    """The standalone editor on a worker whose second model ('synthetic') has generation
    defaults of its own, unlike the built-in model's 20 steps at guidance 3."""
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    own = {"steps": 7, "guidance": 5.5, "width": 64, "height": 64}
    wp = start_worker(tmp_path / "worker", "--weights-dir", str(tiny_weights),
                      "--backend", "builtin", "--backend", "synthetic", "--backend-option",
                      f"synthetic.generate_defaults={json.dumps(own)}")
    client = WorkerClient(endpoint=wp.endpoint, token=wp.token, spawn=False)
    win = StudioWindow(WorkerBridge(client))
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitUntil(lambda: win.panel.form.model.findText("synthetic") >= 0, timeout=WAIT)
    yield win
    client.close(stop_worker=False)
    wp.stop()


def test_a_generation_left_at_the_defaults_runs_the_models_own(qtbot, own_defaults_window):
    win = own_defaults_window
    panel, form = win.panel, win.panel.form
    sent = []
    original = panel.bridge.generate
    panel.bridge.generate = lambda params, *a: sent.append(params) or original(params, *a)
    form.model.setCurrentIndex(form.model.findText("synthetic"))
    assert (form.steps.value(), form.guidance.value(), form.size_value) == (7, 5.5, 64)
    form.prompt.setPlainText("a green square")
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.job is None and len(win.doc.layers) == 2, timeout=WAIT)
    assert (sent[0].steps, sent[0].guidance, sent[0].width) == (None, None, None)
    prov = win.doc.layers[1].provenance
    assert (prov["model"], prov["steps"], prov["guidance"], prov["width"]) == (
        "synthetic", 7, 5.5, 64)
    # the history keeps the values used: reusing it sends them explicitly
    assert panel.history.entries[0]["params"]["steps"] == 7

    form.steps.setValue(3)  # changed by the user: sent, and the worker runs it
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.job is None and len(win.doc.layers) == 3, timeout=WAIT)
    assert sent[1].steps == 3 and win.doc.layers[2].provenance["steps"] == 3
    # the built-in model: its own defaults shown again (the user's 3 steps stay)
    form.model.setCurrentIndex(form.model.findText("builtin"))
    assert (form.steps.value(), form.guidance.value(), form.size_value) == (3, 3.0, 128)
