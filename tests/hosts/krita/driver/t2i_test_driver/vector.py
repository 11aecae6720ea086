"""The driver's ``vector`` scenario: the host adapter inserts an SVG as a Krita vector layer,
the docker's Vector option generates one, and the .kra keeps them
(tests/hosts/krita/test_krita_vector.py); ``vector_layers`` reads a document's vector layers
back (the ``plan`` scenario uses it too).
"""


from krita import Krita

from .common import (
    fill_form,
    generate,
    open_docker,
    panel_ready,
    screenshot_save_reopen,
    step_clock,
)


def vector_scenario(cfg, report):
    """Vector layers: the host adapter inserts an SVG as a Krita vector layer (shapes from
    ``addShapesFromSvg``); with ``panel_vector`` the docker's Vector option generates one;
    the .kra is saved and reopened and its vector layers' shapes read back."""
    from t2i_studio._vendor.t2i_plugin.host import Rect

    app = Krita.instance()
    window = app.activeWindow()
    step = step_clock(report)
    doc, dock = yield from open_docker(cfg, "t2i vector test")
    host = dock.content.host
    if cfg.get("svg"):  # (the screenshot shows a generated drawing only)
        x, y, w, h = cfg["at"]
        host.insert_vector_layer(cfg["svg"], "drawing", {"prompt": "a frame", "seed": 1},
                                 Rect(x, y, w, h))
        step("vector inserted")
        doc.waitForDone()
        report["inserted"] = vector_layers(doc)
    if cfg.get("panel_vector"):
        yield from panel_ready(dock, cfg)
        panel = dock.panel
        form = panel.form
        fill_form(form, cfg)
        report["vector_option_enabled"] = form.vector.isEnabled()
        form.vector.setChecked(True)
        yield from generate(panel, report, step, "vector generate clicked")
        report["result_svg"] = panel.results.results[0].svg
        report["result_provenance"] = panel.results.results[0].provenance
        doc.waitForDone()
        step("vector generated")
    report["layers"] = [(n.name(), n.type()) for n in doc.topLevelNodes()]
    report["vector_layers"] = vector_layers(doc)
    yield from screenshot_save_reopen(app, window, doc, cfg, report)
    report["reopened"] = vector_layers(app.activeDocument())
    step("reopened")


def vector_layers(doc):
    """Each vector layer's name and its shapes: type, fill colour, bounding box (pt)."""
    out = []
    for node in doc.topLevelNodes():
        if node.type() != "vectorlayer":
            continue
        shapes = []
        for shape in node.shapes():
            box = shape.boundingBox()
            shapes.append({"type": shape.type(), "name": shape.name(),
                           "box": [box.x(), box.y(), box.width(), box.height()],
                           "svg": shape.toSvg()[:2000]})
        out.append({"name": node.name(), "shapes": shapes,
                    "bounds": [node.bounds().x(), node.bounds().y(), node.bounds().width(),
                               node.bounds().height()]})
    return out
