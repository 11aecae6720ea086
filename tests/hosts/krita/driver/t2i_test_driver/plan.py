"""The driver's ``plan`` scenario: floor plans from the docker's Plan tab, inserted as vector
layers, kept in the .kra and loaded back into the tab (tests/hosts/krita/test_krita_plan.py).
"""


from krita import Krita

from .common import open_docker, screenshot_save_reopen, step_clock
from .vector import vector_layers


def plan_scenario(cfg, report):
    """Floor plans: the docker's Plan tab plans from text through the worker; the first
    variant is inserted as one vector layer per element kind; the .kra keeps the layers and
    their provenance (the programme)."""
    app = Krita.instance()
    window = app.activeWindow()
    step = step_clock(report)
    doc, dock = yield from open_docker(cfg, "t2i plan test")
    yield lambda: dock.content.plan_panel is not None \
        and dock.content.plan_panel.bridge.state == "ready"
    pp = dock.content.plan_panel
    dock.content.tabs.setCurrentWidget(pp)
    pp.prompt.setText(cfg["prompt"])
    pp.variants.setValue(1)
    pp.plan_button.click()
    step("plan clicked")
    yield lambda: pp.job_id is None
    report["message"] = pp.message.text()
    report["table"] = [[pp.table.item(r, c).text() for c in range(pp.table.columnCount())]
                       for r in range(pp.table.rowCount())]
    if not pp.svgs:
        raise AssertionError(f"no plan: {pp.message.text()}")
    pp.insert(0)
    doc.waitForDone()
    step("plan inserted")
    report["layers"] = [(n.name(), n.type()) for n in doc.topLevelNodes()]
    report["vector_layers"] = vector_layers(doc)
    report["provenance"] = bytes(doc.annotation("t2i-provenance") or b"").decode(
        "utf-8", "replace")[:200000]
    yield from screenshot_save_reopen(app, window, doc, cfg, report)
    report["reopened"] = vector_layers(app.activeDocument())
    report["reopened_provenance"] = bytes(
        app.activeDocument().annotation("t2i-provenance") or b"").decode("utf-8", "replace")[
        :200000]
    step("reopened")
    # The reopened document's plan back into the Plan tab's table, to edit and re-solve.
    pp.table.setRowCount(0)
    report["loaded"] = pp.load_from_document()
    report["loaded_rows"] = pp.table.rowCount()
    pp.resolve_button.click()
    yield lambda: pp.job_id is None
    report["resolved_message"] = pp.message.text()
    step("re-solved")
