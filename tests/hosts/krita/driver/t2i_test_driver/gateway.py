"""The driver's ``gateway`` scenario: the docker generates through a studio's cluster gateway
(its worker settings point at the gateway with the artist's CURVE key files, written into
kritarc by the test) and the result becomes a layer; the layer's pixels are read back from
Krita (``pixelData``, BGRA) and the .kra is saved. tests/cluster/test_cluster_krita.py.
"""

import os
import time

from .common import fill_form, generate, open_docker, panel_ready, step_clock


def gateway_scenario(cfg, report, rgba_of):
    """A generator of wait conditions, as the driver's other scenarios. ``rgba_of``: the
    driver's QImage -> tight RGBA bytes."""
    step = step_clock(report)
    doc, dock = yield from open_docker(cfg, "t2i gateway test")
    report["settings_problem"] = dock.content.problem.text()
    step("docker shown")
    yield from panel_ready(dock, cfg)
    panel = dock.panel
    link = dock.content.link
    report["status_text"] = panel.status.text()
    report["curve_in_use"] = bool(link.client is not None and link.client.curve)
    report["worker_started"] = link.client is not None and link.client.proc is not None
    fill_form(panel.form, cfg)
    events = []
    panel.bridge.event.connect(events.append)
    yield from generate(panel, report, step)
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
    # the layer's pixels land in a Krita stroke of their own: wait until they are there (on a
    # busy machine the job's end can come before it; then the bounds read empty)
    inserted_at = time.monotonic()
    yield lambda: doc.topLevelNodes()[-1].bounds().width() > 0 \
        or time.monotonic() - inserted_at > 20  # then the test's assertion says what is wrong
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
