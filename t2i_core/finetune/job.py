"""The fine-tuning job, generic over a *trainable backend*.

The job owns everything that is the same for any model: checking the request and the folder,
choosing the adapter's name (never overwriting one: ``name-2``), the run folder, the
optimizer and its schedule, progress with loss / ETA / throughput, sample previews, cancel,
checkpoints with exact resume (LoRA weights, AdamW moments, step, numpy and torch RNG, the
loss curve), and writing the adapter atomically with its metadata.

A backend plugs in by offering ``trainer(request) -> Trainable`` and an ``adapter_library``
(``AdapterLibrary``). The ``Trainable`` knows its model: it prepares the folder's data
(captions, latents, memory), injects LoRA and says which parameters train, computes one
batch's loss from the job's RNG, draws previews, and hands back the adapter's tensors and
metadata. The built-in model's is ``t2i_core.backends.builtin_trainer``; a diffusers SD
backend implements the same five methods (docs/finetune.md, "Other backends").

Resume: the run folder ``.runs/<name>/`` holds ``run.json`` (folder fingerprint + settings)
and ``checkpoint.safetensors`` (``t2i_core/checkpoint.py``: temp file + rename, so a crash or a
full disk mid-write leaves the previous one intact). The same request again (same folder
content, same settings) continues from the last checkpoint, bit for bit as if it had never
stopped; anything else gets a fresh run under a free name.

Tries (a cluster job run again on another node, ``attempt=(job id, token)``): see
``attempts.py``; a newer try claims the run, an older one still going stops writing.
"""

from __future__ import annotations

import errno
import json
import math
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from t2i_core.abilities import HintsMemory, SupportsTraining
from t2i_core.checkpoint import load_checkpoint, save_checkpoint
from t2i_core.errors import Cancelled, T2IError, is_out_of_memory
from t2i_core.finetune.attempts import RUN_FILE, adapter_job, claim, run_info, superseded
from t2i_core.finetune.dataset import FolderData, load_folder
from t2i_core.finetune.library import ADAPTER_EXT, AdapterLibrary, check_name, read_metadata
from t2i_core.finetune.request import TrainProgress, TrainRequest, TrainResult

CHECKPOINT = "checkpoint.safetensors"
WARMUP = 50
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
FRESH, RESUME, FINISHED = "fresh", "resume", "finished"  # what _pick_name found

Progress = Callable[[TrainProgress], None]


