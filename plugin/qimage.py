"""Raw RGBA bytes <-> QImage, the same under PySide6, PyQt5 and PyQt6 (through qtpy).

The worker speaks straight-alpha RGBA8888; QImage.Format_RGBA8888 is exactly that, so a
result survives the round trip pixel for pixel (also through PNG, which is straight alpha).
"""

from __future__ import annotations

from qtpy.QtCore import QBuffer, QByteArray, QIODevice
from qtpy.QtGui import QImage, QImageReader, QImageWriter

from plugin.host import Pixels

RGBA = QImage.Format.Format_RGBA8888
GRAY = QImage.Format.Format_Grayscale8


def to_qimage(px: Pixels) -> QImage:
    """A QImage that owns a copy of the pixels (safe after ``px`` is gone)."""
    fmt, bpp = (RGBA, 4) if px.channels == 4 else (GRAY, 1)
    return QImage(px.data, px.width, px.height, px.width * bpp, fmt).copy()


def to_pixels(image: QImage, channels: int = 4) -> Pixels:
    """Tightly packed RGBA (channels=4) or grayscale (channels=1) bytes of ``image``."""
    image = image.convertToFormat(RGBA if channels == 4 else GRAY)
    w, h, row = image.width(), image.height(), image.width() * channels
    bits = image.constBits()
    if hasattr(bits, "setsize"):  # PyQt: a sip.voidptr
        bits.setsize(image.sizeInBytes())
    raw = bytes(bits)
    stride = image.bytesPerLine()
    if stride != row:  # Qt pads rows to 4 bytes
        raw = b"".join(raw[y * stride:y * stride + row] for y in range(h))
    return Pixels(w, h, raw, channels)


def png_bytes(image: QImage, texts: dict[str, str] | None = None) -> bytes:
    """``image`` as PNG, with tEXt/iTXt chunks (e.g. the A1111 ``parameters``)."""
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buf, QByteArray(b"png"))
    if texts:
        # QImage.setText, not QImageWriter.setText: the writer's variant collapses newlines
        # (the A1111 text needs them).
        image = image.copy()
        for key, value in texts.items():
            image.setText(key, value)
    if not writer.write(image):
        raise OSError(f"could not encode PNG: {writer.errorString()}")
    return bytes(buf.data())


def read_png(data: bytes, max_pixels: int = 64_000_000) -> tuple[QImage, dict[str, str]]:
    """Decode PNG bytes; raises ValueError with the reason (never returns a null image)."""
    buf = QBuffer()
    buf.setData(QByteArray(data))
    buf.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buf, QByteArray(b"png"))
    size = reader.size()
    if size.width() * size.height() > max_pixels:
        raise ValueError(f"image is {size.width()}x{size.height()}, larger than this editor "
                         "opens")
    image = reader.read()
    if image.isNull():
        raise ValueError(f"not a readable PNG ({reader.errorString()})")
    texts = {key: image.text(key) for key in image.textKeys()}
    return image, texts
