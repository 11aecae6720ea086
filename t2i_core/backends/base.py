"""The request and result objects every backend, the worker, the wire and the panels share.

They are plain dataclasses (like krita-ai-diffusion's workflow inputs): built by the panel,
sent over the wire as JSON + raw image frames, validated once at the edge with
``GenerateRequest.validate``, then trusted inside the backend.

Images are numpy ``uint8`` arrays: colour images ``(H, W, 4)`` RGBA (straight alpha), masks
``(H, W)`` where 255 means "repaint here" and 0 means "keep".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from t2i_core.errors import T2IError

MAX_PROMPT_CHARS = 2000
MAX_COUNT = 16
MAX_STEPS = 200
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 30.0
MAX_SEED = 2**32 - 1


@dataclass
class LoraRef:
    """An adapter by name with its weight (1.0 = as trained; 0 disables; negative inverts)."""

    name: str
    weight: float = 1.0


@dataclass
class GenerateRequest:
    prompt: str
    negative_prompt: str = ""
    seed: int = 0  # image i of the request uses seed + i
    width: int = 128
    height: int = 128
    count: int = 1
    steps: int = 20
    guidance: float = 3.0
    model: str = "builtin"
    init_image: np.ndarray | None = None  # (H, W, 4) uint8, img2img / inpaint source
    strength: float = 0.6  # img2img: 0 keeps the init image, 1 ignores it
    mask: np.ndarray | None = None  # (H, W) uint8, 255 = repaint
    loras: list[LoraRef] = field(default_factory=list)
    scheduler: str = ""  # backend-specific; "" = the backend's default
    vector: bool = False  # also an SVG per image; the raster is rendered from it (vector/)

    @property
    def mode(self) -> str:
        if self.mask is not None:
            return "inpaint"
        return "img2img" if self.init_image is not None else "txt2img"

    def validate(self, sizes: tuple[int, ...] | None = None, square_only: bool = False) -> None:
        """Raise ``T2IError`` naming the problem and the accepted range; fix nothing silently."""
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise T2IError("empty_prompt", "the prompt is empty; describe the image you want, "
                           "e.g. 'a red apple'")
        if len(self.prompt) > MAX_PROMPT_CHARS or len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise T2IError("prompt_too_long", f"prompts are limited to {MAX_PROMPT_CHARS} "
                           "characters")
        _int_in("seed", self.seed, 0, MAX_SEED)
        _int_in("count", self.count, 1, MAX_COUNT)
        _int_in("steps", self.steps, 1, MAX_STEPS)
        if not _is_number(self.guidance) or not MIN_GUIDANCE <= self.guidance <= MAX_GUIDANCE:
            raise T2IError("bad_guidance", f"guidance {self.guidance!r} is out of range; use "
                           f"{MIN_GUIDANCE:g} to {MAX_GUIDANCE:g} (3 is a good start)")
        if not _is_number(self.strength) or not 0.0 <= self.strength <= 1.0:
            raise T2IError("bad_strength", f"strength {self.strength!r} is out of range; use 0 "
                           "(keep the init image) to 1 (ignore it)")
        _int_in("width", self.width, 8, 4096)
        _int_in("height", self.height, 8, 4096)
        if sizes is not None and (self.width not in sizes or self.height not in sizes):
            raise T2IError("bad_size", f"size {self.width}x{self.height} is not supported by "
                           f"model '{self.model}'; use one of {', '.join(map(str, sizes))}")
        if square_only and self.width != self.height:
            raise T2IError("bad_size", f"model '{self.model}' makes square images; got "
                           f"{self.width}x{self.height}")
        if self.init_image is not None:
            _check_image("init image", self.init_image, channels=4)
        if self.mask is not None:
            _check_image("mask", self.mask, channels=None)
            if self.init_image is None:
                raise T2IError("mask_without_image", "a mask needs an init image to inpaint")
            if self.mask.shape[:2] != self.init_image.shape[:2]:
                raise T2IError("bad_mask", f"mask is {self.mask.shape[1]}x{self.mask.shape[0]} "
                               f"but the init image is {self.init_image.shape[1]}x"
                               f"{self.init_image.shape[0]}; they must be the same size")
        for lora in self.loras:
            if not isinstance(lora.name, str) or not lora.name:
                raise T2IError("bad_lora", "an adapter entry has no name")
            if not _is_number(lora.weight) or not -4.0 <= lora.weight <= 4.0:
                raise T2IError("bad_lora", f"adapter '{lora.name}' weight {lora.weight!r} is "
                               "out of range; use -4 to 4 (1 = as trained)")


@dataclass
class Provenance:
    """How an image was made: enough to regenerate, vary or trace it later."""

    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    width: int
    height: int
    backend: str
    model: str
    model_hash: str
    mode: str = "txt2img"
    strength: float | None = None
    loras: list[LoraRef] = field(default_factory=list)
    scheduler: str = ""
    vector: bool = False  # traced into an SVG; the raster was rendered from it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Provenance:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["loras"] = [LoraRef(**lo) for lo in known.get("loras", [])]
        return cls(**known)

    def a1111_parameters(self) -> str:
        """The A1111 'parameters' text: prompt, negative line, then key: value pairs."""
        lines = [self.prompt]
        if self.negative_prompt:
            lines.append(f"Negative prompt: {self.negative_prompt}")
        pairs = [("Steps", self.steps), ("Sampler", self.scheduler or "Euler"),
                 ("CFG scale", self.guidance), ("Seed", self.seed),
                 ("Size", f"{self.width}x{self.height}"), ("Model hash", self.model_hash[:10]),
                 ("Model", self.model), ("Backend", self.backend)]
        if self.strength is not None and self.mode != "txt2img":
            pairs.append(("Denoising strength", self.strength))
        if self.vector:
            pairs.append(("Vector", "svg"))
        if self.loras:
            pairs.append(("Lora hashes", ", ".join(f"{lo.name}: {lo.weight}"
                                                    for lo in self.loras)))
        lines.append(", ".join(f"{k}: {v}" for k, v in pairs))
        return "\n".join(lines)


@dataclass
class GenerateResult:
    images: list[np.ndarray]  # each (H, W, 4) uint8 RGBA
    provenance: list[Provenance]  # one per image (seeds differ)
    warnings: list[str] = field(default_factory=list)  # e.g. "prompt truncated to 128 tokens"
    svgs: list[str] = field(default_factory=list)  # one per image when vector was asked for


@dataclass
class ModelInfo:
    id: str
    backend: str
    hash: str
    sizes: tuple[int, ...]
    default_size: int
    description: str = ""
    # None: this model cannot be fine-tuned. Otherwise the training settings that suit it,
    # over the ``train`` request's defaults (which suit the built-in model): an SD model
    # wants a far smaller batch and learning rate. A request's own values always win.
    train_defaults: dict[str, Any] | None = None
    # The generation settings that suit it (steps, guidance, scheduler, width, height), used
    # for the fields a request leaves out. None: the built-in model's (20 steps, guidance 3)
    # at ``default_size``. The worker lists them complete (``list_models``).
    generate_defaults: dict[str, Any] | None = None
    # Results can also come back as SVG (``GenerateRequest.vector``): icon-style models.
    vector: bool = False
    # Its fine-tuning also learns a *look* (the folder's colour tables, and on request the
    # learned renderer: ``render_steps``, ``layers="none"``; docs/finetune.md). False: a
    # ``train`` request for it must leave those at their defaults (worker/accept.py).
    train_look: bool = False


class ProgressCallback(Protocol):
    def __call__(self, step: int, total: int, preview: np.ndarray | None) -> None: ...


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@runtime_checkable
class Backend(Protocol):
    """What the worker needs from a backend. Implementations: builtin, live, diffusers (and
    worker.testing's synthetic one). What some backends can do beyond this (lazy listing,
    a models folder, adapters, training, a device) is one protocol each in abilities.py."""

    name: str

    def models(self) -> list[ModelInfo]: ...

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None,
                 cancel: CancelFlag | None = None) -> GenerateResult:
        """Validate, then generate; raise ``T2IError`` for bad input, ``Cancelled`` on cancel."""
        ...


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _int_in(name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise T2IError(f"bad_{name}", f"{name} {value!r} is out of range; use a whole number "
                       f"from {lo} to {hi}")


def _check_image(what: str, arr: object, channels: int | None) -> None:
    ok = isinstance(arr, np.ndarray) and arr.dtype == np.uint8
    if ok and channels is None:
        ok = arr.ndim == 2
    elif ok:
        ok = arr.ndim == 3 and arr.shape[2] == channels
    if not ok or min(arr.shape[:2]) < 1:
        want = "(H, W) uint8" if channels is None else f"(H, W, {channels}) uint8 RGBA"
        got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise T2IError("bad_image", f"the {what} must be a {want} array; got {got}")
