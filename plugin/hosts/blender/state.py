"""The add-on's process-wide state (no bpy): the live session and the last messages.

Blender add-ons are modules; this is the one place that holds what outlives an operator
call, so that unregister can close it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session

session: Session | None = None
last_error: str = ""
last_info: str = ""
shown: tuple = ()  # the session state the panels last drew (redraw only on change)
train_error: str = ""  # why the Train button refused (shown in the Train panel)
plan_message = ""  # the Plan sub-panel's last word (result summary or error)
upscale_message = ""  # the Upscale row's last word (the new image, or why not)
