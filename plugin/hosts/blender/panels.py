"""The sidebar panels (N panel, tab "T2I") of the Image Editor and the 3D Viewport."""

import bpy

from . import state
from .images import TRAIN_SAMPLE_NAME
from .properties import NO_LORA


def draw_panel(layout, context) -> None:
    settings = context.scene.t2i
    session = state.session
    row = layout.row()
    if session is None:
        row.label(text="Not connected", icon="UNLINKED")
    elif session.connected:
        row.label(text=f"Worker on {session.capabilities.device or '?'}", icon="LINKED")
    elif session.connect_error:
        row.label(text="Worker unreachable", icon="ERROR")
    else:
        row.label(text="Connecting…", icon="TIME")
    row.operator("t2i.connect", text="", icon="FILE_REFRESH")

    col = layout.column(align=True)
    col.prop(settings, "prompt", text="")
    col.prop(settings, "negative_prompt", text="", icon="REMOVE")
    row = layout.row(align=True)  # Live: the preview image 'T2I Live' follows the prompt
    row.prop(settings, "live", toggle=True, icon="REC" if settings.live else "PLAY")
    row.operator("t2i.live_type", icon="GREASEPENCIL")
    row.operator("t2i.live_pin", icon="PINNED", text="")

    row = layout.row(align=True)
    row.scale_y = 1.4
    busy = session is not None and bool(session.active_jobs)
    row.operator("t2i.generate", icon="PLAY", text="Generate (queue)" if busy else "Generate")
    row.operator("t2i.cancel", icon="CANCEL", text="")
    if session is not None:
        from .session import job_summary  # only once a session exists (pyzmq loaded)

        for job in session.jobs[-3:]:
            layout.label(text=job_summary(job),
                         icon="ERROR" if job.state == "error" else "SORTTIME")
    if state.last_error:
        for line in _wrap(state.last_error, 48)[:6]:
            layout.label(text=line, icon="ERROR")

    col = layout.column(align=True)
    col.label(text="Result" if settings.last_result else "No result yet")
    row = col.row(align=True)
    row.operator("t2i.use_as_base_color", icon="MATERIAL")
    row.operator("t2i.image_plane", icon="MESH_PLANE")
    row = col.row(align=True)  # a sharper, larger copy of the image, next to it
    row.prop(settings, "upscale_scale", text="")
    row.operator("t2i.upscale", icon="FULLSCREEN_ENTER")
    if state.upscale_message:
        for line in _wrap(state.upscale_message, 48)[:3]:
            col.label(text=line)


