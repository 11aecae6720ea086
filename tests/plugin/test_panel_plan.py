"""The Plan tab in the standalone editor, against the real shared worker: text -> the
programme as an editable table -> variants -> inserted as one vector layer per element kind
with the programme in its provenance; editing the table and Re-solve sends the edited
programme; bad text is explained and the worker keeps serving."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from panel_helpers import WAIT
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QTableWidgetItem

from plugin.plan_layers import split_layers

PROMPT = "a two-bedroom apartment with an open kitchen, 70 m², living room facing south"


def solve(qtbot, pp, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert pp.job_id is not None
    qtbot.waitUntil(lambda: pp.job_id is None, timeout=WAIT)


def table_rows(pp) -> list[list[str]]:
    t = pp.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_plan_edit_resolve_insert(qtbot, window, tmp_path):
    pp = window.plan_panel
    window.tabs.setCurrentWidget(pp)
    pp.variants.setValue(2)
    pp.prompt.setText(PROMPT)
    solve(qtbot, pp, pp.plan_button)
    assert "2 plan(s)" in pp.message.text(), pp.message.text()
    rows = table_rows(pp)
    assert ["living_1", "living", "", "S"] in rows
    assert sum(r[1] == "bedroom" for r in rows) == 2
    assert "kitchen_1 open living_1" in pp.relations.text()
    assert pp.variant_list.count() == 2 and len(pp.svgs) == 2
    assert "Added a bathroom" in pp.message.text()  # what was assumed is shown

    # Edit: bedroom_2 becomes a 9 m² study facing north; the hall goes.
    for r, row in enumerate(rows):
        if row[0] == "bedroom_2":
            pp.table.setItem(r, 1, QTableWidgetItem("study"))
            pp.table.setItem(r, 2, QTableWidgetItem("9"))
            pp.table.setItem(r, 3, QTableWidgetItem("N"))
    hall = next(r for r, row in enumerate(table_rows(pp)) if row[1] == "hall")
    pp.table.selectRow(hall)
    pp.remove_room()
    solve(qtbot, pp, pp.resolve_button)
    prog = pp.result.programme
    kinds = [room["kind"] for room in prog["rooms"]]
    assert "hall" not in kinds and kinds.count("study") == 1, prog
    lay = pp.result.variants[0].layout
    study = next(r for r in lay["rooms"] if r["id"] == "bedroom_2")
    assert abs(study["w"] * study["h"] - 9) <= 0.9 + 1e-6
    assert study["y"] + study["h"] == lay["depth"]  # on the north wall

    # Insert variant 1 as layers.
    before = len(window.doc.layers)
    pp.insert(0)
    new = window.doc.layers[before:]
    assert [layer.name.rsplit("– ", 1)[-1] for layer in new] == [
        "Rooms", "Walls", "Doors", "Windows", "Labels", "Dimensions"]
    assert all(layer.svg is not None for layer in new)  # vector layers
    assert all(layer.provenance["programme"] == prog for layer in new)
    assert {layer.provenance["layer"] for layer in new} == {"rooms", "walls", "doors",
                                                            "windows", "labels", "dimensions"}
    # the layers share one placement: they line up
    assert len({(la.x, la.y, la.image.width(), la.image.height()) for la in new}) == 1

    # Save, open again: the programme comes back from the document and re-solves.
    path = tmp_path / "plan.ora"
    assert window.save_file(path)
    window.new_document()
    pp.table.setRowCount(0)
    assert not pp.load_from_document()  # a new document has no plan
    assert window.open_file(path)
    assert len([la for la in window.doc.layers if la.svg is not None]) == 6
    assert pp.load_from_document()
    assert [r[0] for r in table_rows(pp)] == [r["id"] for r in prog["rooms"]]
    for r, row in enumerate(table_rows(pp)):
        if row[1] == "living":
            pp.table.setItem(r, 2, QTableWidgetItem("15"))
    solve(qtbot, pp, pp.resolve_button)
    living = next(r for r in pp.result.variants[0].layout["rooms"]
                  if r["kind"] == "living")
    assert abs(living["area"] - 15) <= 1.5 + 1e-6


def test_bad_text_is_explained(qtbot, window):
    pp = window.plan_panel
    pp.prompt.setText("something nice and sunny")
    solve(qtbot, pp, pp.plan_button)
    assert "no rooms found" in pp.message.text()
    assert "two-bedroom apartment" in pp.message.text()
    pp.prompt.setText("six bedrooms in 25 m²")
    solve(qtbot, pp, pp.plan_button)
    assert "cannot fit" in pp.message.text()
    pp.prompt.setText("studio, 30 m²")
    pp.variants.setValue(1)
    solve(qtbot, pp, pp.plan_button)
    assert "1 plan(s)" in pp.message.text()


def test_split_layers_keeps_the_viewbox():
    from t2i_core.plan.api import plan_from_text

    svg = plan_from_text("1BHK 50 m2", variants=1).variants[0].svg
    parts = split_layers(svg)
    assert [k for k, _ in parts] == ["rooms", "walls", "doors", "windows", "labels",
                                     "dimensions"]
    box = ET.fromstring(svg).get("viewBox")
    assert all(ET.fromstring(p).get("viewBox") == box for _, p in parts)
