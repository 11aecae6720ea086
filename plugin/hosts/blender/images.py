"""Image datablocks in and out of Blender: results, init images, materials, image planes."""

from __future__ import annotations

from array import array

import bpy

from .pixels import blender_to_rgba8
from .provenance import LIVE_IMAGE

MAX_INIT_SIDE = 4096  # the protocol's limit; bigger init images are sent scaled down
TEXTURE_NODE = "T2I Base Color"


class UserError(Exception):
    """Something the user can fix; the message says how."""


def new_result_image(name: str, width: int, height: int, pixels: array,
                     properties: dict) -> bpy.types.Image:
    """An 8-bit sRGB image holding exactly the worker's bytes, packed into the .blend.
    ``pixels``: the worker's RGBA8 as Blender floats (``pixels.rgba8_to_blender``)."""
    img = bpy.data.images.new(name, width, height, alpha=True, float_buffer=False)
    img.colorspace_settings.name = "sRGB"
    img.alpha_mode = "STRAIGHT"
    img.pixels.foreach_set(pixels)
    img.update()
    for key, value in properties.items():
        img[key] = value
    # Saved even while nothing uses it: a result is the user's work (fake user), and it
    # lives inside the .blend (packed as PNG), not in a temp file that may vanish.
    img.use_fake_user = True
    img.pack()
    return img


PREVIEW_NAME = "T2I Preview"
TRAIN_SAMPLE_NAME = "T2I Training Sample"


def show_preview(width: int, height: int, pixels: array,
                 name: str = PREVIEW_NAME) -> bpy.types.Image:
    """The running generation's preview (or the training's latest sample, by ``name``), in
    one scratch image (never packed or kept)."""
    img = bpy.data.images.get(name)
    if img is not None and tuple(img.size) != (width, height):
        bpy.data.images.remove(img)
        img = None
    if img is None:
        img = bpy.data.images.new(name, width, height, alpha=True)
        img.colorspace_settings.name = "sRGB"
    img.pixels.foreach_set(pixels)
    img.update()
    return img


def remove_preview() -> None:
    img = bpy.data.images.get(PREVIEW_NAME)
    if img is not None:
        bpy.data.images.remove(img)


def is_ours(image: bpy.types.Image | None) -> bool:
    """Shown by us (a preview or a result): an Image Editor showing it may be switched."""
    return image is None or image.name in (PREVIEW_NAME, LIVE_IMAGE) \
        or "t2i_provenance" in image


def read_rgba8(image: bpy.types.Image, fit: int = MAX_INIT_SIDE) -> tuple[int, int, bytes]:
    """(width, height, top-down RGBA8 sRGB bytes) of an image, for image-to-image.

    An image larger than ``fit`` (the requested size: the worker resizes the init image to
    it anyway) is scaled down first by Blender's C code, so the pure-Python conversion on
    the main thread is bounded by the request, not by a 4K texture."""
    fit = min(fit, MAX_INIT_SIDE)
    if max(image.size) > fit:
        scaled = image.copy()
        try:
            f = fit / max(image.size)
            scaled.scale(max(1, round(image.size[0] * f)), max(1, round(image.size[1] * f)))
            return read_rgba8(scaled, fit)
        finally:
            bpy.data.images.remove(scaled)
    width, height = image.size
    if width == 0 or height == 0:
        raise UserError(f"image '{image.name}' has no pixels (is its file missing?); "
                        "choose another init image")
    channels = image.channels
    values = array("f", bytes(4 * width * height * channels))
    image.pixels.foreach_get(values)
    if channels != 4:
        values = _to_rgba(values, channels)
    return width, height, blender_to_rgba8(values, width, height,
                                           linear_premultiplied=image.is_float)


def _to_rgba(values: array, channels: int) -> array:
    out = array("f")
    for i in range(0, len(values), channels):
        px = values[i:i + channels]
        if channels == 1:
            out.extend((px[0], px[0], px[0], 1.0))
        elif channels == 2:
            out.extend((px[0], px[0], px[0], px[1]))
        else:
            out.extend((px[0], px[1], px[2], 1.0))
    return out


def use_as_base_color(obj: bpy.types.Object | None, image: bpy.types.Image,
                      with_alpha: bool = False) -> bpy.types.Material:
    """Make ``image`` the base color of ``obj``'s active material (made if it has none)."""
    if obj is None or obj.type != "MESH":
        raise UserError("select a mesh object first: the image becomes the base color of "
                        "its active material")
    mesh = obj.data
    if not mesh.uv_layers:
        mesh.uv_layers.new(name="UVMap")  # without UVs the texture would show one texel
    mat = obj.active_material
    if mat is None:
        mat = bpy.data.materials.new(f"T2I {image.name}")
        if obj.material_slots:
            obj.active_material = mat
        else:
            mesh.materials.append(mat)
    mat.use_nodes = True
    tree = mat.node_tree
    bsdf = next((n for n in tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
        out = next((n for n in tree.nodes if n.type == "OUTPUT_MATERIAL"), None) \
            or tree.nodes.new("ShaderNodeOutputMaterial")
        tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    tex = tree.nodes.get(TEXTURE_NODE) or tree.nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = TEXTURE_NODE
    tex.image = image
    tex.location = (bsdf.location.x - 320, bsdf.location.y)
    tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    if with_alpha:
        tree.links.new(tex.outputs["Alpha"], bsdf.inputs["Alpha"])
        mat.blend_method = "HASHED"
    tree.nodes.active = tex
    return mat


def add_image_plane(context: bpy.types.Context, image: bpy.types.Image) -> bpy.types.Object:
    """A plane with the image's aspect ratio at the 3D cursor, textured with the image."""
    width, height = image.size
    if width == 0 or height == 0:
        raise UserError(f"image '{image.name}' has no pixels")
    sx, sy = (1.0, height / width) if width >= height else (width / height, 1.0)
    mesh = bpy.data.meshes.new(image.name)
    mesh.from_pydata([(-sx, -sy, 0.0), (sx, -sy, 0.0), (sx, sy, 0.0), (-sx, sy, 0.0)], [],
                     [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, co in zip(uv.data, ((0, 0), (1, 0), (1, 1), (0, 1)), strict=True):
        loop.uv = co  # Blender's image rows go bottom-up: v = 0 is the image's last row
    mesh.update()
    obj = bpy.data.objects.new(image.name, mesh)
    (context.collection or context.scene.collection).objects.link(obj)
    obj.location = context.scene.cursor.location
    use_as_base_color(obj, image, with_alpha=True)
    for other in context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj
    return obj
