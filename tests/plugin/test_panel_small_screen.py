"""The panel on a small screen: prompt and Generate on top, the rest scrolls, advanced
settings folded; the standalone window fits 1280 x 720. (Real Krita at 1280 x 720 with its
default dockers: tests/hosts/krita/test_krita_small_screen.py.)"""

from __future__ import annotations

from qtpy.QtCore import QPoint, QRect


def _inside(widget, area: QRect) -> bool:
    top_left = widget.mapTo(widget.window(), QPoint(0, 0))
    return area.contains(QRect(top_left, widget.size()))


def test_studio_window_fits_1280x720_with_generate_in_view(window, qtbot):
    panel = window.panel
    assert panel.form.advanced.folded  # folded at start
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.height() == 720, timeout=5000)
    area = QRect(0, 0, window.width(), window.height())
    for w in (panel.form.prompt, panel.generate_button, panel.live_bar.toggle):
        assert w.isVisible() and _inside(w, area), w
    # unfolding the advanced settings scrolls below; prompt and Generate stay in view
    panel.form.advanced.button.click()
    assert not panel.form.advanced.folded and panel.form.negative.isVisible()
    qtbot.wait(50)
    assert window.minimumSizeHint().height() <= 720
    assert _inside(panel.generate_button, area) and _inside(panel.form.prompt, area)
    assert panel.form.advanced.parent() is panel.scroll.widget()


def test_panel_in_a_narrow_short_dock_keeps_generate_visible(window, qtbot):
    window.resize(900, 480)  # the panel's dock gets whatever is left
    qtbot.wait(50)
    panel = window.panel
    area = QRect(0, 0, window.width(), window.height())
    assert _inside(panel.generate_button, area)
    assert panel.minimumSizeHint().height() < 140, panel.minimumSizeHint()


def test_history_reuse_fills_folded_settings(window):
    form = window.panel.form
    form.set_params({"prompt": "a red apple", "negative_prompt": "blurry", "seed": 5})
    assert form.params().negative_prompt == "blurry" and form.seed.value() == 5


def test_studio_window_opens_within_the_screen(qtbot, client):
    from qtpy.QtGui import QGuiApplication

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    free = QGuiApplication.primaryScreen().availableGeometry()  # offscreen: 800 x 600
    win = StudioWindow(WorkerBridge(client))
    qtbot.addWidget(win)
    assert win.width() <= free.width() and win.height() <= free.height()
    assert (win.width(), win.height()) == (min(1280, free.width()), min(800, free.height()))
