"""A test-only Krita plugin that uses the installed T2I Studio plugin the way a designer
would: new document, type a prompt in the docker, Generate, save the .kra, reopen it.

Runs only when ``$T2I_KRITA_SCENARIO`` names a JSON file (the test writes it); writes
``result.json`` (and the received pixels, a screenshot) into the scenario's ``out_dir``,
then quits Krita. Every step waits on a condition polled by a QTimer, so Krita's event
loop (and the docker's worker events) keep running; a deadline ends a stuck run.

The main scenario is here (``small_screen.py`` and ``live.py`` hold parts of it); the
others have modules of their own: ``vector.py``, ``plan.py``, ``gateway.py``; ``common.py``
is what they all do the same way.
"""

import json
import os
import time
import traceback

from krita import Krita, Selection

from .common import fill_form, generate, open_docker, panel_ready, step_clock
from .live import live_mode
from .plan import plan_scenario
from .small_screen import small_screen
from .vector import vector_scenario

try:
    from PyQt5.QtCore import QTimer
    from PyQt5.QtGui import QImage
except ImportError:  # Krita 6
    from PyQt6.QtCore import QTimer
    from PyQt6.QtGui import QImage

CFG_PATH = os.environ.get("T2I_KRITA_SCENARIO", "")


class Runner:
    def __init__(self, cfg):
        self.cfg = cfg
        self.out = cfg["out_dir"]
        self.report = {"ok": False, "steps": []}
        self.deadline = time.monotonic() + float(cfg.get("timeout", 240))
        if cfg.get("kind") == "gateway":  # through a cluster gateway: its own module
            from .gateway import gateway_scenario

            self.steps = gateway_scenario(cfg, self.report, _rgba)
        else:
            kind = {"vector": vector_scenario, "plan": plan_scenario}.get(cfg.get("kind", ""),
                                                                         scenario)
            self.steps = kind(cfg, self.report)
        self.wait = None
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)

    def start(self):
        self.timer.start(100)

    def tick(self):
        try:
            if self.wait is not None and not self.wait():
                if time.monotonic() > self.deadline:
                    raise TimeoutError("timed out waiting after step "
                                       f"{self.report['steps'][-1:]}")
                return
            self.wait = next(self.steps)
            self.write()  # progress so far: a run that hangs still says where
        except StopIteration:
            self.report["ok"] = True
            self.finish()
        except Exception:  # noqa: BLE001 - every failure goes into the report
            self.report["error"] = traceback.format_exc()
            self.finish()

    def write(self):
        path = os.path.join(self.out, "result.json")
        with open(path + ".part", "w") as f:
            json.dump(self.report, f, indent=1)
        os.replace(path + ".part", path)

    def finish(self):
        self.timer.stop()
        self.write()
        app = Krita.instance()
        for doc in app.documents():
            doc.setModified(False)  # no "save changes?" dialog
        app.action("file_quit").trigger()  # QApplication.quit() crashes Krita 5.1


