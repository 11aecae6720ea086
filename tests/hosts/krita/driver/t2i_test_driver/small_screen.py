"""The ``small_screen`` part of the driver's main scenario: where the docker's Generate button
is on a small screen among Krita's default dockers, before and after a generation, and then
Live across two documents (tests/hosts/krita/test_krita_small_screen.py).
"""

import time

from .live import live_documents


def small_screen(cfg, report, window, panel, step):
    """The docker among Krita's default dockers on a small screen: where the Generate
    button is on the screen, before and after a generation; a screenshot of the window."""
    try:
        from PyQt5.QtCore import QPoint
        from PyQt5.QtWidgets import QDockWidget
    except ImportError:  # Krita 6
        from PyQt6.QtCore import QPoint
        from PyQt6.QtWidgets import QDockWidget
    qwin = window.qwindow()
    # Xvfb has no window manager, so showMaximized() leaves Krita where it was: place the
    # window on the whole screen as a desktop's maximize does. Krita keeps its minimum
    # size, so a docker that needs more height than the screen still shows here.
    free = qwin.screen().availableGeometry()
    report["window_before_placing"] = [qwin.x(), qwin.y(), qwin.width(), qwin.height()]
    qwin.setGeometry(free)
    settled = time.monotonic()
    yield lambda: time.monotonic() - settled > 2.0  # let the dock layout settle

    def geometry(widget):
        at = widget.mapToGlobal(QPoint(0, 0))
        return [at.x(), at.y(), widget.width(), widget.height()]

    def measure():
        screen = qwin.screen().geometry() if hasattr(qwin, "screen") else None
        return {
            "screen": [screen.x(), screen.y(), screen.width(), screen.height()],
            "window": [qwin.frameGeometry().x(), qwin.frameGeometry().y(),
                       qwin.frameGeometry().width(), qwin.frameGeometry().height()],
            "window_minimum": [qwin.minimumSizeHint().width(),
                               qwin.minimumSizeHint().height()],
            "generate": geometry(panel.generate_button),
            "generate_visible": panel.generate_button.isVisible(),
            "prompt": geometry(panel.form.prompt),
            "prompt_visible": panel.form.prompt.isVisible(),
            "advanced_folded": panel.form.advanced.folded,
            "docker_minimum_height": panel.parentWidget().minimumSizeHint().height(),
            "dockers": sorted(d.windowTitle() for d in qwin.findChildren(QDockWidget)
                              if d.isVisible() and not d.isFloating()),
            # each docker: [x, y, width, height, minimum height] (what squeezes whom)
            "docker_geometry": {d.windowTitle(): [*geometry(d), d.minimumSizeHint().height()]
                                for d in qwin.findChildren(QDockWidget) if d.isVisible()},
        }
    report["small_screen"] = {"before": measure()}
    step("measured")
    panel.form.prompt.setPlainText(cfg["prompt"])
    panel.form.seed.setValue(cfg["seed"])
    panel.form.seed_lock.setChecked(True)
    panel.generate_button.click()
    yield lambda: panel.job is None
    report["message"] = panel.message.text()
    report["small_screen"]["results"] = len(panel.results.results)
    shown = time.monotonic()
    yield lambda: time.monotonic() - shown > 1.5
    report["small_screen"]["after"] = measure()
    if cfg.get("screenshot"):
        qwin.grab().save(cfg["screenshot"])
    step("generated on a small screen")
    if cfg.get("live_prompt"):
        yield from live_documents(cfg, report, window, panel, step)
