"""Registering the add-on's classes with Blender, and unregistering them (timer and session
included). The one module above operators, panels, properties and the timer (addon.py), so
none of them needs to import another's registration: the add-on has no import loop."""

from __future__ import annotations

import bpy


def _classes():
    from . import live_operators, operators, panels, preferences, properties, upscaling

    return (preferences.T2IPreferences, properties.T2ISettings, *operators.CLASSES,
            *upscaling.CLASSES, *live_operators.CLASSES, *panels.CLASSES)


def register() -> None:
    from .properties import T2ISettings

    for cls in _classes():
        bpy.utils.register_class(cls)
    bpy.types.Scene.t2i = bpy.props.PointerProperty(type=T2ISettings)


def unregister() -> None:
    from . import addon, live

    live.stop()
    if bpy.app.timers.is_registered(addon.tick):
        bpy.app.timers.unregister(addon.tick)
    addon.close_session()
    del bpy.types.Scene.t2i
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
