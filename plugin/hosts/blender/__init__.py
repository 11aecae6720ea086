"""T2I Studio for Blender: generate images from a prompt with a local t2i worker.

This file is read by Blender without running it (``bl_info``) and imported when the add-on
is enabled. It must not import ``bpy`` at module level: the pure-Python parts of the add-on
(pixels, naming, provenance, session) are imported and tested outside Blender.
"""

bl_info = {
    "name": "T2I Studio",
    "author": "t2i-studio",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Image Editor / 3D Viewport ▸ Sidebar ▸ T2I",
    "description": "Offline text-to-image: generate textures and reference images from a "
                   "prompt with a local t2i worker",
    "doc_url": "",
    "category": "Paint",
}


def _classes():
    from . import operators, panels, preferences, properties

    return (preferences.T2IPreferences, properties.T2ISettings, *operators.CLASSES,
            *panels.CLASSES)


def register() -> None:
    import bpy

    from .properties import T2ISettings

    for cls in _classes():
        bpy.utils.register_class(cls)
    bpy.types.Scene.t2i = bpy.props.PointerProperty(type=T2ISettings)


def unregister() -> None:
    import bpy

    from . import addon, live

    live.stop()
    if bpy.app.timers.is_registered(addon.tick):
        bpy.app.timers.unregister(addon.tick)
    addon.close_session()
    del bpy.types.Scene.t2i
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
