"""Floor plans in Blender: the worker's plan geometry (plain JSON, metres) becomes 3D.

One collection named after the plan holds:

- ``<plan> walls``: one mesh, every wall box (the walls with their door and window openings
  already cut out) extruded from the floor to the wall height (2.7 m by default), plus the
  wall above each door (from its head, 2.1 m) and below and above each window (sill 0.9 m,
  head 2.1 m), so the openings are real holes;
- one floor object per room (one face, named after the room, e.g. "Bedroom (bedroom_1)"),
  with the room's id, kind and area as custom properties;
- ``<plan> glazing``: a thin pane in each window opening.

The programme and the layout are kept on the collection (``t2i_plan``: JSON), so a saved
.blend can be re-opened, the programme edited and the plan solved again (``rebuild_plan``
replaces the collection's contents in place). No shapely here: the geometry arrives as boxes.
"""

from __future__ import annotations

import json

import bmesh
import bpy

WALL_HEIGHT = 2.7
GLASS = 0.02  # pane thickness, m
KIND_COLOURS = {"living": (0.96, 0.91, 0.78), "kitchen": (0.95, 0.85, 0.69),
                "dining": (0.94, 0.88, 0.74), "master": (0.86, 0.91, 0.96),
                "bedroom": (0.89, 0.93, 0.97), "bathroom": (0.84, 0.94, 0.93),
                "ensuite": (0.84, 0.94, 0.93), "wc": (0.84, 0.94, 0.93),
                "study": (0.91, 0.88, 0.95), "hall": (0.96, 0.96, 0.94),
                "balcony": (0.89, 0.95, 0.86), "garage": (0.87, 0.87, 0.87)}


def build_plan(geometry: dict, name: str, provenance: dict,
               wall_height: float = WALL_HEIGHT,
               collection: bpy.types.Collection | None = None) -> bpy.types.Collection:
    """Make (or refill) the plan's collection from ``geometry`` (a plan variant's
    ``geometry`` JSON); returns the collection, linked to the scene."""
    if collection is None:
        collection = bpy.data.collections.new(name)
        bpy.context.scene.collection.children.link(collection)
    else:
        for obj in list(collection.objects):
            bpy.data.objects.remove(obj, do_unlink=True)
    collection["t2i_plan"] = json.dumps({"provenance": provenance,
                                         "layout": geometry.get("layout"),
                                         "wall_height": wall_height})
    _walls(collection, name, geometry, wall_height)
    for room in geometry["rooms"]:
        _floor(collection, room)
    _glazing(collection, name, geometry)
    return collection


def plan_data(collection: bpy.types.Collection) -> dict | None:
    """What ``build_plan`` stored: provenance (with the programme), layout, wall height."""
    text = collection.get("t2i_plan")
    return json.loads(text) if text else None


def plan_collections() -> list[bpy.types.Collection]:
    return [c for c in bpy.data.collections if c.get("t2i_plan")]


def _box(bm: bmesh.types.BMesh, x0: float, y0: float, x1: float, y1: float, z0: float,
         z1: float) -> None:
    if x1 - x0 <= 1e-6 or y1 - y0 <= 1e-6 or z1 - z0 <= 1e-6:
        return
    v = [bm.verts.new(p) for p in ((x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0),
                                   (x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1))]
    for face in ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6),
                 (3, 0, 4, 7)):
        bm.faces.new([v[i] for i in face])


