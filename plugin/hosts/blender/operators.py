"""Operators: connect, generate, cancel, and what to do with a result. All return at once.

No ``from __future__ import annotations``: Blender reads the property annotations as objects.
"""

import bpy

from . import addon, state
from .images import UserError, add_image_plane, read_rgba8, use_as_base_color
from .properties import NO_LORA


def _space_image(context):
    space = context.space_data
    if space is not None and space.type == "IMAGE_EDITOR":
        return space.image
    return None


def _size(settings) -> int:
    return int(settings.size) if settings.size.isdigit() else 128


def _target_image(context):
    """The image an action applies to: the Image Editor's, else the last result."""
    return _space_image(context) or context.scene.t2i.last_result


class T2I_OT_connect(bpy.types.Operator):
    bl_idname = "t2i.connect"
    bl_label = "Connect"
    bl_description = "Connect to the worker (or start it) and load its models and adapters"

    def execute(self, context):
        from .link import SettingsError

        try:
            addon.ensure_session(context, reconnect=True)
        except (SettingsError, ImportError) as e:
            self.report({"ERROR"}, f"T2I: {e}")
            state.last_error = str(e)
            return {"CANCELLED"}
        state.last_error = ""
        self.report({"INFO"}, "T2I: connecting to the worker…")
        return {"FINISHED"}


class T2I_OT_generate(bpy.types.Operator):
    bl_idname = "t2i.generate"
    bl_label = "Generate"
    bl_description = "Generate images from the prompt; they arrive as packed image datablocks"

    def execute(self, context):
        from .link import GenerateParams, LoraParam, SettingsError

        settings = context.scene.t2i
        prompt = settings.prompt.strip()
        if not prompt:
            self.report({"ERROR"}, "T2I: type a prompt first")
            return {"CANCELLED"}
        try:
            session = addon.ensure_session(context)
            init = None
            if settings.use_init_image:
                image = settings.init_image or _space_image(context)
                if image is None:
                    raise UserError("image to image is on but there is no init image: choose "
                                    "one, or open one in the Image Editor")
                init = read_rgba8(image, fit=_size(settings))
        except (SettingsError, ImportError, UserError) as e:
            self.report({"ERROR"}, f"T2I: {e}")
            state.last_error = str(e)
            return {"CANCELLED"}
        size = _size(settings)
        params = GenerateParams(
            prompt=prompt, negative_prompt=settings.negative_prompt.strip(),
            seed=addon.next_seed(settings), width=size, height=size, count=settings.count,
            steps=settings.steps, guidance=settings.guidance, model=settings.model or "builtin",
            strength=settings.strength,
            loras=[LoraParam(settings.lora, settings.lora_weight)]
            if settings.lora not in ("", NO_LORA) else [])
        session.submit(params, init)
        state.last_error = ""
        addon.start_timer()
        self.report({"INFO"}, f"T2I: generating '{prompt}' (seed {params.seed})…")
        return {"FINISHED"}


class T2I_OT_cancel(bpy.types.Operator):
    bl_idname = "t2i.cancel"
    bl_label = "Cancel"
    bl_description = "Stop the running and queued generations"

    @classmethod
    def poll(cls, context):
        return state.session is not None and bool(state.session.active_jobs)

    def execute(self, context):
        n = state.session.cancel() if state.session is not None else 0
        self.report({"INFO"}, f"T2I: cancelling {n} job(s)…")
        return {"FINISHED"}


class T2I_OT_use_as_init(bpy.types.Operator):
    bl_idname = "t2i.use_as_init"
    bl_label = "Use as Init Image"
    bl_description = "Start the next generation from the image shown in this Image Editor"

    @classmethod
    def poll(cls, context):
        return _space_image(context) is not None

    def execute(self, context):
        context.scene.t2i.init_image = _space_image(context)
        context.scene.t2i.use_init_image = True
        return {"FINISHED"}


class T2I_OT_base_color(bpy.types.Operator):
    bl_idname = "t2i.use_as_base_color"
    bl_label = "Use as Base Color"
    bl_description = ("Make the image (the Image Editor's, else the last result) the base "
                      "color texture of the active object's material")

    @classmethod
    def poll(cls, context):
        return _target_image(context) is not None

    def execute(self, context):
        image = _target_image(context)
        try:
            mat = use_as_base_color(context.view_layer.objects.active, image)
        except UserError as e:
            self.report({"ERROR"}, f"T2I: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"T2I: '{image.name}' is the base color of '{mat.name}'")
        return {"FINISHED"}


class T2I_OT_image_plane(bpy.types.Operator):
    bl_idname = "t2i.image_plane"
    bl_label = "Image Plane"
    bl_description = "Add a plane textured with the image (the Image Editor's, else the last " \
                     "result) at the 3D cursor"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _target_image(context) is not None

    def execute(self, context):
        try:
            obj = add_image_plane(context, _target_image(context))
        except UserError as e:
            self.report({"ERROR"}, f"T2I: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"T2I: added '{obj.name}'")
        return {"FINISHED"}


class T2I_OT_report(bpy.types.Operator):
    """Reports from the timer, which has no operator of its own to report through."""

    bl_idname = "t2i.report"
    bl_label = "T2I Report"
    bl_options = {"INTERNAL"}

    level: bpy.props.EnumProperty(items=[(k, k, "") for k in ("INFO", "WARNING", "ERROR")])
    message: bpy.props.StringProperty()

    def execute(self, context):
        self.report({self.level}, self.message)
        return {"FINISHED"}


CLASSES = (T2I_OT_connect, T2I_OT_generate, T2I_OT_cancel, T2I_OT_use_as_init,
           T2I_OT_base_color, T2I_OT_image_plane, T2I_OT_report)
