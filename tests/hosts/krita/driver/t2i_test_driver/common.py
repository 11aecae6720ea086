"""What every scenario of the driver does the same way: a clock for its steps, a new
document with the T2I docker shown, the docker's form filled from the test's config, and one
Generate click awaited. Each waiting helper is a generator of wait conditions, used with
``yield from`` inside a scenario."""

import time

from krita import Krita


def step_clock(report):
    """``step(name)``: record what happened, and when (seconds since the scenario began)."""
    started = time.monotonic()
    report["seconds"] = {}

    def step(name):
        report["steps"].append(name)
        report["seconds"][name] = round(time.monotonic() - started, 2)

    return step


def open_docker(cfg, title):
    """A new ``cfg["width"]`` x ``cfg["height"]`` document in a maximised window, and the T2I
    docker shown over it; returns ``(doc, dock)``."""
    from t2i_studio import extension  # the installed plugin, as Krita loaded it

    app = Krita.instance()
    window = app.activeWindow()
    doc = app.createDocument(cfg["width"], cfg["height"], title, "RGBA", "U8", "", 72.0)
    window.addView(doc)
    window.qwindow().showMaximized()
    yield lambda: app.activeDocument() is not None and bool(extension.DOCKERS)
    dock = extension.DOCKERS[-1]
    dock.show()
    dock.raise_()
    return doc, dock


def panel_ready(dock, cfg):
    """Wait until the docker's panel is connected and offers the test's size."""
    yield lambda: dock.panel is not None and dock.panel.bridge.state == "ready" \
        and dock.panel.form.size.findData(cfg["size"]) >= 0


def fill_form(form, cfg):
    form.prompt.setPlainText(cfg["prompt"])
    form.seed.setValue(cfg["seed"])
    form.seed_lock.setChecked(True)
    form.steps.setValue(cfg["steps"])
    form.size.setCurrentIndex(form.size.findData(cfg["size"]))


def generate(panel, report, step, label="generate clicked"):
    """Click Generate and wait for the job to end; a job without a result is a failure."""
    panel.generate_button.click()
    step(label)
    yield lambda: panel.job is None
    report["message"] = panel.message.text()
    if not panel.results.results:
        raise AssertionError(f"no result: {panel.message.text()}")


def screenshot_save_reopen(app, window, doc, cfg, report):
    """Steps: let the canvas settle, screenshot (when asked), save the document as .kra,
    close it and open the saved file again, until Krita shows it as the active document."""
    shown_at = time.monotonic()
    yield lambda: time.monotonic() - shown_at > 1.5
    if cfg.get("screenshot"):
        window.qwindow().grab().save(cfg["screenshot"])
    report["saved"] = bool(doc.saveAs(cfg["kra"]))
    doc.waitForDone()
    doc.setModified(False)
    doc.close()
    reopened = app.openDocument(cfg["kra"])
    window.addView(reopened)
    yield lambda: app.activeDocument() is not None \
        and app.activeDocument().fileName() == cfg["kra"]