def _bounds(points: list[list[float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _mesh_object(collection, name: str, bm: bmesh.types.BMesh, colour) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(name, mesh)
    obj.data.materials.append(_material(name, colour))
    collection.objects.link(obj)
    return obj


def _walls(collection, name: str, geometry: dict, height: float) -> bpy.types.Object:
    bm = bmesh.new()
    for x0, y0, x1, y1 in geometry["wall_boxes"]:
        _box(bm, x0, y0, x1, y1, 0.0, height)
    for door in geometry["doors"]:  # the wall above the door
        x0, y0, x1, y1 = _bounds(door["opening"])
        _box(bm, x0, y0, x1, y1, door.get("head", 2.1), height)
    for win in geometry["windows"]:  # the wall below the sill and above the head
        x0, y0, x1, y1 = _bounds(win["opening"])
        _box(bm, x0, y0, x1, y1, 0.0, win.get("sill", 0.9))
        _box(bm, x0, y0, x1, y1, win.get("head", 2.1), height)
    obj = _mesh_object(collection, f"{name} walls", bm, (0.92, 0.92, 0.9))
    obj["t2i_part"] = "walls"
    return obj


def _floor(collection, room: dict) -> bpy.types.Object:
    bm = bmesh.new()
    verts = [bm.verts.new((x, y, 0.0)) for x, y in room["polygon"]]
    bm.faces.new(verts)
    label = f"{room['label']} ({room['id']})"
    obj = _mesh_object(collection, label, bm, KIND_COLOURS.get(room["kind"], (0.9, 0.9, 0.9)))
    obj["t2i_part"] = "floor"
    obj["t2i_room"] = room["id"]
    obj["t2i_kind"] = room["kind"]
    obj["t2i_area"] = float(room["area"])
    return obj


def _glazing(collection, name: str, geometry: dict) -> bpy.types.Object | None:
    if not geometry["windows"]:
        return None
    bm = bmesh.new()
    for win in geometry["windows"]:
        (ax, ay), (bx, by) = win["segment"]
        z0, z1 = win.get("sill", 0.9), win.get("head", 2.1)
        if abs(ay - by) < 1e-9:  # an east-west wall: the pane runs along x
            _box(bm, min(ax, bx), ay - GLASS / 2, max(ax, bx), ay + GLASS / 2, z0, z1)
        else:
            _box(bm, ax - GLASS / 2, min(ay, by), ax + GLASS / 2, max(ay, by), z0, z1)
    obj = _mesh_object(collection, f"{name} glazing", bm, (0.55, 0.75, 0.9))
    obj["t2i_part"] = "glazing"
    return obj


def _material(name: str, colour) -> bpy.types.Material:
    mat = bpy.data.materials.new(f"t2i {name}")
    mat.diffuse_color = (*colour, 1.0)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes.get("Principled BSDF")
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    return mat


def build_from_result(context, ev, collection_name: str = "") -> bpy.types.Collection:
    """A ``plan`` result (its first variant's ``geometry`` frame) as a plan collection; the
    programme goes to a Text datablock ``<plan> programme`` the user can edit and re-solve."""
    result = ev.reply  # a PlanResult
    files = result.files_of(0) if result.variants else {}
    if "geometry" not in files:
        raise ValueError("the result has no geometry (ask for formats ['geometry'])")
    geometry = json.loads(files["geometry"].text())
    geometry["layout"] = result.variants[0].layout
    provenance = dict(result.provenance)
    provenance["programme"] = result.programme
    height = float(getattr(context.scene.t2i, "plan_wall_height", WALL_HEIGHT))
    existing = bpy.data.collections.get(collection_name) if collection_name else None
    name = existing.name if existing is not None else _plan_name(provenance)
    collection = build_plan(geometry, name, provenance, height, existing)
    text_name = collection.get("t2i_programme_text") or f"{collection.name} programme"
    text = bpy.data.texts.get(text_name) or bpy.data.texts.new(text_name)
    text.clear()
    text.write(json.dumps(result.programme, indent=2, ensure_ascii=False))
    collection["t2i_programme_text"] = text.name
    return collection


def edited_programme(collection: bpy.types.Collection) -> dict:
    """The programme as the user left it in the plan's Text datablock (``ValueError``)."""
    text = bpy.data.texts.get(collection.get("t2i_programme_text", ""))
    if text is None:
        data = plan_data(collection) or {}
        return data.get("provenance", {}).get("programme") or {}
    try:
        return json.loads(text.as_string())
    except ValueError as e:
        raise ValueError(f"the programme text '{text.name}' is not valid JSON: {e}") from None


def _plan_name(provenance: dict) -> str:
    words = (provenance.get("prompt") or provenance.get("source") or "Plan").split()
    return ("Plan " + " ".join(words[:5]))[:50]
