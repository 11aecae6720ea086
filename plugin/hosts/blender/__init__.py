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


def register() -> None:
    from . import registration

    registration.register()


def unregister() -> None:
    from . import registration

    registration.unregister()
