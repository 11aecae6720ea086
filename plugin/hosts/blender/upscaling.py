"""Upscale in Blender: an image (the Image Editor's, else the last result) enlarged 2x-16x
by the worker's ``upscale`` request (the learned icon upscaler, or plain resampling when its
weights are missing, which the add-on says). The source is never touched: the result is a
new packed image datablock next to it, ``"<source> 4x"``, with the source's provenance plus
what was done (``upscale``: scale, method, model) and the source's name.

No ``from __future__ import annotations``: Blender reads the property annotations as objects.
"""

import bpy

from . import addon, state
from .images import MAX_INIT_SIDE, UserError, new_result_image, read_rgba8
from .link import UpscaleResult
from .pixels import rgba8_to_blender
from .provenance import MAX_NAME_BYTES, provenance_from_properties, provenance_properties

MAX_OUTPUT_SIDE = 16384  # the worker's limit (t2i_core.enhance.upscale.MAX_OUTPUT_SIDE)
SCALES = (2, 4, 8, 16)


def _source_image(context):
    space = context.space_data
    if space is not None and space.type == "IMAGE_EDITOR" and space.image is not None:
        return space.image
    return context.scene.t2i.last_result


def check_size(width: int, height: int, scale: int) -> None:
    """A ``UserError`` naming the problem when the image cannot be enlarged this much."""
    if width == 0 or height == 0:
        raise UserError("the image has no pixels (is its file missing?); choose another one")
    if max(width, height) > MAX_INIT_SIDE:
        raise UserError(f"the image is {width}x{height} px; Upscale takes images up to "
                        f"{MAX_INIT_SIDE} px per side: scale it down first")
    if max(width, height) * scale > MAX_OUTPUT_SIDE:
        raise UserError(f"a {width}x{height} image at {scale}x would be over "
                        f"{MAX_OUTPUT_SIDE} px per side; choose a smaller scale")


def upscaled_name(source: str, scale: int) -> str:
    suffix = f" {scale}x"
    room = MAX_NAME_BYTES - len(suffix.encode())
    return source.encode()[:room].decode(errors="ignore") + suffix


class T2I_OT_upscale(bpy.types.Operator):
    bl_idname = "t2i.upscale"
    bl_label = "Upscale"
    bl_description = ("Enlarge the image (the Image Editor's, else the last result) with the "
                      "learned icon upscaler; the result is a new image next to it")

    @classmethod
    def poll(cls, context):
        busy = state.session is not None and state.session.upscale_job is not None \
            and state.session.upscale_job.active
        return _source_image(context) is not None and not busy

    def execute(self, context):
        from .link import SettingsError

        image = _source_image(context)
        scale = int(context.scene.t2i.upscale_scale)
        try:
            check_size(image.size[0], image.size[1], scale)
            session = addon.ensure_session(context)
            width, height, rgba8 = read_rgba8(image)
        except (SettingsError, ImportError, UserError) as e:
            self.report({"ERROR"}, f"T2I: {e}")
            state.upscale_message = str(e)
            return {"CANCELLED"}
        session.submit_upscale(image.name, width, height, rgba8, scale,
                               on_finished=upscale_finished)
        state.upscale_message = f"Upscaling '{image.name}' {scale}x…"
        addon.start_timer()
        self.report({"INFO"}, f"T2I: {state.upscale_message}")
        return {"FINISHED"}


def upscale_finished(job, ev) -> None:
    """The upscale's terminal event: the new image datablock, or what went wrong."""
    reply = ev.reply
    if not isinstance(reply, UpscaleResult) or reply.image is None:
        state.upscale_message = job.error or "the upscale was cancelled"
        addon.report("ERROR" if ev.type == "error" else "INFO",
                     f"T2I: {state.upscale_message}")
        return
    frame = reply.image
    height, width = frame.shape[0], frame.shape[1]
    method = reply.method
    source = bpy.data.images.get(job.source)
    prov = (provenance_from_properties(source) if source is not None else None) or {}
    prov = {**prov, "upscale": {"scale": job.scale, "method": method,
                                "model": reply.model}}
    img = new_result_image(upscaled_name(job.source, job.scale), width, height,
                           rgba8_to_blender(frame.data, width, height),
                           provenance_properties(prov, {"upscaled_from": job.source,
                                                        "request": job.id}))
    job.output = img.name
    reply.image, ev.images = None, []  # the pixels live in the datablock now
    for scene in bpy.data.scenes:
        if hasattr(scene, "t2i"):
            scene.t2i.last_result = img
    addon._show_in_image_editors(img)
    addon._undo_push("T2I upscale")
    if method == "resampling":
        state.upscale_message = (f"'{img.name}' ({width}x{height}), but only resampling was "
                                 f"available: {reply.notice}")
        addon.report("WARNING", f"T2I: {state.upscale_message}")
    else:
        state.upscale_message = f"'{img.name}' ({width}x{height}, {method} upscaler)"
        addon.report("INFO", f"T2I: upscaled: {state.upscale_message}")


CLASSES = (T2I_OT_upscale,)