def draw_advanced(layout, context) -> None:
    """Model, adapter, size, count, steps, guidance, seed, image to image: folded at start,
    so that a narrow sidebar (300 px) shows prompt, Live and Generate first."""
    settings = context.scene.t2i
    col = layout.column()
    col.prop(settings, "model")
    row = col.row(align=True)
    row.prop(settings, "lora")
    if settings.lora not in ("", NO_LORA):
        row.prop(settings, "lora_weight", text="")
    col.prop(settings, "size")
    col.prop(settings, "count")
    col.prop(settings, "vector")
    col.prop(settings, "steps")
    col.prop(settings, "guidance")
    col.operator("t2i.model_defaults", icon="LOOP_BACK")
    row = col.row(align=True)
    row.prop(settings, "seed")
    row.prop(settings, "random_seed", text="", icon="FILE_REFRESH")

    box = layout.box()
    box.prop(settings, "use_init_image")
    if settings.use_init_image:
        box.template_ID(settings, "init_image", open="image.open")
        box.prop(settings, "strength")
        if context.space_data and context.space_data.type == "IMAGE_EDITOR":
            box.operator("t2i.use_as_init", icon="IMAGE_DATA")


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def draw_train_panel(layout, context) -> None:
    """Train an adapter: the form, a bar-like progress line, the latest sample, the outcome."""
    settings = context.scene.t2i
    session = state.session
    job = session.train_job if session is not None else None
    col = layout.column()
    col.prop(settings, "train_folder")
    col.prop(settings, "train_name")
    col.prop(settings, "train_trigger")
    col.prop(settings, "train_model")
    col.prop(settings, "train_steps", text="Steps (0: default)")
    # The look, for a model whose training has one (training.look_offered, not imported:
    # it needs the worker client, which may not load before a session exists)
    model = settings.train_model or "builtin"
    entry = session.model(model) if session is not None else None
    has_look = entry.train_look if entry is not None else model == "builtin"
    look = col.row()
    look.enabled = has_look  # an SD model: nothing to choose, and nothing is sent
    look.prop(settings, "train_look")
    if not has_look:
        col.label(text="SD models train no look: colours only", icon="INFO")
    col.prop(settings, "train_sample_prompt")
    row = layout.row(align=True)
    row.scale_y = 1.4
    row.operator("t2i.train", icon="PLAY")
    row.operator("t2i.train_cancel", icon="CANCEL", text="")
    if state.train_error:
        for line in _wrap(state.train_error, 48)[:6]:
            layout.label(text=line, icon="ERROR")
    if job is None:
        return
    from .training import detail_text, outcome_text, progress_text  # a session exists

    box = layout.box()
    bar = box.row()
    bar.enabled = False  # shown, not edited: the add-on sets it from the worker's events
    bar.prop(settings, "train_progress", text=progress_text(job), slider=True)
    detail = detail_text(job)
    if detail:
        box.label(text=detail)
    sample = bpy.data.images.get(TRAIN_SAMPLE_NAME)
    if sample is not None:
        box.label(text=f"Sample: {sample.get('t2i_sample_prompt', '')}", icon="IMAGE_DATA")
        box.template_icon(icon_value=sample.preview_ensure().icon_id, scale=6.0)
    outcome = outcome_text(job)
    for paragraph in outcome.splitlines():
        for line in _wrap(paragraph, 48):
            box.label(text=line, icon="ERROR" if job.state == "error" else "NONE")


def draw_plan_panel(layout, context) -> None:
    """Floor plans: the description, the wall height, Plan / Re-solve, the last word."""
    settings = context.scene.t2i
    col = layout.column()
    col.prop(settings, "plan_prompt", text="")
    col.prop(settings, "plan_wall_height")
    row = layout.row(align=True)
    row.scale_y = 1.4
    row.operator("t2i.plan", icon="MESH_GRID")
    row.operator("t2i.plan_resolve", icon="FILE_REFRESH")
    if state.plan_message:
        for line in _wrap(state.plan_message, 48)[:6]:
            layout.label(text=line)


SPACES = {"IMAGE_EDITOR": "image_editor", "VIEW_3D": "view3d"}  # bl_space_type: id part


def _panel(name: str, label: str, space: str, draw, sub: bool = False) -> type:
    """One sidebar panel class: Blender wants a class per editor and per sub-panel, all alike
    but for their ids, label and what they draw (a sub-panel starts folded)."""
    main = f"T2I_PT_{SPACES[space]}"
    idname = f"T2I_PT_{name}_{SPACES[space]}" if sub else main
    attrs = {"bl_idname": idname, "bl_label": label, "bl_space_type": space,
             "bl_region_type": "UI", "bl_category": "T2I",
             "draw": lambda self, context: draw(self.layout, context)}
    if sub:
        attrs |= {"bl_parent_id": main, "bl_options": {"DEFAULT_CLOSED"}}
    return type(idname, (bpy.types.Panel,), attrs)


# the advanced sub-panels come first under the main panel, then Train, then Plan (3D view)
CLASSES = (*(_panel("", "Text to Image", s, draw_panel) for s in SPACES),
           *(_panel("advanced", "Advanced settings", s, draw_advanced, sub=True)
             for s in SPACES),
           *(_panel("train", "Train", s, draw_train_panel, sub=True) for s in SPACES),
           _panel("plan", "Plan", "VIEW_3D", draw_plan_panel, sub=True))
