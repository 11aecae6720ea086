"""The generation settings of a scene (``scene.t2i``), shown in the sidebar panels.

Model, adapter and size lists come from the connected worker's ``hello``. Blender keeps
only pointers to the strings of dynamic enum items, so the lists live at module level.
No ``from __future__ import annotations``: Blender reads the annotations as objects."""

import bpy

from . import state


def _live_changed(settings, context):
    from .live import _live_changed as changed

    changed(settings, context)


def _changed(name):
    """An update callback: the user set ``name`` (sent from now on, model_defaults.py)."""
    def update(settings, context):
        from .model_defaults import mark_changed

        mark_changed(settings, name)
    return update


def _model_changed(settings, context):
    """Another model: its own steps, guidance and size, where the user set none."""
    from .model_defaults import show_defaults

    session = state.session
    show_defaults(settings, session.model(settings.model) if session is not None else None)

DEFAULT_SIZES = (32, 64, 128, 256, 512)
NO_LORA = "NONE"
_items_cache: dict[str, list] = {"model": [], "lora": [], "size": [], "train_model": []}


def _keep(kind, items):
    _items_cache[kind] = items
    return items


def model_items(self, context):
    session = state.session
    models = session.models if session is not None else []
    items = [(m.id, m.id, m.description[:200]) for m in models if m.id]
    return _keep("model", items or [("builtin", "builtin", "The built-in model")])


def lora_items(self, context):
    session = state.session
    names = session.loras if session is not None else []
    # An empty identifier would make a separator in a Blender enum, so "no adapter" is NONE.
    items = [(NO_LORA, "None", "No adapter")] + [(n, n, f"LoRA adapter {n}") for n in names]
    return _keep("lora", items)


def size_items(self, context):
    session = state.session
    sizes = session.sizes(self.model) if session is not None else []
    items = [(str(s), f"{s} × {s}", f"{s} pixels square") for s in (sizes or DEFAULT_SIZES)]
    return _keep("size", items)


def train_model_items(self, context):
    from .training import trainable_models

    session = state.session
    models = trainable_models(session.models) if session is not None else []
    items = [(m.id, m.id, m.description[:200]) for m in models]
    return _keep("train_model", items or [("builtin", "builtin", "The built-in model")])


class T2ISettings(bpy.types.PropertyGroup):
    prompt: bpy.props.StringProperty(name="Prompt", description="What to draw; (word:1.3) "
                                     "weights a word")
    negative_prompt: bpy.props.StringProperty(name="Negative", description="What to avoid")
    model: bpy.props.EnumProperty(name="Model", items=model_items, update=_model_changed)
    lora: bpy.props.EnumProperty(name="Adapter", items=lora_items,
                                 description="A LoRA adapter the worker has installed")
    lora_weight: bpy.props.FloatProperty(name="Weight", default=1.0, min=-4.0, max=4.0)
    size: bpy.props.EnumProperty(name="Size", items=size_items, default=2,
                                 update=_changed("size"))
    count: bpy.props.IntProperty(name="Count", default=1, min=1, max=16)
    vector: bpy.props.BoolProperty(
        name="Vector", default=False,
        description="Also return an SVG drawing, imported as curves next to the image "
                    "(icon models only)")
    steps: bpy.props.IntProperty(name="Steps", default=20, min=1, max=200,
                                 update=_changed("steps"),
                                 description="Sampling steps (shown: the model's default)")
    guidance: bpy.props.FloatProperty(name="Guidance", default=3.0, min=0.0, max=30.0,
                                      update=_changed("guidance"),
                                      description="How closely to follow the prompt "
                                                  "(shown: the model's default)")
    # set by the user (sent); else left out of the request: the model's own value runs
    steps_set: bpy.props.BoolProperty(default=False, options={"HIDDEN"})
    guidance_set: bpy.props.BoolProperty(default=False, options={"HIDDEN"})
    size_set: bpy.props.BoolProperty(default=False, options={"HIDDEN"})
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    random_seed: bpy.props.BoolProperty(name="New seed each time", default=False)
    use_init_image: bpy.props.BoolProperty(
        name="Image to image", default=False,
        description="Start from an image: the chosen one, else the image in the Image Editor")
    init_image: bpy.props.PointerProperty(name="Init image", type=bpy.types.Image)
    strength: bpy.props.FloatProperty(name="Strength", default=0.6, min=0.0, max=1.0,
                                      description="0 keeps the init image, 1 ignores it")
    last_result: bpy.props.PointerProperty(name="Last result", type=bpy.types.Image)
    upscale_scale: bpy.props.EnumProperty(
        name="Scale", default="4", description="How many times larger Upscale makes the image",
        items=[(str(s), f"{s}×", f"{s} times wider and higher") for s in (2, 4, 8, 16)])
    live: bpy.props.BoolProperty(
        name="Live", default=False, update=lambda self, context: _live_changed(self, context),
        description="A quick one-step preview (image 'T2I Live') follows the prompt as you "
                    "type: use Type live, or press Enter in the prompt field")

    # --- training an adapter (the Train sub-panel) ---------------------------------------------
    train_folder: bpy.props.StringProperty(
        name="Images", subtype="DIR_PATH",
        description="A folder of 5 or more PNG, JPEG or WebP images (with optional same-name "
                    ".txt captions), on the worker's computer. It is only read, never changed")
    train_name: bpy.props.StringProperty(
        name="Adapter name", maxlen=64,
        description="You pick the adapter by this name; a name already taken becomes name-2")
    train_trigger: bpy.props.StringProperty(
        name="Trigger phrase",
        description="Optional: put in front of every caption; type it in a prompt to call "
                    "the style")
    train_model: bpy.props.EnumProperty(
        name="Base model", items=train_model_items,
        description="The model the adapter is trained for (the worker's models that can be "
                    "fine-tuned)")
    train_steps: bpy.props.IntProperty(
        name="Steps", default=0, min=0, max=100_000,
        description="Training steps; 0 = the base model's own default")
    train_look: bpy.props.EnumProperty(
        name="Look", default="colours",
        description="How the adapter paints the folder's look over the model's drawing "
                    "(the built-in model; SD models train no look)",
        items=[("colours", "Colours (keeps thin subjects)",
                "Paints the folder's colours, rims and inner lines over the model's "
                "drawing; thin subjects stay readable"),
               ("shading", "Colours + learned shading (slower)",
                "Also learns the folder's shading and gloss; thin subjects can come out "
                "softer, and training takes about 1.6x as long")])
    train_sample_prompt: bpy.props.StringProperty(
        name="Sample prompt",
        description="Optional: a prompt drawn with the adapter now and then while it trains")
    train_progress: bpy.props.FloatProperty(
        name="Progress", subtype="PERCENTAGE", min=0.0, max=100.0, precision=0,
        description="How far the training is (set by the add-on)")

    # --- floor plans (the Plan sub-panel) -----------------------------------------------------
    plan_prompt: bpy.props.StringProperty(
        name="Plan", description="The dwelling in words, e.g. a two-bedroom apartment with an "
        "open kitchen, 70 m², living room facing south")
    plan_wall_height: bpy.props.FloatProperty(
        name="Wall height", default=2.7, min=2.0, max=6.0, unit="LENGTH",
        description="Height the walls are extruded to (m)")
