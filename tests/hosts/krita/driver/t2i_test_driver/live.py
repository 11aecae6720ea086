"""Live mode in Krita, parts of the driver's main scenario: one preview layer whose pixels
follow the prompt (``live_mode``), and the preview following the active document
(``live_documents``).
"""

import os

from krita import Krita


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
