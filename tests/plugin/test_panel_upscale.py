"""The panel's Upscale button in the standalone editor against a real worker: the active
layer's drawing comes back as a new, larger, sharp layer centred where it was."""

from __future__ import annotations

import numpy as np
from panel_helpers import WAIT
from qtpy.QtCore import Qt

from plugin.host import Pixels, Rect
from plugin.panel.upscale import crop, drawn_box
from plugin.qimage import to_pixels
from t2i_core.enhance.upscale import Enhancer
from worker.replies import Upscaler


def ring(size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] + 0.5
    r = np.hypot(yy - size / 2, xx - size / 2)
    a = np.clip(np.minimum(r - size * 0.22, size * 0.38 - r) + 0.5, 0, 1)
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 0] = 200  # a red ring
    img[..., 3] = (a * 255 + 0.5).astype(np.uint8)
    return img


def click_upscale(qtbot, window, scale: int) -> list[str]:
    bar = window.panel.upscale_bar
    said: list[str] = []
    bar.said.connect(said.append)
    bar.scale.setCurrentIndex(bar.scale.findData(scale))
    qtbot.mouseClick(bar.button, Qt.MouseButton.LeftButton)
    return said


def test_upscale_adds_a_sharp_layer_centred_on_the_drawing(qtbot, window):
    icon = ring()
    # the icon as a layer in a bigger transparent area, so the panel crops to the drawing
    padded = np.zeros((64, 64, 4), np.uint8)
    padded[10:42, 20:52] = icon
    window.insert_layer(Pixels(64, 64, padded.tobytes()), "icon", {}, Rect(100, 100, 64, 64))
    before = len(window.doc.layers)
    source = to_pixels(window.doc.layers[window.doc.active].image).data
    said = click_upscale(qtbot, window, 4)
    qtbot.waitUntil(lambda: window.panel.upscale_bar.job is None
                    and len(window.doc.layers) == before + 1, timeout=WAIT)
    assert "learned upscaler" in said[-1]
    layer = window.doc.layers[window.doc.active]
    got = to_pixels(layer.image)
    ys, xs = np.nonzero(padded[..., 3])  # what is drawn: the ring without its empty corners
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    assert (got.width, got.height) == (4 * (x1 - x0), 4 * (y1 - y0))
    # centred where the drawing was (the ring's centre: 100 + 20 + 16, 100 + 10 + 16)
    assert (layer.x + got.width / 2, layer.y + got.height / 2) == (136, 126)
    expected = Enhancer().upscale(np.ascontiguousarray(padded[y0:y1, x0:x1]), 4)
    assert got.data == expected.tobytes()  # exactly the worker's learned result
    assert layer.provenance["upscale"] == {"scale": 4, "method": "learned", "model": "builtin"}
    # the source layer is untouched
    assert to_pixels(window.doc.layers[before - 1].image).data == source


def test_upscale_refuses_empty_and_too_large(qtbot, window):
    window.insert_layer(Pixels(40, 40, bytes(40 * 40 * 4)), "empty", {}, Rect(0, 0, 40, 40))
    n = len(window.doc.layers)
    said = click_upscale(qtbot, window, 4)
    assert "empty" in said[-1] and len(window.doc.layers) == n
    big = np.full((300, 300, 4), 255, np.uint8)
    window.insert_layer(Pixels(300, 300, big.tobytes()), "big", {}, Rect(0, 0, 300, 300))
    said = click_upscale(qtbot, window, 16)
    assert "smaller scale" in said[-1] and len(window.doc.layers) == n + 1
    assert window.panel.upscale_bar.button.isEnabled()


def test_drawn_box_and_crop():
    img = np.zeros((5, 7, 4), np.uint8)
    img[1:3, 2:6, 3] = 9
    img[1:3, 2:6, 0] = np.arange(8).reshape(2, 4)
    px = Pixels(7, 5, img.tobytes())
    box = drawn_box(px)
    assert box == Rect(2, 1, 4, 2)
    assert crop(px, box).data == img[1:3, 2:6].tobytes()
    assert drawn_box(Pixels(3, 3, bytes(36))) is None


def test_the_worker_lists_upscalers_and_a_diffusers_one_limits_the_scales(qtbot, window):
    bar = window.panel.upscale_bar
    # the shared worker has no models folder: only the built-in upscaler, learned
    qtbot.waitUntil(lambda: bar.model.count() == 1 and bar.model.currentData().kind != "",
                    timeout=WAIT)
    assert bar.model.currentData().kind == "learned"
    assert [bar.scale.itemData(i) for i in range(bar.scale.count())] == [2, 4, 8, 16]
    bar.set_upscalers([Upscaler("builtin", "learned", [2, 4, 8, 16]),
                       Upscaler("x4", "diffusers", [4], "StableDiffusionUpscalePipeline")])
    bar.model.setCurrentIndex(1)
    assert [bar.scale.itemData(i) for i in range(bar.scale.count())] == [4]
    said: list[str] = []
    bar.said.connect(said.append)
    bar.set_upscalers([Upscaler("builtin", "resampling", [2, 4, 8, 16])])
    assert "Only resampling is available" in said[-1]
