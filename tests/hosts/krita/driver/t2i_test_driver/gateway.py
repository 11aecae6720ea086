"""The driver's ``gateway`` scenario: the docker generates through a studio's cluster gateway
(its worker settings point at the gateway with the artist's CURVE key files, written into
kritarc by the test) and the result becomes a layer; the layer's pixels are read back from
Krita (``pixelData``, BGRA) and the .kra is saved. tests/cluster/test_cluster_krita.py.
"""

import os
import time

from krita import Krita


def gateway_scenario(cfg, report, rgba_of):
    """A generator of wait conditions, as the driver's other scenarios. ``rgba_of``: the
    driver's QImage -> tight RGBA bytes."""
    from t2i_studio import extension  # the installed plugin, as Krita loaded it

    app = Krita.instance()
    window = app.activeWindow()
    started = time.monotonic()
    report["seconds"] = {}

    def step(name):
        report["steps"].append(name)
        report["seconds"][name] = round(time.monotonic() - started, 2)

    doc = app.createDocument(cfg["width"], cfg["height"], "t2i gateway test", "RGBA", "U8",
                             "", 72.0)
    window.addView(doc)
    window.qwindow().showMaximized()
    yield lambda: app.activeDocument() is not None and bool(extension.DOCKERS)
    dock = extension.DOCKERS[-1]
    dock.show()
    dock.raise_()
    report["settings_problem"] = dock.content.problem.text()
    step("docker shown")
    yield lambda: dock.panel is not None and dock.panel.bridge.state == "ready" \
        and dock.panel.form.size.findData(cfg["size"]) >= 0
    panel = dock.panel
    link = dock.content.link
    report["status_text"] = panel.status.text()
    report["curve_in_use"] = bool(link.client is not None and link.client.curve)
    report["worker_started"] = link.client is not None and link.client.proc is not None
    form = panel.form
    form.prompt.setPlainText(cfg["prompt"])
    form.seed.setValue(cfg["seed"])
    form.seed_lock.setChecked(True)
    form.steps.setValue(cfg["steps"])
    form.size.setCurrentIndex(form.size.findData(cfg["size"]))
    events = []
    panel.bridge.event.connect(events.append)
    panel.generate_button.click()
    step("generate clicked")
    yield lambda: panel.job is None
    report["message"] = panel.message.text()
    if not panel.results.results:
        raise AssertionError(f"no result: {panel.message.text()}")
    terminal = [e for e in events if e.is_terminal]
    report["terminal"] = {"type": terminal[-1].type, "cluster": terminal[-1].body.get(
        "cluster")} if terminal else None
    report["queued_events"] = sum(e.type == "queued" for e in events)
    report["progress_events"] = sum(e.type == "progress" for e in events)
    result = panel.results.results[0]
    report["provenance"] = result.provenance
    with open(os.path.join(cfg["out_dir"], "result.rgba"), "wb") as f:
        f.write(rgba_of(result.image))
    doc.waitForDone()
    node = doc.topLevelNodes()[-1]
    report["layers"] = [(n.name(), n.type()) for n in doc.topLevelNodes()]
    bounds = node.bounds()
    report["layer_bounds"] = [bounds.x(), bounds.y(), bounds.width(), bounds.height()]
    # Krita's own copy of the layer: raw BGRA (RGBA/U8), over the whole document
    with open(os.path.join(cfg["out_dir"], "layer.bgra"), "wb") as f:
        f.write(bytes(node.pixelData(0, 0, cfg["width"], cfg["height"])))
    step("generated")
    report["saved"] = bool(doc.saveAs(cfg["kra"]))
    doc.waitForDone()
    doc.setModified(False)
    step("saved")