def scenario(cfg, report):
    """A generator of wait conditions; the code between yields is one step."""
    app = Krita.instance()
    window = app.activeWindow()
    step = step_clock(report)
    doc, dock = yield from open_docker(cfg, "t2i krita test")
    report["settings_problem"] = dock.content.problem.text()
    step("docker shown")
    yield from panel_ready(dock, cfg)
    panel = dock.panel
    report["status_text"] = panel.status.text()
    tabs = dock.content.tabs
    report["docker_tabs"] = [tabs.tabText(i) for i in range(tabs.count())]
    report["train_tab_is_train_panel"] = tabs.widget(1).widget() is dock.content.train_panel \
        and type(dock.content.train_panel).__name__ == "TrainPanel"
    report["worker_pid"] = dock.content.link.client.proc.pid \
        if dock.content.link.client.proc is not None else None
    if cfg.get("small_screen"):
        yield from small_screen(cfg, report, window, panel, step)
        return
    form = panel.form
    fill_form(form, cfg)
    yield from generate(panel, report, step)
    result = panel.results.results[0]
    image = result.image
    report["result"] = {"width": image.width(), "height": image.height(),
                        "provenance": result.provenance}
    with open(os.path.join(cfg["out_dir"], "result.rgba"), "wb") as f:
        f.write(_rgba(image))
    report["layers_after_generate"] = [(n.name(), n.type(), n.uniqueId().toString())
                                       for n in doc.topLevelNodes()]
    report["history_entries"] = len(panel.history.entries)
    new_layer = doc.topLevelNodes()[-1].name()
    # Krita activates the new layer through its view, asynchronously
    yield lambda: doc.activeNode() is not None and doc.activeNode().name() == new_layer
    # the adapter reads the new (active) layer back as the init image, in RGBA order
    from t2i_studio._vendor.t2i_plugin.host import Rect

    x0, y0 = (cfg["width"] - cfg["size"]) // 2, (cfg["height"] - cfg["size"]) // 2
    src = dock.content.host.source_image(Rect(x0, y0, cfg["size"], cfg["size"]))
    report["source_image_is_result"] = src is not None and src.data == _rgba(image)
    if src is not None and not report["source_image_is_result"]:
        expected = _rgba(image)
        report["source_image_differs"] = {
            "size": [src.width, src.height], "first": list(src.data[:16]),
            "bytes": sum(a != b for a, b in zip(src.data, expected, strict=False)),
            "expected_first": list(expected[:16]),
            "active": doc.activeNode().name() if doc.activeNode() else None}
    step("generated")
    shown_at = time.monotonic()
    yield lambda: time.monotonic() - shown_at > 1.5  # let the canvas and docker repaint
    if cfg.get("screenshot"):  # the docker after a generation (docs/krita.png)
        window.qwindow().grab().save(cfg["screenshot"])

    # inpaint: a rectangular selection becomes the mask and the result's place
    x, y, w, h = cfg["select"]
    selection = Selection()
    selection.select(x, y, w, h, 255)
    doc.setSelection(selection)
    report["host_selection"] = list(dock.content.host.selection()[0].__dict__.values())
    form.prompt.setPlainText(cfg["inpaint_prompt"])
    form.mode.setCurrentIndex(form.mode.findData("inpaint"))
    panel.generate_button.click()
    step("inpaint clicked")
    yield lambda: panel.job is None
    if len(panel.results.results) != 1:
        raise AssertionError(f"no inpaint result: {panel.message.text()}")
    report["inpaint_message"] = panel.message.text()
    report["layers_after_inpaint"] = [n.name() for n in doc.topLevelNodes()]
    app.action("deselect").trigger()  # the screenshot shows the layers, not marching ants
    form.mode.setCurrentIndex(form.mode.findData("txt2img"))
    form.prompt.setPlainText(cfg["prompt"])
    step("inpainted")
    settled_at = time.monotonic()
    yield lambda: time.monotonic() - settled_at > 0.5
    doc.waitForDone()  # the deselect and layer updates run as Krita strokes: let them end
    if cfg.get("live_prompts"):
        yield from live_mode(cfg, report, panel, doc, step)
    report["saved"] = bool(doc.saveAs(cfg["kra"]))
    step("saved")
    doc.waitForDone()
    doc.setModified(False)  # saved above; a late update must not ask "save changes?"
    doc.close()
    reopened = app.openDocument(cfg["kra"])
    window.addView(reopened)
    yield lambda: app.activeDocument() is not None \
        and app.activeDocument().fileName() == cfg["kra"]
    doc2 = app.activeDocument()
    host = dock.content.host
    report["reopened"] = {
        "annotation_types": list(doc2.annotationTypes()),
        "provenance_annotation": bytes(doc2.annotation("t2i-provenance")).decode(),
        "history": host.document_data("t2i-history"),
        "layers": [(n.name(), n.type(), n.uniqueId().toString())
                   for n in doc2.topLevelNodes()],
        "panel_history_entries": len(panel.history.entries),
    }
    step("reopened")

    # with no document open, a result clicked in the strip opens as a new document
    doc2.setModified(False)
    doc2.close()
    yield lambda: app.activeDocument() is None
    panel.results.itemClicked.emit(panel.results.item(0))
    yield lambda: app.activeDocument() is not None
    doc3 = app.activeDocument()
    report["without_document"] = {
        "size": [doc3.width(), doc3.height()],
        "layers": [n.name() for n in doc3.topLevelNodes()],
        "annotation_types": list(doc3.annotationTypes())}
    step("inserted without a document")


def _rgba(image):
    """The QImage's pixels as tight RGBA bytes (the worker's layout)."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    raw = bytes(ptr)
    row, stride = image.width() * 4, image.bytesPerLine()
    return b"".join(raw[y * stride:y * stride + row] for y in range(image.height()))


def _start():
    with open(CFG_PATH) as f:
        cfg = json.load(f)
    _windows.append(Runner(cfg))  # kept alive here
    QTimer.singleShot(500, _windows[-1].start)


if CFG_PATH:
    _windows = []

    def _on_window():
        if not _windows:
            _start()

    Krita.instance().notifier().windowCreated.connect(_on_window)