class Trainable(Protocol):
    """What a backend gives the job to fine-tune one of its models."""

    base_model: str  # model id
    base_hash: str  # content hash of the base weights
    adapter_format: str  # the adapter file's "format" metadata
    adapter_name: str  # set by the job before ``prepare``: the adapter's final name

    def prepare(self, data: FolderData, request: TrainRequest) -> None:
        """Cache what training needs from the folder; inject LoRA."""

    def parameters(self) -> list[torch.nn.Parameter]:
        """The parameters that train (the LoRA A/B matrices)."""

    def loss(self, rng: np.random.Generator) -> torch.Tensor:
        """One batch's loss; all randomness from ``rng`` and torch's global generator."""

    def samples(self, prompts: list[str], seed: int) -> list[np.ndarray]:
        """One RGBA preview per prompt with the weights as they are now."""

    def adapter(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """The adapter file's tensors and extra string metadata (key naming is the
        backend's: peft names for the built-in model, kohya names for SD)."""


class _Params(torch.nn.Module):
    """Holds the trainable tensors so ``save_checkpoint`` stores them, not the frozen base."""

    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        super().__init__()
        self.p = torch.nn.ParameterList(params)


def train(backend, request: TrainRequest, progress: Progress | None = None,
          cancel=None, attempt: tuple[str, str] | None = None) -> TrainResult:
    """Run (or resume) one fine-tuning job. Raises ``T2IError`` for bad input and
    ``Cancelled`` when ``cancel.is_set()`` (after saving a checkpoint to resume from).
    ``attempt``: (job id, this try's token) when the job may be tried again elsewhere (see
    the module docstring); ``T2IError`` ``superseded`` when a newer try took the run over."""
    t_start = time.monotonic()
    request.validate()
    requested = check_name(request.name)
    if not isinstance(backend, SupportsTraining):
        raise T2IError("not_trainable", f"backend '{backend.name}' cannot fine-tune its "
                       "models; use the built-in model")
    factory = backend.trainer
    library: AdapterLibrary = backend.adapter_library
    report = progress or (lambda p: None)
    report(TrainProgress("loading", 0, request.steps, message=f"reading {request.folder}"))
    data = load_folder(Path(request.folder), request.trigger)
    name, state = _pick_name(library, requested, data.fingerprint, request, attempt)
    run_dir = library.run_dir(name)
    if state == FINISHED:
        return _finished_result(library, name, requested, data, run_dir, report, t_start)
    trainable: Trainable = factory(request)
    trainable.adapter_name = name  # the final name (name-2 when taken): kohya's ss_output_name
    report(TrainProgress("preparing", 0, request.steps,
                         message=f"{len(data)} images, {len(data.skipped)} skipped"))
    torch.manual_seed(request.seed)  # before prepare: the LoRA A matrices start random
    trainable.prepare(data, request)
    params = trainable.parameters()
    holder = _Params(params)
    opt = torch.optim.AdamW(params, lr=request.learning_rate, weight_decay=0.0)
    rng = np.random.default_rng(request.seed)
    step, losses = 0, []
    ckpt = run_dir / CHECKPOINT
    if state == RESUME and ckpt.exists():
        claim(run_dir, attempt)  # before loading: an older try stops writing from here on
        step, meta = load_checkpoint(ckpt, holder, opt)
        rng.bit_generator.state = meta["np_rng"]
        losses = list(meta["losses"])
    else:
        _write_run_file(run_dir, data.fingerprint, request, attempt)
    resumed_from = step

    def still_ours() -> None:
        if attempt is not None and superseded(library, name, attempt):
            raise T2IError("superseded", f"another try of this training job took over the "
                           f"run '{name}' at step {step}; this one stopped without writing")

    def checkpoint() -> None:
        still_ours()
        _save(ckpt, holder, opt, step, {"np_rng": rng.bit_generator.state, "losses": losses})

    def sample_now() -> None:
        if request.sample_prompts:
            report(TrainProgress("sampling", step, request.steps, losses[-1] if losses else
                                 None, samples=list(zip(request.sample_prompts,
                                                        trainable.samples(
                                                            request.sample_prompts,
                                                            request.seed), strict=True))))

    timer = _Throughput(request.batch)
    while step < request.steps:
        if cancel is not None and cancel.is_set():
            checkpoint()  # the next identical request picks up here
            raise Cancelled()
        for g in opt.param_groups:
            g["lr"] = _lr(request.learning_rate, step, request.steps)
        try:
            loss = trainable.loss(rng)
            if not torch.isfinite(loss):
                raise T2IError("training_diverged", f"the loss became {loss.item()} at step "
                               f"{step + 1}; lower the learning rate (now "
                               f"{request.learning_rate:g}) and train again")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        except (RuntimeError, MemoryError) as e:  # the allocator refused: say what to do
            if not is_out_of_memory(e):
                raise
            raise _memory_error(trainable, request, step) from e
        step += 1
        losses.append(round(float(loss.item()), 6))
        timer.tick()
        report(TrainProgress("training", step, request.steps, losses[-1],
                             timer.eta(request.steps - step), timer.rate()))
        if step % request.checkpoint_every == 0 and step < request.steps:
            checkpoint()
        if request.sample_every and step % request.sample_every == 0 and step < request.steps:
            sample_now()
    report(TrainProgress("saving", step, request.steps, losses[-1] if losses else None))
    tensors, extra = trainable.adapter()
    seconds = time.monotonic() - t_start
    meta = _metadata(trainable, request, name, data, step, losses)
    if attempt is not None:
        meta["job"] = attempt[0]  # a later try of this job hands this adapter back
    path = library.path_of(name)
    still_ours()
    _write_adapter(path, tensors, meta, extra, trainable.adapter_format)
    shutil.rmtree(run_dir, ignore_errors=True)  # finished: the adapter is what counts
    sample_now()  # the finished adapter's previews
    return TrainResult(name=name, path=str(path), requested_name=requested, steps=step,
                       resumed_from=resumed_from, loss=float(np.mean(losses[-20:])),
                       images=len(data), skipped=[vars(s) for s in data.skipped],
                       captions=data.caption_summary(), seconds=round(seconds, 2),
                       images_per_s=round(timer.rate() or 0.0, 2), losses=losses,
                       metadata=meta)


def _pick_name(library: AdapterLibrary, name: str, fingerprint: str,
               request: TrainRequest, attempt: tuple[str, str] | None = None
               ) -> tuple[str, str]:
    """(name, FRESH | RESUME | FINISHED): the first of name, name-2, ... that is either free
    (no adapter, no run folder), an unfinished run of this very request (resume it), or
    this very request's adapter whose run folder is still there (the job was killed after
    writing the adapter and before cleaning up: it is done, do not train it again), or the
    adapter an earlier try of this very job (``attempt``) wrote."""
    for candidate in library.candidates(name):
        run = library.run_dir(candidate)
        if library.exists(candidate):
            if run.exists() and _adapter_is_this_run(library, candidate, fingerprint, request):
                return candidate, FINISHED
            if attempt is not None and adapter_job(library, candidate) == attempt[0]:
                return candidate, FINISHED
            continue
        if not run.exists():
            return candidate, FRESH
        info = run_info(run)
        if info is None:  # killed before its first write: reuse it
            return candidate, FRESH
        if (info.get("fingerprint") == fingerprint
                and info.get("settings") == request.settings()):
            return candidate, RESUME
    raise T2IError("name_taken", f"too many adapters and runs named {name}-N; pick a new name")


def _adapter_is_this_run(library: AdapterLibrary, name: str, fingerprint: str,
                         request: TrainRequest) -> bool:
    """Whether the adapter ``name`` was written by this very request (same folder content
    and trigger, same settings). Its metadata says so; adapters written before the metadata
    carried ``settings`` are matched through the run folder's run.json."""
    try:
        meta = read_metadata(library.path_of(name))
    except T2IError:  # damaged: never ours to hand back
        return False
    if meta.get("folder_fingerprint") != fingerprint:
        return False
    if isinstance(meta.get("settings"), dict):
        return meta["settings"] == request.settings()
    info = run_info(library.run_dir(name)) or {}
    return (info.get("fingerprint") == fingerprint
            and info.get("settings") == request.settings())


def _finished_result(library: AdapterLibrary, name: str, requested: str, data: FolderData,
                     run_dir: Path, report: Progress, t_start: float) -> TrainResult:
    """The result of a run that had finished (adapter written) but not cleaned up."""
    path = library.path_of(name)
    meta = read_metadata(path)
    steps = int(meta.get("steps", 0))
    report(TrainProgress("saving", steps, steps, message=f"{name} was already trained; "
                         "using the finished adapter"))
    shutil.rmtree(run_dir, ignore_errors=True)  # the cleanup the killed job did not do
    curve = [float(x) for x in meta.get("loss_curve") or []]
    return TrainResult(name=name, path=str(path), requested_name=requested, steps=steps,
                       resumed_from=steps, loss=float(np.mean(curve[-20:])) if curve else 0.0,
                       images=len(data), skipped=[vars(s) for s in data.skipped],
                       captions=data.caption_summary(),
                       seconds=round(time.monotonic() - t_start, 2), images_per_s=0.0,
                       losses=curve, metadata=_own_metadata(path))


def _own_metadata(path: Path) -> dict:
    """The job's metadata JSON of an adapter file (what a fresh run's result carries)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        ours = json.loads((f.metadata() or {}).get("t2i", "{}"))
    return ours if isinstance(ours, dict) else {}


def _memory_error(trainable: Trainable, request: TrainRequest, step: int) -> T2IError:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    hint = trainable.memory_hint if isinstance(trainable, HintsMemory) else ""
    return T2IError("out_of_memory", f"not enough memory to train at step {step + 1} with "
                    f"batch {request.batch}; train again with a smaller batch or rank"
                    f"{'; ' + hint if hint else ''}, or close other programs")


def _write_run_file(run_dir: Path, fingerprint: str, request: TrainRequest,
                    attempt: tuple[str, str] | None = None) -> None:
    info = {"fingerprint": fingerprint, "settings": request.settings(),
            "request": request.to_dict()}
    if attempt is not None:
        info["attempt"] = list(attempt)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
        (run_dir / RUN_FILE).write_text(json.dumps(info, indent=1))
    except OSError as e:
        raise _disk_error(e, run_dir, "start the run") from e


def _save(path: Path, holder: torch.nn.Module, opt: torch.optim.Optimizer, step: int,
          meta: dict) -> None:
    try:
        save_checkpoint(path, holder, opt, step, meta)
    except Exception as e:  # OSError, or safetensors' own error wrapping one
        path.with_suffix(".tmp").unlink(missing_ok=True)
        raise _disk_error(e, path.parent, f"save the checkpoint at step {step}") from e


def _disk_error(e: Exception, where: Path, what: str) -> T2IError:
    code = getattr(e, "errno", None)
    if code is None:
        m = re.search(r"os error (\d+)", str(e))
        code = int(m.group(1)) if m else None
    if code in DISK_ERRNOS:
        return T2IError("disk_full", f"could not {what}: the disk is full ({where}). Free "
                        "some space and start the same training again: it resumes from the "
                        "last checkpoint, which is intact")
    return T2IError("write_failed", f"could not {what} in {where}: {e}; check the folder's "
                    "permissions and free space, then start the same training again")


def _write_adapter(path: Path, tensors: dict[str, torch.Tensor], meta: dict,
                   extra: dict[str, str], fmt: str) -> None:
    from safetensors.torch import save_file

    header = {"format": fmt, "t2i": json.dumps(meta), **extra}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=header)
        tmp.replace(path)
    except Exception as e:  # noqa: BLE001 - reported as a clean error, the run stays
        tmp.unlink(missing_ok=True)
        raise _disk_error(e, path.parent, f"write the adapter {path.name}") from e


def _metadata(trainable: Trainable, request: TrainRequest, name: str, data: FolderData,
              step: int, losses: list[float]) -> dict:
    curve = losses[:: max(1, math.ceil(len(losses) / 100))]
    return {"name": name, "base_model": trainable.base_model, "base_hash": trainable.base_hash,
            "rank": request.rank, "alpha": request.alpha, "steps": step,
            "batch": request.batch, "learning_rate": request.learning_rate,
            "dataset_size": len(data), "skipped": len(data.skipped),
            "captions": data.caption_summary(), "trigger": request.trigger,
            "augment_images": request.augment_images, "augment_text": request.augment_text,
            "folder_fingerprint": data.fingerprint, "settings": request.settings(),
            "loss_curve": curve,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "file": f"{name}{ADAPTER_EXT}"}


def _lr(base: float, step: int, total: int) -> float:
    warm = min(1.0, (step + 1) / min(WARMUP, max(1, total // 10)))
    return base * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / max(1, total))))


class _Throughput:
    """images/s and ETA over the last ~20 steps (a shared CPU's speed changes)."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.times: list[float] = [time.monotonic()]

    def tick(self) -> None:
        self.times.append(time.monotonic())
        self.times = self.times[-21:]

    def rate(self) -> float | None:
        if len(self.times) < 2:
            return None
        dt = self.times[-1] - self.times[0]
        return self.batch * (len(self.times) - 1) / dt if dt > 0 else None

    def eta(self, steps_left: int) -> float | None:
        r = self.rate()
        return round(steps_left * self.batch / r, 1) if r else None
