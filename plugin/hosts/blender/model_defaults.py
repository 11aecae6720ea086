"""The Generate settings follow the model's own defaults until the user changes them (no bpy).

A worker lists each model's ``generate_defaults`` (steps, guidance, size). The sidebar shows
the selected model's values, and picking another model shows its values. Steps, guidance and
size the user has not changed are left out of the request, so the worker runs the model's
own (the provenance records them); one the user changed (``steps_set``, ... on the scene's
settings) is sent as it is. Defaults (``t2i.model_defaults``) forgets the user's values.
Works on any object with those attributes, so it is tested outside Blender too.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .link import ModelEntry

FIELDS = ("steps", "guidance", "size")
BUILTIN = {"steps": 20, "guidance": 3.0, "size": 128}  # before the worker's list arrives
_quiet = [False]  # True while the add-on sets a field itself: not the user's change


def mark_changed(settings: Any, name: str) -> None:
    """The update callback of steps, guidance and size: the user chose this value."""
    if not _quiet[0]:
        setattr(settings, f"{name}_set", True)


def defaults_of(model: ModelEntry | None) -> dict[str, Any]:
    if model is None:
        return dict(BUILTIN)
    d = model.defaults
    return {"steps": d.steps, "guidance": d.guidance, "size": d.width}


def show_defaults(settings: Any, model: ModelEntry | None) -> None:
    """Put the model's values into the fields the user has not changed. A size the user
    chose that the model does not offer falls back to the model's (the size list follows
    the model, so Blender would refuse it)."""
    values = defaults_of(model)
    _quiet[0] = True
    try:
        if not settings.steps_set:
            settings.steps = int(values["steps"])
        if not settings.guidance_set:
            settings.guidance = float(values["guidance"])
        offered = model.sizes if model is not None and model.sizes else None
        chosen_gone = offered is not None and str(settings.size).isdigit() \
            and int(settings.size) not in offered
        if not settings.size_set or chosen_gone:
            settings.size_set = False
            with contextlib.suppress(TypeError):  # not in Blender's size list: leave it
                settings.size = str(values["size"])
    finally:
        _quiet[0] = False


def use_defaults(settings: Any, model: ModelEntry | None) -> None:
    """Forget the user's steps, guidance and size: the model's own apply again."""
    for name in FIELDS:
        setattr(settings, f"{name}_set", False)
    show_defaults(settings, model)


def request_fields(settings: Any) -> dict[str, Any]:
    """``GenerateParams`` keywords: the user's values, None (left out) for the others."""
    size = int(settings.size) if settings.size_set and str(settings.size).isdigit() else None
    return {"steps": settings.steps if settings.steps_set else None,
            "guidance": round(settings.guidance, 4) if settings.guidance_set else None,
            "width": size, "height": size}
