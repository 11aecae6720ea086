"""Live mode in the standalone editor against a real worker that serves builtin + live.

The worker is started with no --backend flag (its default now includes ``live``) on a
weights folder holding the tiny built-in model and a tiny live model trained for 4 steps.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from panel_helpers import WAIT
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QWidget
from worker_helpers import start_worker

from plugin.panel.live import DEBOUNCE_MS, PREVIEW_NAME
from plugin.qimage import to_pixels
from worker.client import WorkerClient
from worker.protocol import GenerateParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))


@pytest.fixture(scope="module")
def live_weights(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Path:
    """The tiny built-in model and a tiny live model trained 4 steps on it, in one folder."""
    from live_helpers import tiny_config

    from t2i_core.live.train import train_live

    out = tmp_path_factory.mktemp("tiny_live_panel")
    shutil.copy(tiny_weights / "builtin.safetensors", out / "builtin.safetensors")
    train_live(out / "builtin.safetensors", out / "run", out / "live.safetensors",
               tiny_config(), steps=4, progress=False)
    return out


@pytest.fixture(scope="module")
def live_worker(tmp_path_factory: pytest.TempPathFactory, live_weights: Path):
    # no --backend: the worker's default backends must include live
    wp = start_worker(tmp_path_factory.mktemp("live-worker"), "--weights-dir",
                      str(live_weights))
    yield wp
    wp.stop()


@pytest.fixture
def live_client(live_worker):
    c = WorkerClient(endpoint=live_worker.endpoint, token=live_worker.token, spawn=False)
    yield c
    c.close(stop_worker=False)


@pytest.fixture
def live_window(qtbot, live_client):
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    win = StudioWindow(WorkerBridge(live_client))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.panel.live.available, timeout=WAIT)
    form = win.panel.form
    form.seed.setValue(1234)
    form.seed_lock.setChecked(True)
    form.size.setCurrentIndex(form.size.findData(64))
    return win


def previews(win) -> list:
    return [la for la in win.doc.layers if la.preview]


def landed(qtbot, win, prompt: str) -> None:
    """Wait until the preview shows ``prompt`` and no live request is in flight."""
    live = win.panel.live

    def done() -> bool:
        return (live.current_id is None and not live.timer.isActive()
                and live.last is not None and live.last[1].get("prompt") == prompt)

    qtbot.waitUntil(done, timeout=WAIT)


def direct(client: WorkerClient, prompt: str, seed: int = 1234, size: int = 64) -> bytes:
    res = client.generate(GenerateParams(prompt=prompt, seed=seed, width=size, height=size,
                                         model="live", steps=1, guidance=0.0), timeout=120)
    return bytes(res.images[0].data)


def test_default_worker_offers_live_and_the_toggle_is_enabled(live_window, live_client):
    models = {m.id for m in live_client.list_models(timeout=60).models}
    assert {"builtin", "live"} <= models
    toggle = live_window.panel.live_bar.toggle
    assert toggle.isEnabled() and "preview" in toggle.toolTip()
    assert not live_window.panel.live_bar.pin_button.isEnabled()  # nothing to pin yet


def test_typing_yields_one_preview_layer_with_the_last_prompts_pixels(qtbot, live_window,
                                                                       live_client):
    win, live = live_window, live_window.panel.live
    qtbot.mouseClick(win.panel.live_bar.toggle, Qt.MouseButton.LeftButton)
    assert live.active
    prompt = win.panel.form.prompt
    # characters typed faster than the debounce: one request for the burst
    qtbot.keyClicks(prompt, "a red")
    landed(qtbot, win, "a red")
    # then key by key, slower than the debounce: a request per key, the latest wins
    for ch in " apple":
        qtbot.keyClicks(prompt, ch)
        qtbot.wait(DEBOUNCE_MS + 20)
    landed(qtbot, win, "a red apple")
    assert [p.prompt for p in live.sent][0] == "a red"
    assert live.sent[-1].prompt == "a red apple"
    assert all(p.model == "live" and p.seed == 1234 and p.width == 64 for p in live.sent)

    layers = win.doc.layers
    assert len(layers) == 2 and layers[0].name == "Background"  # no layer per keystroke
    (preview,) = previews(win)
    assert preview is layers[-1] and preview.name == PREVIEW_NAME
    assert not win.doc.can_undo  # previews are not on the undo stack
    got = to_pixels(preview.image)
    assert (got.width, got.height) == (64, 64)
    assert got.data == direct(live_client, "a red apple")
    assert got.data != direct(live_client, "a red")
    assert (preview.x, preview.y) == ((512 - 64) // 2, (512 - 64) // 2)
    assert win.doc.active == 0  # the user's active layer stays active


def test_a_stale_request_is_cancelled_and_never_lands(qtbot, live_window, live_client):
    win, live = live_window, live_window.panel.live
    landings: list[dict] = []
    live.updated.connect(landings.append)
    win.panel.live_bar.toggle.setChecked(True)
    form = win.panel.form
    # two requests back to back, no event processed between them: the first is stale
    form.prompt.blockSignals(True)
    form.prompt.setPlainText("a blue star")
    live.request_now()
    stale = live.current_id
    form.prompt.setPlainText("a green tree")
    live.request_now()
    form.prompt.blockSignals(False)
    assert stale in live.cancelled_ids and live.current_id != stale
    landed(qtbot, win, "a green tree")
    qtbot.wait(200)  # room for the stale request's late answer, which must be dropped
    assert [p["prompt"] for p in landings] == ["a green tree"]
    (preview,) = previews(win)
    assert to_pixels(preview.image).data == direct(live_client, "a green tree")


def test_pin_keeps_a_regular_layer_then_live_off_removes_only_the_preview(qtbot, live_window,
                                                                            live_client):
    win, live, bar = live_window, live_window.panel.live, live_window.panel.live_bar
    bar.toggle.setChecked(True)
    qtbot.keyClicks(win.panel.form.prompt, "a house icon")
    landed(qtbot, win, "a house icon")
    pinned_pixels = to_pixels(previews(win)[0].image).data

    qtbot.mouseClick(bar.pin_button, Qt.MouseButton.LeftButton)
    assert previews(win) == []
    assert len(win.doc.layers) == 2
    pinned = win.doc.layers[1]
    assert not pinned.preview and to_pixels(pinned.image).data == pinned_pixels
    prov = pinned.provenance
    assert (prov["prompt"], prov["seed"], prov["model"], prov["steps"]) == (
        "a house icon", 1234, "live", 1)
    assert prov["parameters"].startswith("a house icon")
    assert win.doc.can_undo  # inserted the way a Generate result is
    assert win.panel.history.visible_prompts() == ["a house icon"]
    assert not bar.pin_button.isEnabled()

    # the next edit starts a fresh preview layer; the pinned layer is left alone
    qtbot.keyClicks(win.panel.form.prompt, " with a door")
    landed(qtbot, win, "a house icon with a door")
    assert len(win.doc.layers) == 3
    (preview,) = previews(win)
    assert preview is win.doc.layers[-1] and preview is not pinned
    assert to_pixels(pinned.image).data == pinned_pixels
    assert to_pixels(preview.image).data == direct(live_client, "a house icon with a door")

    # Live off: the preview goes, the pinned layer and the background stay
    qtbot.mouseClick(bar.toggle, Qt.MouseButton.LeftButton)
    assert not live.active and previews(win) == []
    assert [la.name for la in win.doc.layers] == ["Background", pinned.name]
    # an edit while off sends nothing
    sent = len(live.sent)
    qtbot.keyClicks(win.panel.form.prompt, "!")
    qtbot.wait(DEBOUNCE_MS * 3)
    assert len(live.sent) == sent and previews(win) == []


def test_the_preview_is_not_saved_and_a_deleted_preview_comes_back(qtbot, live_window,
                                                                  tmp_path):
    from plugin.studio.ora import open_ora

    win, bar = live_window, live_window.panel.live_bar
    bar.toggle.setChecked(True)
    qtbot.keyClicks(win.panel.form.prompt, "a sun")
    landed(qtbot, win, "a sun")
    assert win.save_file(tmp_path / "doc.ora")
    assert [la.name for la in open_ora(tmp_path / "doc.ora").layers] == ["Background"]
    win.doc.delete(len(win.doc.layers) - 1)  # the user deletes the preview layer by hand
    assert previews(win) == []
    assert not win.doc.can_undo  # an undo must not bring back a second preview layer
    qtbot.keyClicks(win.panel.form.prompt, "ny sky")
    landed(qtbot, win, "a sunny sky")
    assert len(previews(win)) == 1 and len(win.doc.layers) == 2


def test_a_worker_without_live_disables_the_toggle(window):
    """The shared panel worker serves only the tiny built-in model (no live weights)."""
    toggle = window.panel.live_bar.toggle
    assert not window.panel.live.available
    assert not toggle.isEnabled()
    assert "live" in toggle.toolTip() and "t2i live train" in toggle.toolTip()
    assert isinstance(window.panel.live_bar, QWidget)
    assert window.panel.message.text() == ""  # a missing optional model is not an error


def test_default_backends_list_live_at_once_and_load_it_on_first_use(live_weights: Path,
                                                                     tiny_weights: Path):
    """The worker side: `live?` is listed from its file alone (no load at start-up), loads on
    its first request sharing the built-in model's text encoder, and is left out quietly
    where its weights are missing (asked for without `?`, that is a load error)."""
    from t2i_core.backends.base import GenerateRequest
    from worker.models import DEFAULT_BACKENDS, ModelCache

    def cache_on(folder: Path, specs: list[str]) -> ModelCache:
        cache = ModelCache(specs, {"builtin": {"weights_dir": folder},
                                   "live": {"weights_dir": folder}})
        cache.load()
        return cache

    cache = cache_on(live_weights, DEFAULT_BACKENDS)
    assert cache.load_error == ""
    assert {m["id"] for m in cache.model_dicts()} == {"builtin", "live"}
    live, info = cache.resolve("live")
    assert live._model is None  # listed, not loaded
    assert info.hash == live.models()[0].hash  # the cheap listing says what the load says
    res = live.generate(GenerateRequest(prompt="a cat", model="live", width=32, height=32))
    assert res.provenance[0].model == "live"
    assert live.model.encoder is cache.backends["builtin"].model.encoder  # one MiniLM

    without = cache_on(tiny_weights, DEFAULT_BACKENDS)
    assert [m["id"] for m in without.model_dicts()] == ["builtin"]
    assert without.load_error == ""
    explicit = cache_on(tiny_weights, ["builtin", "live"])
    assert "backend 'live' failed to load" in explicit.load_error
    assert "t2i live train" in explicit.load_error


def test_vector_on_previews_the_drawing_and_a_pin_adds_a_vector_layer(qtbot, live_window,
                                                                      live_client):
    """With Vector ticked the live requests ask for the drawing: the preview layer shows it
    rendered at the preview's size (sharp), and Pin adds the vector layer."""
    win, live = live_window, live_window.panel.live
    assert live.vector  # the live model lists vector output
    win.panel.form.vector.setChecked(True)
    win.panel.live_bar.toggle.setChecked(True)
    win.panel.form.prompt.setPlainText("a blue star")
    landed(qtbot, win, "a blue star")
    assert live.sent[-1].vector and live.last[1]["vector"] is True
    res = live_client.generate(GenerateParams(prompt="a blue star", seed=1234, width=64,
                                              height=64, model="live", steps=1, guidance=0.0,
                                              vector=True), timeout=120)
    (preview,) = previews(win)
    assert to_pixels(preview.image).data == bytes(res.images[0].data)
    assert live.last_svg == res.body["svg"][0]
    n = len(win.doc.layers)
    qtbot.mouseClick(win.panel.live_bar.pin_button, Qt.MouseButton.LeftButton)
    assert not previews(win) and len(win.doc.layers) == n
    pinned = win.doc.layers[win.doc.active]
    assert pinned.svg is not None and pinned.provenance["vector"] is True
