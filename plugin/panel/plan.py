"""The Plan form: text -> a room programme (an editable table) -> floor-plan variants, solved
by the worker, inserted as vector layers (one per element kind).

The user types a description and presses Plan. The worker answers with the programme it read
(shown as a table, with the words it did not understand and what it assumed), several
layout variants, and per variant the layered SVG and plain geometry. Editing the table
(a room's kind, area, facing side; adding or removing rooms) and pressing Re-solve sends the
edited programme back: nothing is re-read from the text. Insert adds the chosen variant as
layers Rooms, Walls, Doors, Windows, Labels, Dimensions, each with the programme in its
provenance, so a plan layer can be traced back, edited and solved again.
"""

from __future__ import annotations

import copy
import json

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from plugin.host import HostAdapter, Rect
from plugin.panel.bridge import WorkerBridge
from plugin.plan_layers import LAYER_NAMES, split_layers
from worker.protocol import Message
from worker.replies import Cancelled, Failure, PlanResult, Progress

STORE_KEY = "t2i-plan"  # document data: the programme of the last plan inserted (JSON)
COLUMNS = ("Room", "Kind", "Area m²", "Facing")
KINDS = ("living", "kitchen", "dining", "master", "bedroom", "ensuite", "bathroom", "wc",
         "study", "utility", "storage", "hall", "balcony", "garage")
EXAMPLE = "a two-bedroom apartment with an open kitchen, 70 m², living room facing south"
_SUBMITTING = "<submitting>"


