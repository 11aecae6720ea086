"""Operators: connect, generate, cancel, and what to do with a result. All return at once.

No ``from __future__ import annotations``: Blender reads the property annotations as objects.
"""

import os

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
        from .model_defaults import request_fields

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
        # steps, guidance, size the user did not change: left out, the model's own run
        params = GenerateParams(
            prompt=prompt, negative_prompt=settings.negative_prompt.strip(),
            seed=addon.next_seed(settings), count=settings.count,
            **request_fields(settings), model=settings.model or "builtin",
            strength=settings.strength, vector=settings.vector and _offers_vector(
                session, settings.model or "builtin"),
            loras=[LoraParam(settings.lora, round(settings.lora_weight, 4))]  # a float32 in RNA
            if settings.lora not in ("", NO_LORA) else [])
        session.submit(params, init)
        state.last_error = ""
        addon.start_timer()
        self.report({"INFO"}, f"T2I: generating '{prompt}' (seed {params.seed})…")
        return {"FINISHED"}


class T2I_OT_model_defaults(bpy.types.Operator):
    bl_idname = "t2i.model_defaults"
    bl_label = "Model defaults"
    bl_description = "Steps, guidance and size as the selected model wants them"

    def execute(self, context):
        from .model_defaults import use_defaults

        settings, session = context.scene.t2i, state.session
        use_defaults(settings, session.model(settings.model) if session is not None else None)
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


class T2I_OT_train(bpy.types.Operator):
    bl_idname = "t2i.train"
    bl_label = "Train"
    bl_description = ("Train a LoRA adapter on the folder of images; when it is done it is "
                      "in the Adapter list at once")

    @classmethod
    def poll(cls, context):
        return state.session is None or not state.session.training

    def execute(self, context):
        from .link import SettingsError, TrainParams
        from .training import look_render_steps, train_error_text

        settings = context.scene.t2i
        folder = settings.train_folder.strip()
        if folder.startswith("//") and not bpy.data.filepath:
            return self._refuse(f"The folder {folder} is relative to the .blend file, which "
                                "is not saved yet: save the .blend first, or pick the folder "
                                "again with Relative Path off.")
        folder = _absolute(folder)
        name = settings.train_name.strip()
        if not name and folder:  # an empty name follows the folder, as in the Qt panel
            name = folder.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1][:64]
            settings.train_name = name
        problem = "empty_folder_field" if not folder else "empty_name" if not name else ""
        if problem:
            return self._refuse(train_error_text(problem, ""))
        try:
            session = addon.ensure_session(context)
        except (SettingsError, ImportError) as e:
            return self._refuse(str(e))
        steps = settings.train_steps or None  # None: the base model's own default
        prompt = settings.train_sample_prompt.strip()
        model = settings.train_model or "builtin"
        params = TrainParams(
            folder=folder, name=name, trigger=settings.train_trigger.strip(),
            model=model, steps=steps,
            render_steps=look_render_steps(settings.train_look, model, session.model(model)),
            sample_prompts=[prompt] if prompt else [],
            # a few previews over a short run; the worker's default (every 200) otherwise
            sample_every=min(200, max(1, steps // 4)) if steps else 200)
        try:
            job = session.submit_train(params)
        except RuntimeError as e:
            return self._refuse(str(e))
        for scene in bpy.data.scenes:
            if hasattr(scene, "t2i"):
                scene.t2i.train_progress = 0.0
        state.train_error = ""
        addon.start_timer()
        if not job.active:  # refused at once (e.g. the client is closed)
            return self._refuse(train_error_text(job.error_code, job.error))
        self.report({"INFO"}, f"T2I: training adapter '{name}' on {folder}…")
        return {"FINISHED"}

    def _refuse(self, message):
        # A refusal is shown in the panel, not raised: Blender's UI must never see an error
        # from the add-on, and the worker is not involved.
        state.train_error = message
        self.report({"WARNING"}, f"T2I: {message}")
        return {"CANCELLED"}


class T2I_OT_plan(bpy.types.Operator):
    bl_idname = "t2i.plan"
    bl_label = "Plan"
    bl_description = ("A floor plan from the text: walls extruded, a floor per room, doors "
                      "and windows cut, in a collection named after the plan")

    def execute(self, context):
        text = context.scene.t2i.plan_prompt.strip()
        if not text:
            return _plan_refuse(self, "Describe the plan first, e.g. a two-bedroom apartment "
                                "with an open kitchen, 70 m²")
        return _submit_plan(self, context, {"prompt": text}, "")


class T2I_OT_plan_resolve(bpy.types.Operator):
    bl_idname = "t2i.plan_resolve"
    bl_label = "Re-solve"
    bl_description = ("Solve the active plan again from its programme (edit the Text "
                      "'<plan> programme' first: rooms, areas, facing sides, relations)")

    def execute(self, context):
        from . import plan

        collection = _active_plan(context)
        if collection is None:
            return _plan_refuse(self, "No plan here: select an object of a plan collection")
        try:
            prog = plan.edited_programme(collection)
        except ValueError as e:
            return _plan_refuse(self, str(e))
        return _submit_plan(self, context, {"programme": prog,
                                            "prompt": prog.get("source", "")}, collection.name)


def _active_plan(context):
    from . import plan

    obj = context.active_object
    if obj is not None:
        for c in obj.users_collection:
            if c.get("t2i_plan"):
                return c
    found = plan.plan_collections()
    return found[-1] if found else None


def _submit_plan(op, context, body: dict, collection: str):
    from .link import SettingsError

    try:
        session = addon.ensure_session(context)
    except (SettingsError, ImportError) as e:
        return _plan_refuse(op, str(e))
    job = session.submit_plan({**body, "variants": 1, "formats": ["geometry"]}, collection)
    addon.start_timer()
    if not job.active:
        return _plan_refuse(op, job.error)
    state.plan_message = "solving…"
    op.report({"INFO"}, "T2I: planning…")
    return {"FINISHED"}


def _plan_refuse(op, message: str):
    state.plan_message = message
    op.report({"WARNING"}, f"T2I: {message}")
    return {"CANCELLED"}


class T2I_OT_train_cancel(bpy.types.Operator):
    bl_idname = "t2i.train_cancel"
    bl_label = "Cancel Training"
    bl_description = "Stop the training; a checkpoint is saved, Train again continues from it"

    @classmethod
    def poll(cls, context):
        return state.session is not None and state.session.training

    def execute(self, context):
        asked = state.session.cancel_training() if state.session is not None else False
        self.report({"INFO"}, "T2I: cancelling the training…" if asked
                    else "T2I: no training is running")
        return {"FINISHED"}


def _absolute(path):
    # The folder browser may store Blender-relative paths ("//images"): the worker needs
    # an absolute one.
    return os.path.normpath(bpy.path.abspath(path)) if path.startswith("//") else path


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


CLASSES = (T2I_OT_connect, T2I_OT_generate, T2I_OT_model_defaults, T2I_OT_cancel, T2I_OT_train,
           T2I_OT_train_cancel,
           T2I_OT_use_as_init, T2I_OT_base_color, T2I_OT_image_plane, T2I_OT_report,
           T2I_OT_plan, T2I_OT_plan_resolve)


def _offers_vector(session, model_id: str) -> bool:
    """Ask for vector output only of a model that lists it (before the model list has
    arrived, ask: the worker answers a clear ``unsupported`` error if it cannot)."""
    models = session.models
    if not models:
        return True
    return any(m.id == model_id and m.vector for m in models)
