"""OpenRaster: a generated document survives save and reopen (order, pixels, provenance,
history); the file has the layout other programs read; saving is atomic; damaged or foreign
files open with a clear message or load what they can, and are never written."""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from panel_helpers import WAIT
from PIL import Image as PILImage
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QImage

from plugin.qimage import RGBA, to_pixels
from plugin.studio import ora
from plugin.studio.document import Layer
from plugin.studio.ora import NS, OraError, open_ora


def generate_one(qtbot, window, prompt: str) -> None:
    form = window.panel.form
    form.prompt.setPlainText(prompt)
    form.steps.setValue(3)
    form.size.setCurrentIndex(form.size.findData(64))
    n = len(window.doc.layers)
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.doc.layers) == n + 1, timeout=WAIT)


def snapshot(doc) -> list[tuple]:
    return [(la.name, la.x, la.y, la.visible, round(la.opacity, 3), la.provenance,
             to_pixels(la.image).data) for la in doc.layers]


def test_save_and_reopen_keeps_order_pixels_provenance_and_history(qtbot, window, tmp_path):
    generate_one(qtbot, window, "a red apple")
    generate_one(qtbot, window, "a blue fish")
    doc = window.doc
    doc.set_opacity(1, 0.5)
    doc.set_visible(0, False)
    doc.rename(2, "fish")
    before = snapshot(doc)
    assert [la.name for la in doc.layers][0] == "Background"
    path = tmp_path / "scene.ora"
    assert window.save_file(path)
    assert not doc.modified and window.windowTitle().startswith("scene.ora")

    # the layout other programs read
    with zipfile.ZipFile(path) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        names = set(z.namelist())
        assert {"stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png"} <= names
        root = ET.fromstring(z.read("stack.xml"))
        assert (root.get("w"), root.get("h")) == ("512", "512")
        layers = root.find("stack").findall("layer")
        assert [el.get("name") for el in layers] == ["fish", before[1][0], "Background"]
        assert layers[0].get(f"{{{NS}}}prompt") == "a blue fish"
        assert layers[2].get(f"{{{NS}}}prompt") is None  # not generated: no provenance
        assert layers[2].get("visibility") == "hidden"
        with PILImage.open(io.BytesIO(z.read(layers[0].get("src")))) as im:
            assert im.info["parameters"].startswith("a blue fish\n")  # per-layer PNG too
        with PILImage.open(io.BytesIO(z.read("Thumbnails/thumbnail.png"))) as im:
            assert max(im.size) <= 256

    # reopen in a fresh window: everything as it was, the file untouched
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    other = StudioWindow(WorkerBridge(window.panel.bridge.client))
    qtbot.addWidget(other)
    assert other.open_file(path), other.last_notice
    assert snapshot(other.doc) == before
    assert other.doc.layers[2].provenance["loras"] == []
    assert isinstance(other.doc.layers[2].provenance["seed"], int)
    assert other.panel.history.visible_prompts() == ["a blue fish", "a red apple"]
    assert other.layers.list.count() == 3 and other.layers.list.item(0).text() == "fish"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_save_is_atomic(qtbot, window, tmp_path, monkeypatch):
    path = tmp_path / "keep.ora"
    assert window.save_file(path)
    original = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ora, "png_bytes", broken)  # a failure half-way through the save
    window.doc.insert(Layer("new", QImage(8, 8, RGBA)))
    assert not window.save_file(path)
    assert "No space left on device" in window.last_notice
    assert "not changed" in window.last_notice
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["keep.ora"]  # no temp file left


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def png(color: str, w: int = 16, h: int = 16) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGBA", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


GOOD_STACK = (b'<?xml version="1.0"?><image w="32" h="32"><stack>'
              b'<layer name="top" src="data/a.png" x="4" y="4"/>'
              b'<layer name="bottom" src="data/b.png"/></stack></image>')


@pytest.mark.parametrize("case", ["random-bytes", "empty", "truncated", "no-stack-no-merged",
                                  "xml-garbage", "all-layers-broken"])
