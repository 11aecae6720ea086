"""OpenRaster (.ora) save and open, with each generated layer's provenance.

Layout (OpenRaster 0.0.x, read by Krita, GIMP and MyPaint): ``mimetype`` first and stored
uncompressed, ``stack.xml``, ``data/layerN.png`` per layer, ``mergedimage.png``,
``Thumbnails/thumbnail.png``. A vector layer's source is its SVG (``data/layerN.svg``, which
OpenRaster allows); its pixels are in ``mergedimage.png``. Provenance goes into namespaced
attributes of each ``<layer>`` (``t2i:prompt``, ``t2i:seed``, …, namespace ``NS``), which
other programs keep or ignore; the panel's history goes into ``t2i/document.json``.

Saving writes a temp file next to the target and renames it into place, so a crash or a
full disk never leaves a half-written file where the user's was. Opening only reads; a
damaged or foreign file loads what it can (warnings) or raises ``OraError`` with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from qtpy.QtCore import Qt

from plugin.qimage import RGBA, png_bytes, read_png
from plugin.studio.document import Document, Layer
from plugin.studio.vector import render_svg, svg_size

MIMETYPE = b"image/openraster"
NS = "urn:t2i-studio:provenance:1"
DATA_FILE = "t2i/document.json"
MAX_MEMBER_BYTES = 512 * 1024 * 1024  # a bigger member is a zip bomb or not ours to open
MAX_SIDE = 16384
# Provenance fields that are not strings travel as JSON text in their attribute.
_JSON_FIELDS = {"seed", "steps", "guidance", "width", "height", "strength", "loras",
                "vector"}
ET.register_namespace("t2i", NS)


class OraError(Exception):
    """The file cannot be opened at all; the message says why and what to do."""


@dataclass
class OraContent:
    width: int
    height: int
    layers: list[Layer]  # bottom to top
    data: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# --- save ----------------------------------------------------------------------------------

def save_ora(doc: Document, path: str | os.PathLike) -> None:
    path = Path(path)
    image = ET.Element("image", {"version": "0.0.3", "w": str(doc.width),
                                 "h": str(doc.height)})
    stack = ET.SubElement(image, "stack")
    members: list[tuple[str, bytes]] = []
    saved = [la for la in doc.layers if not la.preview]  # live mode's preview is transient
    for i, layer in enumerate(reversed(saved)):  # stack.xml lists the top layer first
        src = f"data/layer{i}.svg" if layer.svg is not None else f"data/layer{i}.png"
        attrs = {"name": layer.name, "src": src, "x": str(layer.x), "y": str(layer.y),
                 "opacity": f"{layer.opacity:.4f}",
                 "visibility": "visible" if layer.visible else "hidden",
                 "composite-op": "svg:src-over"}
        texts = {}
        if layer.provenance:
            attrs.update({f"{{{NS}}}{k}": _attr_text(k, v) for k, v in layer.provenance.items()})
            if layer.provenance.get("parameters"):
                texts["parameters"] = str(layer.provenance["parameters"])
        ET.SubElement(stack, "layer", attrs)
        members.append((src, layer.svg.encode("utf-8") if layer.svg is not None
                         else png_bytes(layer.image, texts)))
    merged = doc.composite(include_preview=False)
    thumb = merged.scaled(256, 256, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation)
    members += [("mergedimage.png", png_bytes(merged)),
                ("Thumbnails/thumbnail.png", png_bytes(thumb))]
    if doc.data:
        members.append((DATA_FILE, json.dumps(doc.data).encode()))
    xml = ET.tostring(image, encoding="utf-8", xml_declaration=True)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w") as z:
                z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, zipfile.ZIP_STORED)
                z.writestr("stack.xml", xml, zipfile.ZIP_DEFLATED)
                for name, data in members:  # PNGs are compressed already; SVG is text
                    z.writestr(name, data, zipfile.ZIP_DEFLATED if name.endswith(".svg")
                               else zipfile.ZIP_STORED)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _attr_text(key: str, value: object) -> str:
    if isinstance(value, str) and key not in _JSON_FIELDS:
        return value
    return json.dumps(value)


# --- open ----------------------------------------------------------------------------------

def open_ora(path: str | os.PathLike) -> OraContent:
    """Read ``path`` (never written). Raises ``OraError`` when nothing can be loaded."""
    path = Path(path)
    try:
        z = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError) as e:
        raise OraError(f"{path.name} is not an OpenRaster file (it is not a zip archive: "
                       f"{e}). Open .ora files saved by this editor, Krita, GIMP or "
                       "MyPaint.") from None
    with z:
        warnings: list[str] = []
        mimetype = _member(z, "mimetype", warnings)
        if mimetype is not None and mimetype.strip() != MIMETYPE:
            warnings.append(f"the mimetype is {mimetype[:40]!r}, not image/openraster; "
                            "loading it anyway")
        xml = _member(z, "stack.xml", warnings)
        root = None
        if xml is not None:
            try:
                root = ET.fromstring(xml)
            except ET.ParseError as e:
                warnings.append(f"stack.xml is damaged ({e})")
        if root is None or root.tag != "image":
            return _merged_only(z, path, warnings)
        content = _from_stack(z, root, warnings)
        raw = _member(z, DATA_FILE, [], quiet=True)
        if raw is not None:
            try:
                data = json.loads(raw)
                content.data = {str(k): str(v) for k, v in data.items()}
            except (ValueError, AttributeError):
                warnings.append("the saved panel history is damaged and was skipped")
        if not content.layers:
            raise OraError(f"{path.name}: no layer could be read ({'; '.join(warnings)})")
        return content


def _from_stack(z: zipfile.ZipFile, root: ET.Element, warnings: list[str]) -> OraContent:
    layers: list[Layer] = []  # top first while reading
    flattened = False

    def walk(stack: ET.Element, dx: int, dy: int) -> None:
        nonlocal flattened
        for el in stack:
            if el.tag == "stack":
                flattened = True
                walk(el, dx + _int(el.get("x"), 0), dy + _int(el.get("y"), 0))
            elif el.tag == "layer":
                layer = _layer(z, el, dx, dy, warnings)
                if layer is not None:
                    layers.append(layer)
    top = root.find("stack")
    if top is None:
        warnings.append("stack.xml has no <stack>")
    else:
        walk(top, 0, 0)
    if flattened:
        warnings.append("layer groups were flattened into single layers")
    w, h = _int(root.get("w"), 0), _int(root.get("h"), 0)
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        w = max((lay.x + lay.image.width() for lay in layers), default=0)
        h = max((lay.y + lay.image.height() for lay in layers), default=0)
        warnings.append(f"the image size is missing or invalid; using {w}x{h}")
    return OraContent(w, h, list(reversed(layers)), warnings=warnings)


def _layer(z: zipfile.ZipFile, el: ET.Element, dx: int, dy: int,
           warnings: list[str]) -> Layer | None:
    name = el.get("name") or "Layer"
    src = el.get("src") or ""
    data = _member(z, src, warnings) if src else None
    if data is None:
        if not src:
            warnings.append(f"layer '{name}' names no image file and was skipped")
        return None
    svg = None
    try:
        if src.lower().endswith(".svg"):
            svg = data.decode("utf-8")
            image = render_svg(svg, *svg_size(svg))
        else:
            image, _ = read_png(data)
    except (ValueError, UnicodeDecodeError) as e:  # SvgError is a ValueError
        warnings.append(f"layer '{name}' ({src}) could not be read: {e}")
        return None
    prov = {k[len(NS) + 2:]: _attr_value(k[len(NS) + 2:], v) for k, v in el.attrib.items()
            if k.startswith(f"{{{NS}}}")}
    return Layer(name, image.convertToFormat(RGBA), _int(el.get("x"), 0) + dx,
                 _int(el.get("y"), 0) + dy, el.get("visibility", "visible") != "hidden",
                 _float(el.get("opacity"), 1.0), prov or None, svg=svg)


def _merged_only(z: zipfile.ZipFile, path: Path, warnings: list[str]) -> OraContent:
    data = _member(z, "mergedimage.png", [], quiet=True)
    if data is not None:
        with contextlib.suppress(ValueError):
            image, _ = read_png(data)
            warnings.append("the layers could not be read; opened the flattened image")
            return OraContent(image.width(), image.height(),
                              [Layer("Merged image", image.convertToFormat(RGBA))],
                              warnings=warnings)
    raise OraError(f"{path.name} is not a readable OpenRaster file "
                   f"({'; '.join(warnings) or 'no stack.xml'}).")


def _member(z: zipfile.ZipFile, name: str, warnings: list[str],
            quiet: bool = False) -> bytes | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        if not quiet:
            warnings.append(f"{name} is missing")
        return None
    if info.file_size > MAX_MEMBER_BYTES:
        warnings.append(f"{name} is too large ({info.file_size} bytes) and was skipped")
        return None
    try:
        return z.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as e:
        warnings.append(f"{name} is damaged ({e})")
        return None
    except Exception as e:  # noqa: BLE001 - zlib.error and friends: damaged, not fatal
        warnings.append(f"{name} is damaged ({type(e).__name__}: {e})")
        return None


def _attr_value(key: str, text: str) -> object:
    if key not in _JSON_FIELDS:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _int(text: str | None, default: int) -> int:
    try:
        return int(float(text)) if text is not None else default
    except ValueError:
        return default


def _float(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return min(1.0, max(0.0, value)) if value == value else default
