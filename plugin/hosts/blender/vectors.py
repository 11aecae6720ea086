"""Vector results in Blender: the SVG drawing becomes curve objects through Blender's own
SVG importer (the bundled ``io_curve_svg`` add-on, ``bpy.ops.import_curve.svg``), next to
the result's image datablock.

The importer reads a file, so the drawing is written to a temporary file named after the
result: the importer names its collection after the file. The curves keep the drawing's
flat colours (the importer makes one material per fill), carry the provenance as custom
properties (``t2i_provenance``, and ``t2i_image``: the image datablock they go with) and
land at the 3D cursor.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import bpy

IMPORTER = "io_curve_svg"


class VectorImportError(Exception):
    """The drawing could not be imported; the message says why."""


def import_svg_curves(context: bpy.types.Context, svg: str, name: str, provenance: dict,
                      image_name: str = "") -> bpy.types.Collection:
    """Import ``svg`` as curves in a new collection called ``name`` (Blender may add a
    ``.001``); returns the collection. Nothing is left behind if the import fails."""
    if not svg.lstrip().startswith("<"):
        raise VectorImportError("the result's drawing is not SVG text")
    if not hasattr(bpy.types, "IMPORT_CURVE_OT_svg"):  # the importer is off: turn it on
        try:  # it ships with Blender (enabled by default); a user may have disabled it
            bpy.ops.preferences.addon_enable(module=IMPORTER)
        except RuntimeError as e:
            raise VectorImportError(f"Blender's SVG importer ({IMPORTER}) is not available: "
                                    f"{e}") from None
    before = set(bpy.data.collections)
    safe = re.sub(r"[^\w\- ]+", "_", name).strip() or "T2I drawing"
    with tempfile.TemporaryDirectory(prefix="t2i-svg-") as tmp:
        path = os.path.join(tmp, f"{safe}.svg")
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
        try:
            result = bpy.ops.import_curve.svg(filepath=path)
        except (RuntimeError, AttributeError) as e:
            raise VectorImportError(f"Blender's SVG importer failed: {e}") from None
    made = [c for c in bpy.data.collections if c not in before]
    if result != {"FINISHED"} or not made:
        raise VectorImportError("Blender's SVG importer made nothing of the drawing")
    collection = made[0]
    text = json.dumps(provenance)
    collection["t2i_provenance"] = text
    collection["t2i_image"] = image_name
    cursor = context.scene.cursor.location
    for obj in collection.objects:
        obj["t2i_provenance"] = text
        obj["t2i_image"] = image_name
        obj.location = obj.location + cursor
    return collection