class PlanPanel(QWidget):
    def __init__(self, bridge: WorkerBridge, host: HostAdapter | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.host = bridge, host
        self.job_id: str | None = None
        self.programme: dict | None = None  # the last programme the worker solved
        self.result: PlanResult | None = None  # the last result
        self.svgs: list[str] = []  # per variant
        lay = QVBoxLayout(self)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText(f"e.g. {EXAMPLE}")
        lay.addWidget(self.prompt)
        row = QHBoxLayout()
        row.addWidget(QLabel("Variants"))
        self.variants = QSpinBox()
        self.variants.setRange(1, 6)
        self.variants.setValue(3)
        row.addWidget(self.variants)
        self.plan_button = QPushButton("Plan")
        self.resolve_button = QPushButton("Re-solve")
        self.resolve_button.setToolTip("Solve the programme as edited in the table")
        self.resolve_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        for b in (self.plan_button, self.resolve_button, self.cancel_button):
            row.addWidget(b)
        lay.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        lay.addWidget(self.progress)
        self.message = QLabel()
        self.message.setObjectName("planMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.message)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        lay.addWidget(self.table, 2)
        edit = QHBoxLayout()
        self.add_button = QPushButton("Add room")
        self.remove_button = QPushButton("Remove room")
        edit.addWidget(self.add_button)
        edit.addWidget(self.remove_button)
        lay.addLayout(edit)
        self.relations = QLabel()
        self.relations.setWordWrap(True)
        lay.addWidget(self.relations)
        self.variant_list = QListWidget()
        lay.addWidget(self.variant_list, 1)
        bottom = QHBoxLayout()
        self.insert_button = QPushButton("Insert as layers")
        self.insert_button.setEnabled(False)
        self.load_button = QPushButton("Load from document")
        self.load_button.setToolTip("The programme of the plan last inserted in this document "
                                    "(saved with it), to edit and re-solve")
        bottom.addWidget(self.insert_button, 2)
        bottom.addWidget(self.load_button, 1)
        lay.addLayout(bottom)

        self.plan_button.clicked.connect(self.plan)
        self.prompt.returnPressed.connect(self.plan)
        self.resolve_button.clicked.connect(self.resolve)
        self.cancel_button.clicked.connect(self.cancel)
        self.add_button.clicked.connect(self.add_room)
        self.remove_button.clicked.connect(self.remove_room)
        self.insert_button.clicked.connect(lambda: self.insert(self.variant_list.currentRow()))
        self.load_button.clicked.connect(self.load_from_document)
        bridge.event.connect(self._on_event)

    # --- actions ---------------------------------------------------------------------------

    def plan(self) -> None:
        text = self.prompt.text().strip()
        if not text:
            self.show_message(f"Describe the plan first, e.g. “{EXAMPLE}”.", error=True)
            return
        self._submit({"prompt": text})

    def resolve(self) -> None:
        prog = self.edited_programme()
        if prog is not None:
            self._submit({"programme": prog, "prompt": prog.get("source", "")})

    def cancel(self) -> None:
        if self.job_id not in (None, _SUBMITTING):
            self.bridge.cancel(self.job_id)
            self.progress.setFormat("cancelling…")

    def add_room(self) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        ids = {self.table.item(r, 0).text() for r in range(row) if self.table.item(r, 0)}
        n = 1
        while f"room_{n}" in ids:
            n += 1
        for col, text in enumerate((f"room_{n}", "bedroom", "", "")):
            self.table.setItem(row, col, QTableWidgetItem(text))

    def remove_room(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)

    def edited_programme(self) -> dict | None:
        """The programme as the table shows it now (relations to removed rooms dropped);
        None (with a message) when a cell cannot be read."""
        base = copy.deepcopy(self.programme or {"relations": [], "excluded": []})
        rooms = []
        for r in range(self.table.rowCount()):
            cells = [(self.table.item(r, c).text().strip() if self.table.item(r, c) else "")
                     for c in range(len(COLUMNS))]
            rid, kind, area, facing = cells
            if kind not in KINDS:
                self.show_message(f"Row {r + 1}: kind “{kind}” is not one of "
                                  f"{', '.join(KINDS)}.", error=True)
                return None
            try:
                value = float(area.replace(",", ".")) if area else None
            except ValueError:
                self.show_message(f"Row {r + 1}: area “{area}” is not a number of m² "
                                  "(leave it empty for a typical size).", error=True)
                return None
            facing = facing.upper()[:1] if facing else None
            if facing and facing not in "NESW":
                self.show_message(f"Row {r + 1}: facing must be N, E, S or W.", error=True)
                return None
            rooms.append({"id": rid or f"{kind}_{r + 1}", "kind": kind, "area": value,
                          "facing": facing, "label": ""})
        ids = {room["id"] for room in rooms}
        base["rooms"] = rooms
        base["relations"] = [rel for rel in base.get("relations", [])
                             if rel["a"] in ids and rel["b"] in ids]
        return base

    def insert(self, index: int) -> None:
        """Insert variant ``index`` as one vector layer per element kind."""
        if self.host is None or not (0 <= index < len(self.svgs)) or self.result is None:
            return
        svg = self.svgs[index]
        variant = self.result.variants[index]
        width, height = self.host.canvas_size()
        lay = variant.layout
        if not width or not height:
            self.show_message("Open a document first: the plan is placed on its canvas.",
                              error=True)
            return
        at = _fit(svg, width, height)
        name = (self.prompt.text().strip() or "Plan")[:40]
        provenance = {"kind": "plan", "programme": self.result.programme,
                      "layout": lay, "variant": index,
                      **{k: v for k, v in self.result.provenance.items()
                         if k in ("prompt", "seed", "time_limit")}}
        for kind, part in split_layers(svg):
            self.host.insert_vector_layer(part, f"{name} – {LAYER_NAMES.get(kind, kind)}",
                                          {**provenance, "layer": kind}, at)
        # Kept with the document too, so that re-opening it, editing the table and
        # Re-solve works without finding the layers' provenance.
        self.host.set_document_data(STORE_KEY, json.dumps(
            {"programme": self.result.programme, "prompt": self.prompt.text().strip()}))
        self.show_message(f"Inserted variant {index + 1} ({lay['width']:g} × "
                          f"{lay['depth']:g} m) as {len(LAYER_NAMES)} layers.")

    def load_from_document(self) -> bool:
        """Fill the table with the programme saved in the open document, if any."""
        raw = self.host.document_data(STORE_KEY) if self.host is not None else None
        try:
            data = json.loads(raw) if raw else None
            prog = data["programme"] if isinstance(data, dict) else None
            rooms = prog["rooms"] if isinstance(prog, dict) else None
        except (ValueError, KeyError, TypeError):
            rooms = None
        if not isinstance(rooms, list):
            self.show_message("This document has no plan inserted by T2I.", error=True)
            return False
        self.programme = prog
        self.prompt.setText(str(data.get("prompt", "")))
        self._fill_table(prog)
        self.resolve_button.setEnabled(self.job_id is None)
        self.show_message(f"Loaded the programme of this document's plan "
                          f"({len(rooms)} rooms): edit it and press Re-solve.")
        return True

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828" if error else "color: palette(text)")

    # --- worker events -----------------------------------------------------------------------

    def _submit(self, body: dict) -> None:
        if self.job_id is not None:
            return
        body = {**body, "variants": self.variants.value(), "formats": ["svg"]}
        self.show_message("")
        self.progress.setRange(0, self.variants.value())
        self.progress.setValue(0)
        self.progress.setFormat("solving…")
        for b in (self.plan_button, self.resolve_button, self.insert_button):
            b.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.job_id = _SUBMITTING
        rid = self.bridge.plan(body)
        if self.job_id == _SUBMITTING:
            self.job_id = rid

    def _on_event(self, ev: Message) -> None:
        if self.job_id is None or ev.id != self.job_id and self.job_id != _SUBMITTING:
            return
        reply = ev.reply
        if isinstance(reply, Progress):
            self.progress.setRange(0, reply.total)
            self.progress.setValue(reply.step)
            return
        if not ev.is_terminal:
            return
        self.job_id = None
        self.cancel_button.setEnabled(False)
        self.plan_button.setEnabled(True)
        self.resolve_button.setEnabled(self.programme is not None)
        self.progress.setFormat("")
        if isinstance(reply, Cancelled):
            self.show_message("Cancelled.")
        elif isinstance(reply, Failure):
            self.show_message(reply.message or "the plan failed", error=True)
        elif isinstance(reply, PlanResult):
            self._show_result(reply)

    def _show_result(self, result: PlanResult) -> None:
        self.result = result
        self.programme = result.programme
        self.svgs = [im.text() for im in result.files if im.name == "svg"]
        self._fill_table(self.programme)
        self.variant_list.clear()
        for v in result.variants:
            lay, m = v.layout, v.metrics
            item = QListWidgetItem(f"Variant {v.index + 1}: {lay['width']:g} × "
                                   f"{lay['depth']:g} m, median area error "
                                   f"{100 * m['median_area_error']:.0f} %")
            self.variant_list.addItem(item)
        self.variant_list.setCurrentRow(0)
        self.insert_button.setEnabled(bool(self.svgs) and self.host is not None)
        self.resolve_button.setEnabled(True)
        self.progress.setValue(self.progress.maximum())
        parts = [f"{len(result.variants)} plan(s) for {len(self.programme['rooms'])} rooms."]
        if result.unknown:
            parts.append(f"Not understood: {', '.join(result.unknown)}.")
        parts += [n[0].upper() + n[1:] + "." for n in result.notes]
        self.show_message(" ".join(parts))

    def _fill_table(self, prog: dict) -> None:
        self.table.setRowCount(0)
        for room in prog["rooms"]:
            row = self.table.rowCount()
            self.table.insertRow(row)
            area = "" if room.get("area") is None else f"{room['area']:g}"
            for col, text in enumerate((room["id"], room["kind"], area,
                                        room.get("facing") or "")):
                self.table.setItem(row, col, QTableWidgetItem(text))
        rels = [f"{r['a']} {r['kind']} {r['b']}" for r in prog.get("relations", [])]
        self.relations.setText("Relations: " + ("; ".join(rels) if rels else "none"))


def _fit(svg: str, width: int, height: int) -> Rect:
    """The largest rectangle of the SVG's proportions inside the canvas, centred."""
    from plugin.svg import parse_svg

    _, box = parse_svg(svg)
    scale = min(width / box.width, height / box.height)
    w, h = max(1, int(box.width * scale)), max(1, int(box.height * scale))
    return Rect((width - w) // 2, (height - h) // 2, w, h)
