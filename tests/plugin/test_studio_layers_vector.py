"""Vector layers in the standalone editor: an SVG inserted through the host adapter is a
layer that keeps its drawing; the .ora stores the SVG itself (data/layerN.svg) and opens it
again as the same vector layer; PNG export and mergedimage.png show it rendered."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest
from PIL import Image as PILImage

from plugin.host import HostAdapter, Rect
from plugin.qimage import to_pixels
from plugin.svg import SvgError, parse_svg

# A 32-unit drawing: a red square with a square hole (even-odd), a blue dot in the hole.
DRAWING = ('<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
           '<path fill="#ff0000" fill-rule="evenodd" d="M2 2L30 2L30 30L2 30ZM10 10L10 22'
           'L22 22L22 10Z"/><path fill="#0000ff" d="M14 14L18 14L18 18L14 18Z"/></svg>')
PROV = {"prompt": "a red frame", "seed": 3, "steps": 20, "model": "builtin", "vector": True}


def pixel(image, x: int, y: int) -> tuple[int, int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue(), c.alpha()


def test_the_window_is_a_host_adapter_with_vector_layers(window):
    assert isinstance(window, HostAdapter)
    assert callable(window.insert_vector_layer)


def test_vector_layer_round_trips_through_ora_and_exports_rendered(qtbot, window, tmp_path):
    at = Rect(64, 96, 256, 256)  # 8x the drawing's own size, off the origin
    window.insert_vector_layer(DRAWING, "frame (seed 3)", PROV, at)
    doc = window.doc
    layer = doc.layers[doc.active]
    assert layer.svg is not None and (layer.x, layer.y) == (64, 96)
    assert (layer.image.width(), layer.image.height()) == (256, 256)
    # rendered from the SVG at the layer's size: crisp colours where the drawing has them
    assert pixel(layer.image, 20, 20) == (255, 0, 0, 255)  # drawing (2.5, 2.5): red frame
    assert pixel(layer.image, 100, 100)[3] == 0  # (12.5, 12.5): the hole
    assert pixel(layer.image, 128, 128) == (0, 0, 255, 255)  # the blue dot
    assert pixel(layer.image, 4, 4)[3] == 0  # outside the drawing: transparent
    # the layer's SVG is the drawing at the layer's size, same content
    _, box = parse_svg(layer.svg)
    assert (box.width, box.height, box.shown_width, box.shown_height) == (32, 32, 256, 256)
    before = to_pixels(layer.image).data
    assert window.layers.info.text().startswith("Vector layer (SVG).")  # the layer list says

    path = tmp_path / "vector.ora"
    assert window.save_file(path), window.last_notice
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("stack.xml"))
        top = root.find("stack").findall("layer")[0]
        assert top.get("name") == "frame (seed 3)" and top.get("src").endswith(".svg")
        stored = z.read(top.get("src")).decode()
        assert stored == layer.svg  # the SVG itself, not pixels
        assert 'fill="#ff0000"' in stored and "M2 2L30 2" in stored
        assert (top.get("x"), top.get("y")) == ("64", "96")
        with PILImage.open(io.BytesIO(z.read("mergedimage.png"))) as merged:
            assert merged.convert("RGBA").getpixel((64 + 128, 96 + 128)) == (0, 0, 255, 255)

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    other = StudioWindow(WorkerBridge(window.panel.bridge.client))
    qtbot.addWidget(other)
    assert other.open_file(path), other.last_notice
    reopened = other.doc.layers[-1]
    assert reopened.svg == layer.svg and reopened.name == "frame (seed 3)"
    assert reopened.provenance["prompt"] == "a red frame" and reopened.provenance["seed"] == 3
    assert (reopened.x, reopened.y) == (64, 96)
    assert to_pixels(reopened.image).data == before  # the same rendering

    png = tmp_path / "export.png"
    assert other.export_png(png), other.last_notice
    with PILImage.open(png) as im:
        rgba = im.convert("RGBA")
        assert rgba.getpixel((64 + 20, 96 + 20)) == (255, 0, 0, 255)
        assert rgba.getpixel((64 + 128, 96 + 128)) == (0, 0, 255, 255)


def test_text_that_is_not_svg_adds_nothing(window):
    n = len(window.doc.layers)
    for bad in ("", "not xml", "<html/>", '<!DOCTYPE x [<!ENTITY a "b">]><svg/>',
                '<svg xmlns="http://www.w3.org/2000/svg"/>'):
        with pytest.raises(SvgError):
            window.insert_vector_layer(bad, "bad", {}, Rect(0, 0, 32, 32))
    assert len(window.doc.layers) == n


def test_undo_removes_the_vector_layer(window):
    n = len(window.doc.layers)
    window.insert_vector_layer(DRAWING, "frame", PROV, Rect(0, 0, 64, 64))
    assert len(window.doc.layers) == n + 1
    assert window.doc.undo()
    assert len(window.doc.layers) == n
