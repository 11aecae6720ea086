"""What a fine-tuning job is asked to do, and what it reports: plain dataclasses.

``TrainRequest`` is built by the panel (through the worker's ``train`` request) or by
``t2i train``, validated once here (``validate``), then trusted by the job. The defaults need
no tuning for a folder of 5 to a few thousand images (docs/finetune.md has the numbers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from t2i_core.errors import T2IError

MAX_STEPS = 100_000
MAX_SAMPLE_PROMPTS = 4


@dataclass
class TrainRequest:
    folder: str
    name: str
    trigger: str = ""  # put in front of every caption; type it in a prompt to call the style
    model: str = "builtin"
    steps: int = 120  # issue 16: <= 5 min on a busy 2-core CPU (docs/finetune.md)
    batch: int = 16
    rank: int = 8
    alpha: float = 8.0
    learning_rate: float = 5e-3  # on the style path only (layers="style")
    layers: str = "style"  # "style": adaLN + text map (lora.py); "all": every linear map
    prior: float = 0.5  # share of each batch from the base data (prior preservation)
    auto_captions: bool = True  # file-name captions replaced by nearest base captions
    seed: int = 0
    augment_images: bool = True  # crops, flips, mild colour jitter (augment.py)
    augment_text: bool = True  # word replace/delete/insert, tag shuffle, caption dropout
    colour_jitter: float = 0.05
    # the look's renderer (render.py) beside a LoRA: steps of its tiny network on the folder
    # (with layers="none" the job's steps train it). 0 = the colour tables alone, the
    # default: the renderer took the themes' shading but halved R-precision under both
    # evaluation encoders (docs/finetune.md "The renderer")
    render_steps: int = 0
    sample_prompts: list[str] = field(default_factory=list)  # previews every sample_every
    sample_every: int = 200  # steps; 0 = no previews
    checkpoint_every: int = 100  # steps

    def settings(self) -> dict:
        """What must match for a run to resume from another one's checkpoint."""
        keep = ("model", "steps", "batch", "rank", "alpha", "learning_rate", "layers", "prior",
                "auto_captions", "seed", "augment_images", "augment_text", "colour_jitter")
        out = {k: getattr(self, k) for k in keep}
        if self.render_steps:  # only when used: runs and adapters from before it still match
            out["render_steps"] = self.render_steps
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        if not isinstance(self.folder, str) or not self.folder.strip():
            raise T2IError("bad_folder", "pick the folder of images to train on")
        if not isinstance(self.trigger, str) or len(self.trigger) > 100:
            raise T2IError("bad_trigger", "the trigger phrase must be text of at most 100 "
                           "characters, e.g. 'inkwash style'")
        _int("steps", self.steps, 1, MAX_STEPS)
        _int("batch", self.batch, 1, 256)
        _int("render_steps", self.render_steps, 0, MAX_STEPS)
        _int("rank", self.rank, 1, 128)
        _int("seed", self.seed, 0, 2**32 - 1)
        _int("sample_every", self.sample_every, 0, MAX_STEPS)
        _int("checkpoint_every", self.checkpoint_every, 1, MAX_STEPS)
        _num("alpha", self.alpha, 0.0, 1024.0)
        _num("learning_rate", self.learning_rate, 1e-6, 1.0)
        _num("colour_jitter", self.colour_jitter, 0.0, 0.5)
        _num("prior", self.prior, 0.0, 0.9)
        if self.layers not in ("style", "all", "none"):
            raise T2IError("bad_layers", f"layers {self.layers!r} is not known; use 'style', "
                           "'all' or 'none' (no LoRA: the steps train the look's renderer)")
        if not isinstance(self.auto_captions, bool):
            raise T2IError("bad_auto_captions", "auto_captions must be true or false")
        if (not isinstance(self.sample_prompts, list)
                or len(self.sample_prompts) > MAX_SAMPLE_PROMPTS
                or not all(isinstance(p, str) and 0 < len(p.strip()) <= 300
                           for p in self.sample_prompts)):
            raise T2IError("bad_sample_prompts", f"sample prompts must be a list of at most "
                           f"{MAX_SAMPLE_PROMPTS} non-empty prompts of at most 300 characters")

    def refuse_look(self, model_id: str) -> None:
        """For a model whose training has no look (an SD model): the look's settings are
        refused, not ignored (its trainer would skip them, yet they would still count in the
        run's settings and the adapter's metadata)."""
        if self.render_steps:
            raise T2IError("bad_render_steps", f"model '{model_id}' trains no look, so "
                           f"render_steps must be 0 (got {self.render_steps}); the learned "
                           "shading is for the built-in model")
        if self.layers == "none":
            raise T2IError("bad_layers", f"model '{model_id}' trains no look, so layers "
                           "'none' (no LoRA, only the look's renderer) would train nothing; "
                           "use 'style'")


@dataclass
class TrainProgress:
    """One progress report. ``samples`` holds (prompt, RGBA uint8) previews when taken."""

    phase: str  # "loading" | "preparing" | "training" | "sampling" | "saving"
    step: int
    total: int
    loss: float | None = None
    eta_s: float | None = None
    images_per_s: float | None = None
    samples: list = field(default_factory=list)
    message: str = ""


@dataclass
class TrainResult:
    name: str  # the adapter's name (``name-2`` when the asked-for name was taken)
    path: str
    requested_name: str
    steps: int
    resumed_from: int  # 0 = a fresh run
    loss: float
    images: int
    skipped: list[dict]
    captions: dict
    seconds: float
    images_per_s: float
    losses: list[float]  # per step, the whole run (resumed parts included)
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("losses")  # can be long; the file's metadata has a summary
        return d


def _int(name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise T2IError(f"bad_{name}", f"{name} {value!r} is out of range; use a whole number "
                       f"from {lo} to {hi}")


def _num(name: str, value: object, lo: float, hi: float) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise T2IError(f"bad_{name}", f"{name} {value!r} is out of range; use a number from "
                       f"{lo:g} to {hi:g}")
