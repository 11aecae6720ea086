"""Vector layers in the standalone editor: the SVG is the layer's content, and its pixels
are rendered from it (QtSvg) at the layer's size, for the canvas, PNG export and
``mergedimage.png``. The .ora keeps the SVG itself (``data/layerN.svg``; OpenRaster allows
SVG layer sources), so reopening gives the same drawing, still vector."""

from __future__ import annotations

from qtpy.QtCore import QByteArray, QRectF
from qtpy.QtGui import QImage, QPainter
from qtpy.QtSvg import QSvgRenderer

from plugin.qimage import RGBA
from plugin.svg import SvgError, parse_svg


def render_svg(svg: str, width: int, height: int) -> QImage:
    """``svg`` drawn to fill a transparent ``width`` x ``height`` RGBA8888 image (straight
    alpha, like every layer); ``SvgError`` if Qt cannot read it."""
    parse_svg(svg)  # the same checks as every host: size limit, no entities, an <svg> root
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        raise SvgError("Qt could not read the SVG drawing")
    canvas = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(0)
    painter = QPainter(canvas)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, width, height))
    painter.end()
    return canvas.convertToFormat(RGBA)


def svg_size(svg: str) -> tuple[int, int]:
    """The displayed size of a layer's SVG (its width and height attributes)."""
    _, box = parse_svg(svg)
    return max(1, round(box.shown_width)), max(1, round(box.shown_height))
