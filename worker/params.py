"""The bodies of the requests a client sends: plain dataclasses, checked once at the edge.

Standard library only (vendored into the Krita and Blender plugins with the client).
``from_body`` checks the types of a decoded body (``ProtocolError`` naming the field) and
returns the params and the unknown field names; ranges are checked by the worker's backend.
docs/protocol.md lists every field; ``worker.protocol`` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .fields import ProtocolError
from .fields import typed as _typed


@dataclass
class LoraParam:
    name: str
    weight: float = 1.0


# The generation settings that depend on the model, as the built-in model wants them. A model
# lists its own (``list_models``: ``generate_defaults``, always complete); the worker fills a
# request's unset (None / left out) ones from the model's. width/height: the model's
# ``default_size``; scheduler "": the backend's default.
GENERATE_DEFAULTS: dict[str, int | float | str] = {"steps": 20, "guidance": 3.0,
                                                   "scheduler": ""}
MODEL_DEPENDENT = ("steps", "guidance", "width", "height")


@dataclass
class GenerateParams:
    """The body of a ``generate`` request: every field of ``t2i_core``'s ``GenerateRequest``
    except the two arrays, which travel as frames named ``init_image`` and ``mask``.
    Types are checked here; ranges are checked by the worker's backend (one source of truth).
    ``steps``, ``guidance``, ``width`` and ``height`` left at None are left out of the body:
    the worker runs the model's own (``generate_defaults``), not the built-in model's.
    """

    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    width: int | None = None
    height: int | None = None
    count: int = 1
    steps: int | None = None
    guidance: float | None = None
    model: str = "builtin"
    strength: float = 0.6
    loras: list[LoraParam] = field(default_factory=list)
    scheduler: str = ""
    vector: bool = False  # also an SVG per image (models whose list entry has "vector")

    def to_body(self) -> dict:
        body = {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}
        body["loras"] = [{"name": lo.name, "weight": lo.weight} for lo in self.loras]
        return body

    def filled(self, defaults: dict[str, Any]) -> GenerateParams:
        """A copy whose unset model-dependent fields come from ``defaults`` (a model's
        complete ``generate_defaults``); a scheduler of "" too."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (*MODEL_DEPENDENT, "scheduler"):
            if values[name] in (None, "") and name in defaults:
                values[name] = defaults[name]
        return GenerateParams(**values)

    @classmethod
    def from_body(cls, body: dict, request_id: str = "") -> tuple[GenerateParams, list[str]]:
        """Checked params and the names of unknown fields (ignored, for forward compatibility)."""
        kinds = {"prompt": str, "negative_prompt": str, "model": str, "scheduler": str,
                 "seed": int, "width": int, "height": int, "count": int, "steps": int,
                 "guidance": float, "strength": float}
        values: dict[str, Any] = {}
        for name, kind in kinds.items():
            # null = left out: the model's own value (generate_defaults)
            if name in body and not (body[name] is None and name in MODEL_DEPENDENT):
                values[name] = _typed(body[name], kind, name, request_id)
        if "prompt" not in values:
            raise ProtocolError("bad_message", "generate needs a 'prompt' string", request_id)
        if "vector" in body:
            if not isinstance(body["vector"], bool):
                raise ProtocolError("bad_message", "'vector' must be true or false",
                                    request_id)
            values["vector"] = body["vector"]
        loras = body.get("loras", [])
        if not isinstance(loras, list) or len(loras) > 32:
            raise ProtocolError("bad_message", "'loras' must be a list of at most 32 "
                                "{name, weight} objects", request_id)
        parsed = []
        for lo in loras:
            if not isinstance(lo, dict) or not isinstance(lo.get("name"), str):
                raise ProtocolError("bad_message", "each 'loras' entry needs a 'name' string "
                                    "and an optional numeric 'weight'", request_id)
            parsed.append(LoraParam(lo["name"], _typed(lo.get("weight", 1.0), float,
                                                       "lora weight", request_id)))
        values["loras"] = parsed
        unknown = sorted(k for k in body if k not in kinds and k not in ("loras", "vector"))
        return cls(**values), unknown


# The training settings that depend on the model, as the built-in model wants them. A model
# may list its own (``list_models``: ``train_defaults``); the worker fills a request's
# unset (None) ones from the model's, then from these.
TRAIN_DEFAULTS: dict[str, int | float] = {"steps": 120, "batch": 16, "rank": 8, "alpha": 8.0,
                                          "learning_rate": 5e-3}


