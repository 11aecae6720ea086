"""Drawing -> layered SVG: one ``<g>`` layer per element kind, in document pixels.

The layers are Inkscape layers (``inkscape:groupmode="layer"``) named rooms, walls, doors,
windows, labels, dimensions, so that Inkscape, Krita (``addShapesFromSvg``) and the studio
see them as layers. The viewBox is the drawing's own size in pixels (``scale`` px per metre,
north up); the programme and the layout travel in ``<metadata>`` as JSON, so that a saved
file can be re-opened, edited and re-solved.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from t2i_core.plan.drawing import EXTERIOR_WALL, LAYERS, Drawing

SCALE = 50.0  # px per metre
MARGIN = 1.8  # m around the footprint (dimensions)
FILL = {"living": "#f6e7c8", "kitchen": "#f3d9b1", "dining": "#f1e0bd", "master": "#dbe8f5",
        "bedroom": "#e3eef8", "ensuite": "#d7f0ee", "bathroom": "#d7f0ee", "wc": "#d7f0ee",
        "study": "#e8e1f3", "utility": "#e6e6e6", "storage": "#ececec", "hall": "#f4f4f0",
        "balcony": "#e2f1dc", "garage": "#dedede"}
LAYER_LABELS = {"rooms": "Rooms", "walls": "Walls", "doors": "Doors", "windows": "Windows",
                "labels": "Labels", "dimensions": "Dimensions"}


def to_svg(drawing: Drawing, metadata: dict | None = None, scale: float = SCALE,
           layers: tuple[str, ...] = LAYERS) -> str:
    """The whole drawing, or only ``layers`` (the hosts insert one layer at a time)."""
    W, D = drawing.width, drawing.depth
    width_px = (W + 2 * MARGIN) * scale
    height_px = (D + 2 * MARGIN) * scale

    def p(x: float, y: float) -> str:
        return f"{(x + MARGIN) * scale:.2f},{(D - y + MARGIN) * scale:.2f}"

    def path(points: list[list[float]], close: bool = True) -> str:
        return "M" + " L".join(p(x, y) for x, y in points) + (" Z" if close else "")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" '
           f'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
           f'width="{width_px:.0f}" height="{height_px:.0f}" '
           f'viewBox="0 0 {width_px:.0f} {height_px:.0f}">']
    if metadata is not None:
        out.append(f'<metadata id="t2i-plan">{escape(json.dumps(metadata))}</metadata>')
    if "rooms" in layers:
        out.append('<rect width="100%" height="100%" fill="#ffffff"/>')
    font = max(9.0, 0.22 * scale)
    body: dict[str, list[str]] = {k: [] for k in LAYERS}
    for r in drawing.rooms:
        body["rooms"].append(f'<path id="room-{r["id"]}" d="{path(r["polygon"])}" '
                             f'fill="{FILL.get(r["kind"], "#eeeeee")}" stroke="none">'
                             f'<title>{escape(r["label"])} {r["area"]:.1f} m²</title></path>')
    for w in drawing.walls:
        d = path(w["exterior"]) + "".join(" " + path(h) for h in w["holes"])
        body["walls"].append(f'<path d="{d}" fill="#1f1f1f" fill-rule="evenodd" '
                             'stroke="none"/>')
    sw = max(1.0, 0.025 * scale)
    for dr in drawing.doors:
        body["doors"].append(f'<path d="{path([dr["hinge"], dr["open"]], False)}" '
                             f'stroke="#1f1f1f" stroke-width="{sw:.2f}" fill="none"/>')
        body["doors"].append(f'<path d="{path(dr["arc"], False)}" stroke="#1f1f1f" '
                             f'stroke-width="{sw * 0.6:.2f}" stroke-dasharray="{sw * 3:.1f},'
                             f'{sw * 2:.1f}" fill="none"/>')
    for wi in drawing.windows:
        body["windows"].append(f'<path d="{path(wi["opening"])}" fill="#ffffff" '
                               f'stroke="#1f1f1f" stroke-width="{sw * 0.6:.2f}"/>')
        body["windows"].append(f'<path d="{path(wi["segment"], False)}" stroke="#2a6fb0" '
                               f'stroke-width="{sw * 1.2:.2f}" fill="none"/>')
    for lab in drawing.labels:
        x, y = lab["at"]
        size = max(font * 0.8, lab["height"] * scale)
        cx, cy = (x + MARGIN) * scale, (D - y + MARGIN) * scale
        body["labels"].append(
            f'<text x="{cx:.1f}" y="{cy - size * 0.35:.1f}" font-family="DejaVu Sans, Arial, '
            f'sans-serif" font-size="{size:.1f}" text-anchor="middle" fill="#202020">'
            f'{escape(lab["text"])}</text>'
            f'<text x="{cx:.1f}" y="{cy + size * 0.85:.1f}" font-family="DejaVu Sans, Arial, '
            f'sans-serif" font-size="{size * 0.85:.1f}" text-anchor="middle" fill="#505050">'
            f'{escape(lab["area"])}</text>')
    for dim in drawing.dimensions:
        body["dimensions"].append(_dimension(dim, p, scale, font, sw))
    for name in LAYERS:
        if name not in layers:
            continue
        out.append(f'<g id="{name}" inkscape:groupmode="layer" '
                   f'inkscape:label="{LAYER_LABELS[name]}">')
        out.extend(body[name])
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _dimension(dim: dict, p, scale: float, font: float, sw: float) -> str:
    (x0, y0), (x1, y1) = dim["from"], dim["to"]
    ox, oy = dim["offset"]
    a, b = (x0 + ox, y0 + oy), (x1 + ox, y1 + oy)
    tick = 0.12
    horizontal = abs(y1 - y0) < 1e-9
    parts = [f'M{p(*a)} L{p(*b)}']
    for (px, py), (qx, qy) in ((a, (x0, y0)), (b, (x1, y1))):
        parts.append(f'M{p(px - tick, py - tick)} L{p(px + tick, py + tick)}')
        # extension line from the wall face to the dimension line
        parts.append(f'M{p(qx + (0 if horizontal else -EXTERIOR_WALL - 0.1), qy + (-EXTERIOR_WALL - 0.1 if horizontal else 0))} L{p(px, py)}')  # noqa: E501
    size = font * (0.8 if dim["kind"] == "room" else 0.95)
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    sx, sy = p(mx, my).split(",")
    rot = "" if horizontal else f' transform="rotate(-90 {sx} {sy})"'
    return (f'<path d="{" ".join(parts)}" stroke="#404040" stroke-width="{sw * 0.5:.2f}" '
            f'fill="none"/><text x="{sx}" y="{float(sy) - size * 0.3:.1f}"{rot} '
            f'font-family="DejaVu Sans, Arial, sans-serif" font-size="{size:.1f}" '
            f'text-anchor="middle" fill="#404040">{escape(dim["text"])}</text>')
