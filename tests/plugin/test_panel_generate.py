"""The panel in the standalone editor against a real worker: type, Generate, a layer appears
with the result's pixels; history, reuse, inpaint, cancel and inline errors."""

from __future__ import annotations

import io

import pytest
from panel_helpers import WAIT
from PIL import Image as PILImage
from qtpy.QtCore import QPoint, QRect, Qt

from plugin.host import HostAdapter
from plugin.qimage import to_pixels


def results_of(window) -> list:
    """Every event the panel's bridge delivers, recorded on the UI thread. (Each queued slot
    runs as its own Qt event: wait for what this list holds, not only for the panel.)"""
    seen: list = []
    window.panel.bridge.event.connect(seen.append)
    return seen


def finished(qtbot, window, events: list) -> None:
    qtbot.waitUntil(lambda: window.panel.job is None and any(e.is_terminal for e in events),
                    timeout=WAIT)


def type_and_generate(qtbot, window, prompt: str, steps: int = 4, size: int = 64,
                      count: int = 1) -> None:
    form = window.panel.form
    form.prompt.clear()
    qtbot.keyClicks(form.prompt, prompt)
    form.steps.setValue(steps)
    form.count.setValue(count)
    form.size.setCurrentIndex(form.size.findData(size))
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)


def test_generate_inserts_a_layer_with_the_result_pixels(qtbot, window, tmp_path):
    assert isinstance(window, HostAdapter)
    preview = window.panel.preview
    assert window.panel.isVisible() and preview.isHidden()  # no empty dark square
    events = results_of(window)
    type_and_generate(qtbot, window, "a red apple", steps=6, size=64, count=2)
    assert window.panel.job is not None  # submitted without waiting: the UI thread is free
    finished(qtbot, window, events)
    assert preview.isVisible() and preview.pixmap().width() == 96  # the first result
    assert len(window.doc.layers) == 2
    result = next(e for e in events if e.type == "result")
    assert [e.type for e in events][0] == "queued"
    assert any(e.type == "progress" for e in events)  # the UI saw the run progress live
    layer = window.doc.layers[1]
    assert window.doc.active == 1  # above the background, and active
    got = to_pixels(layer.image)
    assert (got.width, got.height) == (64, 64)
    assert got.data == bytes(result.images[0].data)  # the exact pixels of the result
    assert (layer.x, layer.y) == ((512 - 64) // 2, (512 - 64) // 2)
    prov = layer.provenance
    seed = window.panel.form.seed.value()
    assert (prov["prompt"], prov["seed"], prov["steps"], prov["width"]) == (
        "a red apple", seed, 6, 64)
    assert prov["model"] == "builtin" and len(prov["model_hash"]) == 64
    assert prov["parameters"].startswith("a red apple\nSteps: 6")

    # both results are in the strip; clicking the second inserts it above the first
    strip = window.panel.results
    assert strip.count() == 2
    rect = strip.visualItemRect(strip.item(1))
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert len(window.doc.layers) == 3
    assert window.doc.layers[2].provenance["seed"] == seed + 1
    assert to_pixels(window.doc.layers[2].image).data == bytes(result.images[1].data)

    # the history remembers it; reuse fills the form again
    history = window.panel.history
    assert history.visible_prompts() == ["a red apple"]
    window.panel.form.prompt.setPlainText("something else")
    window.panel.form.seed.setValue(1)
    history.list.itemActivated.emit(history.list.item(0))
    assert window.panel.form.prompt.toPlainText() == "a red apple"
    assert window.panel.form.seed.value() == seed and window.panel.form.seed_lock.isChecked()

    # export: the flattened image with the A1111 parameters chunk of the top layer
    out = tmp_path / "flat.png"
    assert window.export_png(out)
    with PILImage.open(io.BytesIO(out.read_bytes())) as im:
        assert im.size == (512, 512)
        assert im.info["parameters"] == window.doc.layers[2].provenance["parameters"]
        assert f"Seed: {seed + 1}" in im.info["parameters"]

    # undo removes the inserted layers one by one, redo brings one back
    assert window.doc.undo() and window.doc.undo()
    assert len(window.doc.layers) == 1
    assert window.doc.redo() and len(window.doc.layers) == 2


def test_history_search_and_unlocked_seed(qtbot, window):
    for prompt in ("a blue car", "a green tree"):
        type_and_generate(qtbot, window, prompt, steps=2, size=32)
        qtbot.waitUntil(lambda: window.panel.job is None, timeout=WAIT)
    seeds = [e["params"]["seed"] for e in window.panel.history.entries]
    assert len(seeds) == 2 and seeds[0] != seeds[1]  # unlocked: a new seed each time
    window.panel.history.search.setText("car")
    assert window.panel.history.visible_prompts() == ["a blue car"]
    window.panel.history.search.setText("")
    assert window.panel.history.visible_prompts() == ["a green tree", "a blue car"]
    # the history belongs to the document (saved with it)
    assert "a blue car" in window.doc.data["t2i-history"]


def test_inpaint_uses_the_selection_and_fills_it(qtbot, window):
    # a drag on the canvas makes the rectangle selection
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(150, 150))
    qtbot.mouseMove(canvas, QPoint(260, 240))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(260, 240))
    sel = canvas.selection
    assert sel is not None and sel.width() > 10 and sel.height() > 10
    form = window.panel.form
    form.mode.setCurrentIndex(form.mode.findData("inpaint"))
    assert form.strength.isEnabled()
    events = results_of(window)
    type_and_generate(qtbot, window, "a yellow star", steps=3, size=32)
    finished(qtbot, window, events)
    assert len(window.doc.layers) == 2
    layer = window.doc.layers[1]
    assert QRect(layer.x, layer.y, layer.image.width(), layer.image.height()) == sel
    assert layer.provenance["mode"] == "inpaint"
    assert any(e.type == "result" for e in events)


