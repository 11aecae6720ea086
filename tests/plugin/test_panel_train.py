"""The Train tab against the real shared worker (tiny built-in model): a folder becomes an
adapter with progress, previews and a result in words; the Generate form lists it at once
and a generation uses it with a weight; cancel; bad input explained while the worker keeps
serving; the user's folder never changes.

The worker's adapter library is the session's ``T2I_ADAPTER_DIR`` (tests/conftest.py), so
names are unique per test.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from panel_helpers import WAIT
from qtpy.QtCore import Qt

from worker import protocol as P
from worker.fields import read
from worker.replies import Capabilities

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "finetune"))
from finetune_helpers import make_folder  # noqa: E402


def folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def adapter_names(window) -> list[str]:
    table = window.panel.form.adapters
    return [table.item(r, 0).text() for r in range(table.rowCount())]


def fill(tp, folder: Path, name: str, steps: int, samples: str = "", every: int = 0) -> None:
    tp.folder.setText(str(folder))
    tp.name.setText(name)
    tp.sample_prompts.setPlainText(samples)
    tp.advanced_toggle.setChecked(True)
    tp.steps.setValue(steps)
    tp.sample_every.setValue(every)


def run(qtbot, tp) -> None:
    qtbot.mouseClick(tp.train_button, Qt.MouseButton.LeftButton)
    assert tp.job_id is not None and not tp.train_button.isEnabled()
    qtbot.waitUntil(lambda: tp.job_id is None, timeout=WAIT)


def test_the_studio_shows_generate_and_train_tabs(window):
    from plugin.panel import GeneratePanel, TrainPanel

    tabs = window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Generate", "Train", "Plan"]
    assert tabs.widget(0) is window.panel and isinstance(window.panel, GeneratePanel)
    assert tabs.widget(1).widget() is window.train_panel  # in its scroll area
    assert isinstance(window.train_panel, TrainPanel)
    assert tabs.currentWidget() is window.panel  # Generate first
    tp = window.train_panel
    # defaults come from the protocol; Advanced is folded away
    assert (tp.steps.value(), tp.rank.value(), tp.learning_rate.value()) == (
        P.TRAIN_DEFAULTS["steps"], 8, P.TRAIN_DEFAULTS["learning_rate"])
    tabs.setCurrentIndex(1)  # Train (its form sits in a scroll area)
    assert not tp.advanced.isVisible()
    tp.advanced_toggle.setChecked(True)
    assert tp.advanced.isVisible()


def test_base_model_offers_trainable_models_with_their_own_settings(qtbot, window):
    tp = window.train_panel
    # the real worker's hello: the built-in model (its settings are the protocol's)
    qtbot.waitUntil(lambda: tp.model.findText("builtin") >= 0, timeout=WAIT)
    assert tp.params().model == "builtin"
    # a worker that also serves SD models (the diffusers tests list real ones): only the
    # trainable ones are offered, and picking one shows its own settings
    window.panel.bridge.capabilities.emit(read(Capabilities, {"models": [
        {"id": "builtin", "train_defaults": {}},
        {"id": "sd15", "train_defaults": {"batch": 2, "learning_rate": 1e-4, "steps": 1500,
                                          "rank": 16, "alpha": 8.0}},
        {"id": "sd15-inpaint", "train_defaults": None}, {"id": "live", "train_defaults": None}],
        "loras": []}))
    assert [tp.model.itemText(i) for i in range(tp.model.count())] == ["builtin", "sd15"]
    assert tp.model.currentText() == "builtin"  # the choice survives a new model list
    tp.model.setCurrentIndex(tp.model.findText("sd15"))
    assert (tp.steps.value(), tp.rank.value(), tp.learning_rate.value()) == (1500, 16, 0.0001)
    body = tp.params().to_body()
    assert body["model"] == "sd15" and "batch" not in body  # the worker fills it per model
    tp.model.setCurrentIndex(tp.model.findText("builtin"))
    assert (tp.steps.value(), tp.rank.value(), tp.learning_rate.value()) == (
        P.TRAIN_DEFAULTS["steps"], 8, P.TRAIN_DEFAULTS["learning_rate"])


SHADING = "Colours + learned shading (slower)"


def adapter_keys(path: str) -> set[str]:
    from safetensors import safe_open

    with safe_open(path, "np") as f:
        return set(f.keys())


def test_the_look_choice_reaches_the_worker_and_the_default_sends_none(
        qtbot, window, tmp_path: Path):
    from worker.params import TrainParams
    from worker.replies import ModelEntry

    folder = make_folder(tmp_path / "looks")
    tp = window.train_panel
    # the real worker's hello says the built-in model's training has a look
    qtbot.waitUntil(lambda: isinstance(tp.model.currentData(), ModelEntry), timeout=WAIT)
    assert tp.model.currentData().train_look
    window.tabs.setCurrentIndex(1)  # Train
    fill(tp, folder, "look-default", steps=3)
    assert tp.look.isVisible() and tp.look.isEnabled()
    assert [tp.look.itemText(i) for i in range(tp.look.count())] == [
        "Colours (keeps thin subjects)", SHADING]
    assert tp.look.currentIndex() == 0  # the default: the colour tables alone
    # left at the default, the request is the one sent before the choice existed
    p = tp.params()
    assert p.to_body() == TrainParams(
        folder=p.folder, name=p.name, trigger=p.trigger, model="builtin", steps=3,
        rank=p.rank, learning_rate=p.learning_rate, sample_prompts=[],
        sample_every=0).to_body()
    run(qtbot, tp)
    res = tp.last_result
    assert res is not None and res.name == "look-default", tp.message.text()
    assert "render_steps" not in res.metadata["settings"]  # as before: runs still resume
    assert not any(k.startswith("look.render.") for k in adapter_keys(res.path))

    tp.look.setCurrentIndex(tp.look.findText(SHADING))
    assert tp.params().render_steps == 400  # the measured value (docs/finetune.md)
    tp.look.setItemData(1, 6)  # 6 renderer steps here: 400 take about a minute on this CPU
    fill(tp, folder, "look-shading", steps=3)
    run(qtbot, tp)
    res = tp.last_result
    assert res is not None and res.name == "look-shading", tp.message.text()
    assert res.metadata["settings"]["render_steps"] == 6  # the job the worker ran
    keys = adapter_keys(res.path)
    assert "look.render.config" in keys  # the learned renderer is in the adapter
    assert {k for k in keys if k.startswith("look.render.")} - {"look.render.config"}
    # kept between runs (and through the hello the worker re-sends after a result)
    qtbot.waitUntil(lambda: "look-shading" in adapter_names(window), timeout=WAIT)
    assert tp.look.currentText() == SHADING and tp.params().render_steps == 6

    # an SD model's training has no look: the choice is disabled, says why, sends nothing
    window.panel.bridge.capabilities.emit(read(Capabilities, {"models": [
        {"id": "builtin", "train_defaults": {}, "train_look": True},
        {"id": "sd15", "train_defaults": {"learning_rate": 1e-4, "steps": 800}}],
        "loras": []}))
    assert tp.look.isEnabled() and tp.look.currentText() == SHADING
    tp.model.setCurrentIndex(tp.model.findText("sd15"))
    assert not tp.look.isEnabled() and "Stable Diffusion" in tp.look.toolTip()
    assert tp.params().render_steps == 0 and tp.params().to_body()["render_steps"] == 0
    tp.model.setCurrentIndex(tp.model.findText("builtin"))
    assert tp.look.isEnabled() and tp.params().render_steps == 6  # the choice came back


def test_train_shows_progress_previews_and_the_adapter_is_usable_at_once(
        qtbot, window, tmp_path: Path):
    folder = make_folder(tmp_path / "teal pictures")
    before = folder_hashes(folder)
    tp = window.train_panel
    window.tabs.setCurrentIndex(1)  # Train
    tp.set_folder(str(folder))
    assert tp.name.text() == "teal pictures"  # an empty name follows the folder
    fill(tp, folder, "teal", steps=12, samples="a circle\n\na square\n", every=4)
    tp.trigger.setText("teal style")
    seen: list[tuple[int, int, str]] = []  # (bar value, bar maximum, info text) per progress
    samples_seen: list[list[str]] = []

    def after_panel(ev):  # connected after the panel: sees what the event did to it
        if ev.id == tp.job_id and ev.type == "progress":
            seen.append((tp.progress.value(), tp.progress.maximum(), tp.info.text()))
            samples_seen.append(tp.visible_samples())

    window.panel.bridge.event.connect(after_panel)
    run(qtbot, tp)
    text = tp.message.text()
    assert "Adapter “teal” is ready" in text, text
    assert "trained on 7 images in 12 steps" in text
    res = tp.last_result
    assert res is not None and res.name == "teal" and res.images == 7
    total = res.skipped_total
    assert total >= 4 and f"Skipped {total} files: " in text
    assert f"{res.skipped[0].file} ({res.skipped[0].reason})" in text
    assert f"and {total - 3} more" in text
    # the bar moved through the run, with loss and ETA in words
    training = [s for s in seen if s[1] == 12 and "Training" in s[2]]
    assert training and training[-1][0] == 12 and min(v for v, _, _ in training) < 12
    assert any("loss " in info and " left" in info for _, _, info in training)
    assert any(info.startswith("Reading the folder") for _, _, info in seen)
    # previews: one thumbnail per prompt, labelled with it
    assert ["a circle", "a square"] in samples_seen
    assert tp.visible_samples() == ["a circle", "a square"]
    assert not tp.sample_labels[0].pixmap().isNull()
    assert tp.train_button.isEnabled() and not tp.cancel_button.isEnabled()
    assert folder_hashes(folder) == before  # the user's folder: byte for byte

    # the Generate form lists the adapter without a restart; generate with it, weight 0.8
    qtbot.waitUntil(lambda: "teal" in adapter_names(window), timeout=WAIT)
    form = window.panel.form
    row = adapter_names(window).index("teal")
    form.adapters.item(row, 0).setCheckState(Qt.CheckState.Checked)
    form.adapters.cellWidget(row, 1).setValue(0.8)
    form.prompt.setPlainText("a circle, teal style")
    form.steps.setValue(3)
    form.size.setCurrentIndex(form.size.findData(32))
    window.tabs.setCurrentWidget(window.panel)
    layers = len(window.doc.layers)
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.panel.job is None, timeout=WAIT)
    assert len(window.doc.layers) == layers + 1, window.panel.message.text()
    assert window.doc.layers[-1].provenance["loras"] == [{"name": "teal", "weight": 0.8}]

    # the same name again: a new version, said clearly; the first adapter stays
    window.tabs.setCurrentIndex(1)  # Train
    fill(tp, folder, "teal", steps=4)
    run(qtbot, tp)
    text = tp.message.text()
    assert "Adapter “teal-2” is ready" in text, text
    assert "“teal” was already taken" in text and "was not changed" in text
    assert tp.visible_samples() == []  # no sample prompts this time
    qtbot.waitUntil(lambda: "teal-2" in adapter_names(window), timeout=WAIT)
    assert folder_hashes(folder) == before


def test_cancel_mid_run_then_the_panel_trains_again(qtbot, window, tmp_path: Path):
    folder = make_folder(tmp_path / "pics")
    tp = window.train_panel
    fill(tp, folder, "to-cancel", steps=5000)
    qtbot.mouseClick(tp.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tp.progress.maximum() == 5000 and tp.progress.value() >= 2,
                    timeout=WAIT)
    qtbot.mouseClick(tp.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tp.job_id is None, timeout=WAIT)
    text = tp.message.text()
    assert text.startswith("Training cancelled after step ") and "continue" in text, text
    assert tp.train_button.isEnabled() and not tp.cancel_button.isEnabled()
    assert "to-cancel" not in adapter_names(window)
    # usable again: a short run of another adapter finishes
    fill(tp, folder, "after-cancel", steps=3)
    run(qtbot, tp)
    assert "Adapter “after-cancel” is ready" in tp.message.text(), tp.message.text()


@pytest.mark.parametrize("case", ["missing", "escape", "non_images", "empty", "file"])
def test_bad_input_is_explained_and_the_worker_keeps_running(qtbot, window, tmp_path: Path,
                                                             case: str):
    junk = tmp_path / "not pictures"
    junk.mkdir()
    (junk / "notes.md").write_text("not an image")
    (junk / "empty.png").write_bytes(b"")
    (junk / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = make_folder(tmp_path / "good")
    (tmp_path / "empty").mkdir()
    folder, name, expected = {
        "missing": (tmp_path / "nowhere", "x", ["was not found", "nowhere"]),
        "escape": (good, "../x", ["Choose another adapter name", "'../x' is not allowed"]),
        "non_images": (junk, "junk", ["no image that can be used", "notes.md", "empty.png"]),
        "empty": (tmp_path / "empty", "e", ["The image folder is empty", "at least 5"]),
        "file": (junk / "notes.md", "f", ["That is a file, not a folder"]),
    }[case]
    before = {p: folder_hashes(p) for p in (junk, good)}
    tp = window.train_panel
    fill(tp, folder, name, steps=3)
    run(qtbot, tp)
    text = tp.message.text()
    assert all(e in text for e in expected), text
    assert "color: #c62828" in tp.message.styleSheet()  # shown as a problem
    assert tp.train_button.isEnabled()
    assert {p: folder_hashes(p) for p in (junk, good)} == before
    assert not any(n in adapter_names(window) for n in ("x", "junk", "e", "f"))
    # the worker keeps serving: a generation right after works
    form = window.panel.form
    form.prompt.setPlainText("a square")
    form.steps.setValue(2)
    form.size.setCurrentIndex(form.size.findData(32))
    layers = len(window.doc.layers)
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.panel.job is None, timeout=WAIT)
    assert len(window.doc.layers) == layers + 1, window.panel.message.text()


def test_missing_fields_are_caught_before_anything_is_sent(qtbot, window, tmp_path: Path):
    tp = window.train_panel
    sent: list = []
    window.panel.bridge.event.connect(sent.append)
    tp.folder.setText("  ")
    tp.name.setText("ink")
    tp.train()
    assert tp.job_id is None and "Pick the folder of images" in tp.message.text()
    tp.folder.setText(str(tmp_path))
    tp.name.setText("")
    tp.train()
    assert tp.job_id is None and "Give the adapter a name" in tp.message.text()
    tp.name.setText("ink")
    tp.sample_prompts.setPlainText("a\nb\nc\nd\ne")
    tp.train()
    assert tp.job_id is None and "at most 4 sample prompts" in tp.message.text()
    qtbot.wait(200)
    assert sent == []  # nothing reached the worker


def test_result_sentences_for_resumed_and_already_finished_runs(qtbot, window):
    """The wording of results the worker sends after a resume (fed to the panel directly:
    the resume itself is tested against the worker in tests/finetune)."""
    from worker.protocol import Message
    from worker.replies import read_reply

    tp = window.train_panel
    base = {"name": "ink", "requested_name": "ink", "images": 5, "steps": 400, "loss": 0.5,
            "seconds": 75.0, "skipped": [{"file": "a.md", "reason": "not an image"}],
            "skipped_total": 1}
    for resumed, expected in ((120, "Continued an interrupted run from step 120."),
                              (400, "had already finished")):
        tp.job_id = f"job-{resumed}"
        ev = Message("result", tp.job_id, {**base, "resumed_from": resumed})
        ev.reply = read_reply("train", ev)  # as the client hands it out
        tp._on_event(ev)
        text = tp.message.text()
        assert expected in text and "Skipped 1 file: a.md (not an image)." in text, text
        assert "more" not in text and tp.job_id is None
        assert tp.info.text() == "final loss 0.5000 · 1 min 15 s"


def test_browse_fills_the_folder_and_an_empty_name(qtbot, window, tmp_path: Path,
                                                   monkeypatch):
    """The dialog itself is the platform's (modal); its answer is what the form uses."""
    import plugin.panel.train as train_mod

    asked: list[str] = []

    def pick(parent, title, start):
        asked.append(title)
        return str(tmp_path / "riso tiles")

    monkeypatch.setattr(train_mod.QFileDialog, "getExistingDirectory", pick)
    tp = window.train_panel
    tp.name.setText("")
    qtbot.mouseClick(tp.browse_button, Qt.MouseButton.LeftButton)
    assert asked and tp.folder.text() == str(tmp_path / "riso tiles")
    assert tp.name.text() == "riso tiles"
    tp.name.setText("mine")
    qtbot.mouseClick(tp.browse_button, Qt.MouseButton.LeftButton)
    assert tp.name.text() == "mine"  # a name the user typed is kept
