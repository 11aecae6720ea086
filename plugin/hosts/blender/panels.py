"""The sidebar panels (N panel, tab "T2I") of the Image Editor and the 3D Viewport."""

import bpy

from . import state
from .properties import NO_LORA


def draw_panel(layout, context) -> None:
    settings = context.scene.t2i
    session = state.session
    row = layout.row()
    if session is None:
        row.label(text="Not connected", icon="UNLINKED")
    elif session.connected:
        row.label(text=f"Worker on {session.capabilities.get('device', '?')}", icon="LINKED")
    elif session.connect_error:
        row.label(text="Worker unreachable", icon="ERROR")
    else:
        row.label(text="Connecting…", icon="TIME")
    row.operator("t2i.connect", text="", icon="FILE_REFRESH")

    col = layout.column(align=True)
    col.prop(settings, "prompt", text="")
    col.prop(settings, "negative_prompt", text="", icon="REMOVE")
    col = layout.column()
    col.prop(settings, "model")
    row = col.row(align=True)
    row.prop(settings, "lora")
    if settings.lora not in ("", NO_LORA):
        row.prop(settings, "lora_weight", text="")
    col.prop(settings, "size")
    col.prop(settings, "count")
    col.prop(settings, "steps")
    col.prop(settings, "guidance")
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


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


class T2I_PT_image_editor(bpy.types.Panel):
    bl_idname = "T2I_PT_image_editor"
    bl_label = "Text to Image"
    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = "T2I"

    def draw(self, context):
        draw_panel(self.layout, context)


class T2I_PT_view3d(bpy.types.Panel):
    bl_idname = "T2I_PT_view3d"
    bl_label = "Text to Image"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "T2I"

    def draw(self, context):
        draw_panel(self.layout, context)


CLASSES = (T2I_PT_image_editor, T2I_PT_view3d)
