"""A fine-tuning job as the add-on tracks it, and its words for the panel (no bpy).

The worker's ``train`` request (docs/protocol.md) turns a folder of images into a LoRA
adapter. Its events arrive on the client's I/O thread, go through the session's queue and
are applied here on Blender's main thread, like a generate job's. Wording follows the Qt
panel's Train tab (plugin/panel/train.py, plugin/panel/messages.py); this add-on ships
alone in its zip, so it carries its own copy of the sentences.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

from .link import (
    Cancelled,
    Failure,
    Message,
    ModelEntry,
    Progress,
    Queued,
    TrainParams,
    TrainResult,
)
from .pixels import rgba8_to_blender

PHASES = {"loading": "Reading the folder", "preparing": "Preparing",
          "training": "Training", "sampling": "Drawing previews", "saving": "Saving the adapter"}
SKIPPED_SHOWN = 3  # the first few skipped files are named, the rest counted

# The worker's message names the folder, the file or the value; these put what to do first.
# The folder is read on the worker's machine, which may not be this one: say so where it matters.
_ERRORS = {
    "empty_folder_field": "Pick the folder of images to train on (the folder button).",
    "empty_name": "Give the adapter a name, e.g. ink-style: you pick it by this name in "
                  "the Adapter list.",
    "bad_name": "Choose another adapter name. {message}",
    "folder_not_found": "The image folder was not found on the worker's computer. {message}",
    "not_a_folder": "That is a file, not a folder. {message}",
    "folder_unreadable": "The image folder cannot be read. {message}",
    "folder_empty": "The image folder is empty. {message}",
    "no_images": "The folder holds no image that can be used for training. {message}",
    "bad_trigger": "Shorten the trigger phrase. {message}",
    "bad_sample_prompts": "Check the sample prompt: {message}",
    "disk_full": "The disk is full. {message}",
    "write_failed": "The adapter could not be saved. {message}",
    "training_diverged": "Training went wrong (the loss exploded). {message}",
    "training_unavailable": "Training is not available in this installation. {message}",
    "not_trainable": "This model cannot be fine-tuned. {message}",
    "model_not_found": "That base model is not installed. {message}",
    "model_refused": "That base model's file cannot be used. {message}",
    "worker_lost": "The worker stopped during training. When it is connected again, press "
                   "Train with the same settings: it continues from the last checkpoint.",
    "worker_unavailable": "The worker could not be reached or started. {message}",
}


def train_error_text(code: str, message: str) -> str:
    """A sentence for an error of a training job (or of the Train form itself)."""
    template = _ERRORS.get(code)
    if template is None and code.startswith("bad_"):
        template = "Check the training settings: {message}"
    if template is None:
        return message or f"The worker reported a problem ({code})."
    return template.format(message=message).strip()


# The look (docs/finetune.md "The recipe"), as the Qt panel offers it
# (plugin/panel/train_advanced.py): the renderer's steps per choice of ``scene.t2i.train_look``.
# 400: the value measured in docs/finetune.md; training then takes about 1.6x as long
# (benchmarks/bench_train_look.py; docs/PERFORMANCE.md).
LOOK_RENDER_STEPS = {"colours": 0, "shading": 400}


def look_offered(model_id: str, entry: ModelEntry | None) -> bool:
    """Whether the model's training has a look (the worker's ``train_look``); before the
    worker's hello only the built-in model is assumed to."""
    return entry.train_look if entry is not None else model_id == "builtin"


def look_render_steps(look: str, model_id: str, entry: ModelEntry | None) -> int:
    """``render_steps`` for the request: 0 (what was sent before the choice existed) unless
    the model has a look and the shading was picked; never sent to a model without one."""
    return LOOK_RENDER_STEPS.get(look, 0) if look_offered(model_id, entry) else 0


def trainable_models(models: list[ModelEntry]) -> list[ModelEntry]:
    """The worker's models that can be fine-tuned (``train_defaults`` is not null)."""
    return [m for m in models if m.id and m.train_defaults is not None]


