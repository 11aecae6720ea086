"""Runs INSIDE Blender on the .blend the first run saved (the add-on is NOT installed here):
writes every generated image's custom properties and pixels, the Cube's base color texture
and the image plane's texture to ``out_dir/reopen.json``."""

import json
import os
from array import array
from pathlib import Path

import bpy

out = Path(os.environ["T2I_BLENDER_TEST_OUT"])


def texture_of(obj):
    mat = obj.active_material
    node = mat.node_tree.nodes.get("T2I Base Color")
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    linked = [lk.from_node.name for lk in bsdf.inputs["Base Color"].links]
    return {"image": node.image.name if node and node.image else None, "linked": linked}


records = []
for i, img in enumerate(sorted((im for im in bpy.data.images if "t2i_provenance" in im),
                               key=lambda im: im.name)):
    values = array("f", bytes(4 * len(img.pixels)))
    img.pixels.foreach_get(values)
    (out / f"reopen_{i}.f32").write_bytes(values.tobytes())
    records.append({"name": img.name, "size": list(img.size), "packed": img.packed_file is not None,
                    "props": dict(img.items()), "pixels": f"reopen_{i}.f32"})
objects = {o.name: o for o in bpy.data.objects}
(out / "reopen.json").write_text(json.dumps({
    "images": records, "cube": texture_of(objects["Cube"]),
    "all_images": sorted(im.name for im in bpy.data.images),
    "planes": {n: texture_of(o) for n, o in objects.items() if o.type == "MESH" and n != "Cube"},
}, indent=1))
