"""A test-only Krita plugin that uses the installed T2I Studio plugin the way a designer
would: new document, type a prompt in the docker, Generate, save the .kra, reopen it.

Runs only when ``$T2I_KRITA_SCENARIO`` names a JSON file (the test writes it); writes
``result.json`` (and the received pixels, a screenshot) into the scenario's ``out_dir``,
then quits Krita. Every step waits on a condition polled by a QTimer, so Krita's event
loop (and the docker's worker events) keep running; a deadline ends a stuck run.
"""

import json
import os
import time
import traceback

from krita import Krita, Selection

from .common import fill_form, generate, open_docker, panel_ready, step_clock

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
        report["inserted"] = _vector_layers(doc)
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
    report["vector_layers"] = _vector_layers(doc)
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
    report["reopened"] = _vector_layers(app.activeDocument())
    step("reopened")


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
    report["vector_layers"] = _vector_layers(doc)
    report["provenance"] = bytes(doc.annotation("t2i-provenance") or b"").decode(
        "utf-8", "replace")[:200000]
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
    report["reopened"] = _vector_layers(app.activeDocument())
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


def _vector_layers(doc):
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


def live_documents(cfg, report, window, panel, step):
    """Live follows the active document: a preview in document A; a new document B
    becomes active and the preview moves there (A's preview layer is removed); back to A,
    it moves back; Live off leaves no preview anywhere."""
    app = Krita.instance()
    live = panel.live
    doc_a = app.activeDocument()
    view_a = window.activeView()

    def key(doc):
        return doc.rootNode().uniqueId().toString() if doc is not None else None

    def previews(doc):
        return [n for n in doc.topLevelNodes() if n.name() == "Live preview"]

    def settled():
        return live.current_id is None and not live.timer.isActive() and live.last is not None

    def shown_in(doc):
        nodes = previews(doc)
        if len(nodes) != 1 or live.last is None:
            return False
        pixels, _, at = live.last
        data = bytes(nodes[0].pixelData(at.x, at.y, at.width, at.height))
        rgba = bytearray(data)  # Krita's BGRA -> RGBA
        rgba[0::4], rgba[2::4] = data[2::4], data[0::4]
        return bytes(rgba) == pixels.data

    panel.live_bar.toggle.setChecked(True)
    panel.form.prompt.setPlainText(cfg["live_prompt"])
    yield lambda: settled() and len(previews(doc_a)) == 1
    doc_a.waitForDone()
    r = report["live_documents"] = {"available": live.available,
                                    "a_first": [len(previews(doc_a)), shown_in(doc_a)]}
    step("live preview in document A")
    doc_b = app.createDocument(200, 160, "second document", "RGBA", "U8", "", 72.0)
    window.addView(doc_b)
    yield lambda: key(app.activeDocument()) == key(doc_b)
    yield lambda: settled() and len(previews(doc_b)) == 1
    doc_b.waitForDone()
    r["b_active"] = [len(previews(doc_a)), len(previews(doc_b)), shown_in(doc_b)]
    step("live moved to document B")
    view_a.setVisible()
    yield lambda: key(app.activeDocument()) == key(doc_a)
    yield lambda: settled() and len(previews(doc_a)) == 1
    doc_a.waitForDone()
    r["a_again"] = [len(previews(doc_a)), len(previews(doc_b)), shown_in(doc_a)]
    step("live moved back to document A")
    panel.live_bar.toggle.setChecked(False)
    doc_a.waitForDone()
    r["off"] = [len(previews(doc_a)), len(previews(doc_b))]
    r["requests"] = len(live.sent)
    doc_b.setModified(False)


def live_mode(cfg, report, panel, doc, step):
    """Live on, a prompt, then another: one preview layer whose pixels follow; Live off."""
    live = panel.live
    report["live"] = {"available": live.available, "updates": [],
                      "active_before": doc.activeNode().name() if doc.activeNode() else None}
    panel.live_bar.toggle.setChecked(True)
    for n, prompt in enumerate(cfg["live_prompts"]):
        panel.form.prompt.setPlainText(prompt)
        step(f"live prompt {n}")
        yield lambda prompt=prompt: live.current_id is None and not live.timer.isActive() \
            and live.last is not None and live.last[1].get("prompt") == prompt
        doc.waitForDone()
        pixels, prov, at = live.last
        previews = [nd for nd in doc.topLevelNodes() if nd.name() == "Live preview"]
        data = bytes(previews[0].pixelData(at.x, at.y, at.width, at.height)) \
            if previews else b""
        rgba = bytearray(data)  # Krita's BGRA -> RGBA
        rgba[0::4], rgba[2::4] = data[2::4], data[0::4]
        with open(os.path.join(cfg["out_dir"], f"live{n}.rgba"), "wb") as f:
            f.write(bytes(rgba))
        report["live"]["updates"].append({
            "prompt": prompt, "seed": prov.get("seed"), "model": prov.get("model"),
            "size": [at.width, at.height], "at": [at.x, at.y],
            "preview_layers": len(previews), "pixels_are_result": bytes(rgba) == pixels.data,
            "layers": [nd.name() for nd in doc.topLevelNodes()],
            "active": doc.activeNode().name() if doc.activeNode() else None})
    panel.live_bar.toggle.setChecked(False)
    doc.waitForDone()
    report["live"]["layers_after_off"] = [nd.name() for nd in doc.topLevelNodes()]
    report["live"]["requests"] = len(live.sent)
    step("live mode")


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