def test_unreadable_files_give_a_clear_error_and_stay_untouched(qtbot, window, tmp_path, case):
    path = tmp_path / "bad.ora"
    if case == "random-bytes":
        path.write_bytes(b"\x89PNG not really" * 50)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        write_zip(path, {"mimetype": b"image/openraster", "stack.xml": GOOD_STACK,
                         "data/a.png": png("red"), "data/b.png": png("blue")})
        path.write_bytes(path.read_bytes()[:200])
    elif case == "no-stack-no-merged":
        write_zip(path, {"mimetype": b"image/openraster", "data/a.png": png("red")})
    elif case == "xml-garbage":
        write_zip(path, {"mimetype": b"image/openraster", "stack.xml": b"<image><stack"})
    else:
        write_zip(path, {"mimetype": b"image/openraster", "stack.xml": GOOD_STACK,
                         "data/a.png": b"not a png", "data/b.png": png("blue")[:30]})
    before = path.read_bytes()
    layers_before = list(window.doc.layers)
    assert not window.open_file(path)
    assert "bad.ora" in window.last_notice and len(window.last_notice) > 30
    assert window.doc.layers == layers_before  # the open document stays as it was
    assert path.read_bytes() == before
    with pytest.raises(OraError):
        open_ora(path)


def test_damaged_and_foreign_files_load_what_they_can(qtbot, window, tmp_path):
    # one broken layer PNG: the other layers load, the notice names the broken one
    path = write_zip(tmp_path / "half.ora", {
        "mimetype": b"image/openraster", "stack.xml": GOOD_STACK,
        "data/a.png": b"garbage", "data/b.png": png("blue", 32, 32)})
    before = path.read_bytes()
    assert window.open_file(path)
    assert [la.name for la in window.doc.layers] == ["bottom"]
    assert "'top'" in window.last_notice and "could not be read" in window.last_notice
    assert path.read_bytes() == before

    # a foreign file: no mimetype, nested groups with offsets, other attributes, a missing
    # layer file, no size on <image>
    stack = (b'<image version="0.0.5"><stack name="root">'
             b'<stack name="group" x="10" y="5"><layer name="in group" src="data/g.png" '
             b'x="1" y="2" opacity="0.25" visibility="hidden" gimp:foo="bar" '
             b'xmlns:gimp="urn:gimp"/></stack>'
             b'<layer name="missing" src="data/nope.png"/>'
             b'<layer name="base" src="data/base.png"/></stack></image>')
    path = write_zip(tmp_path / "gimp.ora", {"stack.xml": stack,
                                              "data/g.png": png("green", 8, 8),
                                              "data/base.png": png("white", 40, 30)})
    assert window.open_file(path)
    doc = window.doc
    assert [la.name for la in doc.layers] == ["base", "in group"]
    grouped = doc.layers[1]
    assert (grouped.x, grouped.y, grouped.visible, grouped.opacity) == (11, 7, False, 0.25)
    assert grouped.provenance is None
    assert (doc.width, doc.height) == (40, 30)
    notice = window.last_notice
    assert "mimetype is missing" in notice and "flattened" in notice
    assert "data/nope.png is missing" in notice

    # layers gone but the flattened image is there: open that
    path = write_zip(tmp_path / "merged.ora", {"mimetype": b"image/openraster",
                                                "stack.xml": b"<<<",
                                                "mergedimage.png": png("red", 20, 10)})
    assert window.open_file(path)
    assert [la.name for la in window.doc.layers] == ["Merged image"]
    assert "flattened image" in window.last_notice


def test_layer_list_edits_and_undo(qtbot, window):
    doc = window.doc
    red = QImage(16, 16, RGBA)
    red.fill(QColor("red"))
    doc.insert(Layer("one", red))
    doc.insert(Layer("two", red))
    panel = window.layers
    assert [panel.list.item(i).text() for i in range(3)] == ["two", "one", "Background"]
    # visibility by the check box, rename by editing the item
    panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert not doc.layers[1].visible
    panel.list.item(1).setText("renamed")
    assert doc.layers[1].name == "renamed"
    # opacity acts on the active layer (the one selected in the list)
    panel.list.setCurrentRow(0)
    panel.opacity.setValue(40)
    assert doc.layers[2].opacity == pytest.approx(0.4)
    # order: move the top layer down
    qtbot.mouseClick(panel.down, Qt.MouseButton.LeftButton)
    assert [la.name for la in doc.layers] == ["Background", "two", "renamed"]
    # delete, then undo the delete, the move and the rename
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.delete, Qt.MouseButton.LeftButton)
    assert [la.name for la in doc.layers] == ["Background", "two"]
    assert doc.undo() and [la.name for la in doc.layers] == ["Background", "two", "renamed"]
    assert doc.undo() and [la.name for la in doc.layers] == ["Background", "renamed", "two"]
    assert doc.undo() and doc.layers[1].name == "one"
    assert doc.redo() and doc.layers[1].name == "renamed"
    # the canvas shows only visible layers: hide everything, the composite is transparent
    for i in range(len(doc.layers)):
        doc.set_visible(i, False)
    assert doc.composite().pixelColor(5, 5).alpha() == 0