@dataclass
class TrainParams:
    """The body of a ``train`` request (fine-tune a LoRA adapter on a folder of images).
    Only ``folder`` and ``name`` are required; the rest have defaults that need no tuning
    (None: the model's own, see ``TRAIN_DEFAULTS``). Types are checked here; ranges, the
    folder and the name by ``t2i_core.finetune``."""

    folder: str
    name: str
    trigger: str = ""
    model: str = "builtin"
    steps: int | None = None
    batch: int | None = None
    rank: int | None = None
    alpha: float | None = None
    learning_rate: float | None = None
    layers: str = "style"  # "style": the style path; "all": every linear map; "none": no LoRA
    prior: float = 0.5  # share of each batch from the base data (prior preservation)
    auto_captions: bool = True  # file-name captions joined by nearest base captions
    seed: int = 0
    augment_images: bool = True
    augment_text: bool = True
    colour_jitter: float = 0.05
    render_steps: int = 0  # the look's learned renderer beside a LoRA (0: colour tables only)
    sample_prompts: list[str] = field(default_factory=list)
    sample_every: int = 200
    checkpoint_every: int = 100

    def to_body(self) -> dict:
        """The wire body; unset model-dependent settings are left out for the worker."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}

    @classmethod
    def from_body(cls, body: dict, request_id: str = "") -> tuple[TrainParams, list[str]]:
        kinds = {"folder": str, "name": str, "trigger": str, "model": str, "steps": int,
                 "batch": int, "rank": int, "alpha": float, "learning_rate": float,
                 "seed": int, "colour_jitter": float, "sample_every": int,
                 "checkpoint_every": int, "layers": str, "prior": float,
                 "render_steps": int}
        values: dict[str, Any] = {}
        for name, kind in kinds.items():
            if name in body:
                values[name] = _typed(body[name], kind, name, request_id)
        for name in ("augment_images", "augment_text", "auto_captions"):
            if name in body:
                if not isinstance(body[name], bool):
                    raise ProtocolError("bad_message", f"'{name}' must be true or false",
                                        request_id)
                values[name] = body[name]
        prompts = body.get("sample_prompts", [])
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise ProtocolError("bad_message", "'sample_prompts' must be a list of strings",
                                request_id)
        values["sample_prompts"] = list(prompts)
        for name in ("folder", "name"):
            if name not in values:
                raise ProtocolError("bad_message", f"train needs a '{name}' string", request_id)
        known = set(kinds) | {"augment_images", "augment_text", "sample_prompts"}
        return cls(**values), sorted(k for k in body if k not in known)


PLAN_FORMATS = ("svg", "geometry", "dxf")


@dataclass
class PlanParams:
    """The body of a ``plan`` request: a floor plan from text, or from an edited programme
    (``programme``, the plain-data table a previous result returned; it wins over
    ``prompt``). ``time_limit`` is the solver's work limit per variant (deterministic
    seconds); ``formats`` the files each variant comes back as (frames, in this order).
    Types are checked here; the programme and the ranges by ``t2i_core.plan``."""

    prompt: str = ""
    programme: dict | None = None
    variants: int = 3
    seed: int = 0
    time_limit: float = 0.3
    formats: list[str] = field(default_factory=lambda: ["svg", "geometry"])

    def to_body(self) -> dict:
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.programme is None:
            del body["programme"]
        return body

    @classmethod
    def from_body(cls, body: dict, request_id: str = "") -> tuple[PlanParams, list[str]]:
        kinds = {"prompt": str, "variants": int, "seed": int, "time_limit": float}
        values: dict[str, Any] = {}
        for name, kind in kinds.items():
            if name in body:
                values[name] = _typed(body[name], kind, name, request_id)
        prog = body.get("programme")
        if prog is not None and not isinstance(prog, dict):
            raise ProtocolError("bad_message", "'programme' must be an object (rooms, "
                                "relations, ...) as a plan result returns it", request_id)
        values["programme"] = prog
        formats = body.get("formats", ["svg", "geometry"])
        if (not isinstance(formats, list) or not formats
                or not all(f in PLAN_FORMATS for f in formats)
                or len(set(formats)) != len(formats)):
            raise ProtocolError("bad_message", "'formats' must be a list of distinct names "
                                f"from {', '.join(PLAN_FORMATS)}", request_id)
        values["formats"] = list(formats)
        if not values.get("prompt") and prog is None:
            raise ProtocolError("bad_message", "plan needs a 'prompt' string or a 'programme' "
                                "object", request_id)
        known = set(kinds) | {"programme", "formats"}
        return cls(**values), sorted(k for k in body if k not in known)


@dataclass
class UpscaleParams:
    """The body of an ``upscale`` request; the image travels as a frame named ``image``.
    ``scale`` is 2, 4, 8 or 16; ``model`` "" (or "builtin") is the built-in icon upscaler,
    else the id of a diffusers upscaler in the worker's models folder (hello's
    ``upscalers``), which also takes ``prompt``, ``steps`` and ``seed``."""

    scale: int = 4
    model: str = ""
    prompt: str = ""
    steps: int = 20
    seed: int = 0

    def to_body(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_body(cls, body: dict, request_id: str = "") -> tuple[UpscaleParams, list[str]]:
        kinds = {"scale": int, "model": str, "prompt": str, "steps": int, "seed": int}
        values = {name: _typed(body[name], kind, name, request_id)
                  for name, kind in kinds.items() if name in body}
        return cls(**values), sorted(k for k in body if k not in kinds)
