"""Live mode's two buttons: "Type live" (a modal operator that feeds each key to the prompt,
because Blender's text field commits only on Enter) and "Pin" (keep the current preview as a
result image). The live timer itself, debounce and last-request-wins, is ``live.py``.

No ``from __future__ import annotations``: Blender reads the property annotations as objects.
"""

import bpy

from . import state


class T2I_OT_live_type(bpy.types.Operator):
    """Type the prompt with Live previews after every key (Blender's text field only
    commits on Enter); Enter or Esc ends typing."""

    bl_idname = "t2i.live_type"
    bl_label = "Type live"
    bl_description = ("Type the prompt here with a live preview after each key; Enter or Esc "
                      "ends. Turns Live on")

    def invoke(self, context, event):
        from . import live

        settings = context.scene.t2i
        if not settings.live:
            settings.live = True  # starts the live timer (or says why it cannot)
        if not settings.live:
            self.report({"ERROR"}, f"T2I: {state.last_error}")
            return {"CANCELLED"}
        live.typing["active"] = True
        self._area = context.area
        self._show(context)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        from . import live

        if event.value != "PRESS" or event.type in ("MOUSEMOVE", "INBETWEEN_MOUSEMOVE",
                                                     "TIMER", "TIMER_REPORT"):
            return {"PASS_THROUGH"}
        if event.type.endswith("MOUSE") or event.type.startswith(("WHEEL", "TRACKPAD")):
            return {"PASS_THROUGH"}  # the mouse stays the user's
        settings = context.scene.t2i
        prompt, going_on = live.type_key(settings.prompt, event.type, event.unicode)
        if prompt != settings.prompt:
            settings.prompt = prompt  # the live timer sees the change: debounce, request
        if not going_on:
            live.typing["active"] = False
            if self._area is not None:
                self._area.header_text_set(None)
            return {"FINISHED"}
        self._show(context)
        return {"RUNNING_MODAL"}

    def _show(self, context):
        if self._area is not None:
            self._area.header_text_set(f"T2I live prompt: {context.scene.t2i.prompt}▏  "
                                       "(Enter or Esc: done)")


class T2I_OT_live_pin(bpy.types.Operator):
    bl_idname = "t2i.live_pin"
    bl_label = "Pin"
    bl_description = "Keep the current live preview as a result image (packed, with its prompt)"

    @classmethod
    def poll(cls, context):
        from .live import LIVE_IMAGE

        return bpy.data.images.get(LIVE_IMAGE) is not None

    def execute(self, context):
        import json
        from array import array

        from .images import new_result_image
        from .live import LIVE_IMAGE
        from .provenance import image_name, provenance_properties

        live_img = bpy.data.images[LIVE_IMAGE]
        width, height = live_img.size
        floats = array("f", bytes(4 * len(live_img.pixels)))
        live_img.pixels.foreach_get(floats)
        prov = json.loads(live_img.get("t2i_live_provenance", "{}"))
        img = new_result_image(image_name(str(prov.get("prompt", "")), int(prov.get("seed", 0))),
                               width, height, floats, provenance_properties(prov))
        context.scene.t2i.last_result = img
        self.report({"INFO"}, f"T2I: pinned the live preview as '{img.name}'")
        return {"FINISHED"}


CLASSES = (T2I_OT_live_type, T2I_OT_live_pin)