@dataclass
class TrainJob:
    """One train request (touched on the main thread only, except ``sample``, which the
    client's thread replaces whole)."""

    params: TrainParams
    request: Any = None
    state: str = "sending"  # sending, queued, running, done, error, cancelled
    position: int = 0
    phase: str = ""
    step: int = 0
    total: int = 0
    loss: float | None = None
    eta_s: float | None = None
    images_per_s: float | None = None
    phase_message: str = ""
    error: str = ""
    error_code: str = ""
    cancelled_step: int = 0
    result: TrainResult | None = None
    # the latest sample preview not yet shown: (width, height, Blender floats, prompt)
    sample: tuple[int, int, array, str] | None = None

    @property
    def id(self) -> str:
        return self.request.id if self.request is not None else ""

    @property
    def active(self) -> bool:
        return self.state in ("sending", "queued", "running")

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    def take_sample(self, p: Progress) -> None:  # the client's I/O thread
        """Convert the first ``sample`` frame of a progress event for Blender, off the UI."""
        pairs = [(im, prompt) for im, prompt in zip(p.sample_images, p.samples, strict=False)
                 if im.channels == 4]
        if pairs:
            im, prompt = pairs[0]
            self.sample = (im.width, im.height, rgba8_to_blender(im.data, im.width, im.height),
                           prompt)

    def apply(self, ev: Message) -> None:
        """Main thread: one event of this job."""
        reply = ev.reply
        if isinstance(reply, Queued):
            self.state, self.position = "queued", reply.position
        elif isinstance(reply, Progress):
            self.state = "running"
            self.step, self.total, self.phase = reply.step, reply.total, reply.phase
            for name in ("loss", "eta_s", "images_per_s"):
                if getattr(reply, name) is not None:
                    setattr(self, name, getattr(reply, name))
            self.phase_message = reply.message
        elif isinstance(reply, TrainResult):
            self.state, self.result = "done", reply
            self.step = self.total = reply.steps or self.total
            if reply.loss is not None:
                self.loss = reply.loss
            self.eta_s = 0.0
        elif isinstance(reply, Cancelled):
            self.state, self.cancelled_step = "cancelled", reply.step
        elif isinstance(reply, Failure):
            self.state, self.error_code = "error", reply.code
            self.error = reply.message or reply.code

    def fail(self, code: str, message: str) -> None:
        """End the job without the worker (e.g. the client refused to send it)."""
        self.state, self.error_code, self.error = "error", code, message


def progress_text(job: TrainJob) -> str:
    """One line for the bar: where the job is (phase, step/total)."""
    if job.state == "sending":
        return "Connecting to the worker…"
    if job.state == "queued":
        return f"Waiting: {job.position} job(s) ahead" if job.position else "Starting…"
    if job.state == "running":
        phase = PHASES.get(job.phase, job.phase.capitalize())
        return f"{phase}: step {job.step}/{job.total}" if job.total else phase
    if job.state == "done":
        return f"Done: {job.step} steps"
    if job.state == "cancelled":
        return "Cancelled"
    return "Failed"


def detail_text(job: TrainJob) -> str:
    """Loss, time left and speed, as the Qt panel shows them."""
    parts = []
    if job.loss is not None:
        parts.append(f"loss {job.loss:.4f}")
    if job.active and job.eta_s is not None:
        parts.append(f"{duration(job.eta_s)} left")
    if job.active and job.images_per_s:
        parts.append(f"{job.images_per_s:.1f} images/s")
    if job.active and job.phase_message and job.phase in ("loading", "preparing", "saving"):
        parts.append(job.phase_message)
    return " · ".join(parts)


def outcome_text(job: TrainJob) -> str:
    """The finished job in sentences: the adapter's final name, images used, files skipped;
    or why it stopped and what to do."""
    if job.state == "cancelled":
        if job.cancelled_step:
            return (f"Training cancelled after step {job.cancelled_step}. A checkpoint was "
                    "saved: press Train with the same folder and settings to continue from "
                    "there.")
        return "Training cancelled before its first step."
    if job.state == "error":
        return train_error_text(job.error_code, job.error)
    r = job.result
    if job.state != "done" or r is None:
        return ""
    name, asked, steps, resumed = r.name, r.requested_name, r.steps, r.resumed_from
    lines = [f"Adapter “{name}” is ready: trained on {r.images} images in "
             f"{steps} steps. Pick it in the Adapter list (with a weight)."]
    if asked and name != asked:
        lines.append(f"The name “{asked}” was already taken, so this adapter was saved as "
                     f"“{name}”; the existing “{asked}” was not changed.")
    if resumed and resumed >= steps:
        lines.append("This training had already finished; the adapter it made is used "
                     "(nothing was trained again).")
    elif resumed:
        lines.append(f"Continued an interrupted run from step {resumed}.")
    total = max(r.skipped_total, len(r.skipped))
    if total:
        named = ", ".join(f"{s.file} ({s.reason})" for s in r.skipped[:SKIPPED_SHOWN])
        more = f" and {total - SKIPPED_SHOWN} more" if total > SKIPPED_SHOWN else ""
        lines.append(f"Skipped {total} file{'s' if total != 1 else ''}: {named}{more}.")
    lines.extend(r.warnings)
    return "\n".join(lines)


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