def test_inpaint_without_selection_and_empty_prompt_are_explained(qtbot, window):
    form = window.panel.form
    form.mode.setCurrentIndex(form.mode.findData("inpaint"))
    type_and_generate(qtbot, window, "a cat", steps=2, size=32)
    assert window.panel.job is None  # nothing was sent
    assert "Select the area to repaint" in window.panel.message.text()
    form.mode.setCurrentIndex(form.mode.findData("txt2img"))
    type_and_generate(qtbot, window, "   ", steps=2, size=32)
    assert window.panel.job is None
    assert "Type a prompt first" in window.panel.message.text()
    assert window.panel.message.isVisible()


def test_worker_errors_are_shown_inline_in_words(qtbot, window):
    # a model that the worker does not have (e.g. deleted since the list was fetched)
    window.panel.form.model.addItem("gone-model")
    window.panel.form.model.setCurrentIndex(window.panel.form.model.count() - 1)
    type_and_generate(qtbot, window, "a cat", steps=2, size=32)
    qtbot.waitUntil(lambda: window.panel.job is None, timeout=WAIT)
    text = window.panel.message.text()
    assert "That model is not installed" in text and "gone-model" in text
    assert "builtin" in text  # the worker's list of what is installed
    assert window.panel.generate_button.isEnabled()
    assert len(window.doc.layers) == 1


@pytest.mark.parametrize("size", [512])
def test_cancel_during_a_run(qtbot, window, size):
    events = results_of(window)
    type_and_generate(qtbot, window, "a long job", steps=200, size=size, count=16)
    qtbot.waitUntil(lambda: any(e.type == "progress" for e in events), timeout=WAIT)
    qtbot.waitUntil(window.panel.preview.isVisible, timeout=WAIT)  # a preview of the run
    assert window.panel.cancel_button.isEnabled()
    qtbot.mouseClick(window.panel.cancel_button, Qt.MouseButton.LeftButton)
    finished(qtbot, window, events)
    assert window.panel.preview.isHidden()  # cleared: the run left no picture
    terminal = [e for e in events if e.is_terminal]
    assert [e.type for e in terminal] == ["cancelled"]
    assert "Cancelled after step" in window.panel.message.text()
    assert len(window.doc.layers) == 1  # nothing inserted
    assert window.panel.generate_button.isEnabled()
    assert window.panel.history.entries == []
