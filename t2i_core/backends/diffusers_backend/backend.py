"""The ``diffusers`` backend: the user's own SD-family models behind the Backend interface.

Start a worker with it::

    t2i worker --backend diffusers --backend-option diffusers.models_dir=/path/to/models \
        [--backend-option diffusers.device=cuda --backend-option diffusers.dtype=fp16 ...]

Models are scanned (and hashed, cached) at start-up; a model is loaded on its first request and
kept (``max_loaded`` at a time). Each request runs the family's diffusers pipeline for its mode
with our step callback: progress, cheap previews, cancel between steps.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from t2i_core.abilities import WantsPreview
from t2i_core.backends.base import (
    CancelFlag,
    GenerateRequest,
    GenerateResult,
    ModelInfo,
    ProgressCallback,
    Provenance,
)
from t2i_core.backends.diffusers_backend import loader
from t2i_core.backends.diffusers_backend.detect import FAMILY_NAMES
from t2i_core.backends.diffusers_backend.families import Family, family_for
from t2i_core.backends.diffusers_backend.hashing import HashCache
from t2i_core.backends.diffusers_backend.images import (
    blend_inpaint,
    to_pil_mask,
    to_pil_rgb,
    to_rgba,
)
from t2i_core.backends.diffusers_backend.lora import apply_loras, list_adapters
from t2i_core.backends.diffusers_backend.previews import latent_preview
from t2i_core.backends.diffusers_backend.prompt_tokens import truncation_warnings
from t2i_core.backends.diffusers_backend.scanner import LORA_DIR, ModelEntry, scan, scan_one
from t2i_core.backends.diffusers_backend.schedulers import make_scheduler
from t2i_core.backends.diffusers_backend.trainer import release as release_training
from t2i_core.errors import Cancelled, T2IError, is_out_of_memory
from t2i_core.finetune.library import AdapterLibrary

log = logging.getLogger("t2i.diffusers")
SIZES = tuple(range(64, 2049, 64))
# What kohya users train SD LoRAs with (a train request's own values win): the protocol's
# defaults (batch 16, learning rate 2e-3) suit the small built-in model, not a UNet.
# 20 images: 800 steps x batch 2, half of each batch the base model's own class images (prior
# preservation, TrainRequest.prior) = 40 passes over the folder (1500 x 2 without a prior was
# 150 passes: the overfitting of issue 16). Not yet measured on a full-size model (no GPU here).
SD_TRAIN_DEFAULTS = {"batch": 2, "learning_rate": 1e-4, "steps": 800, "rank": 8,
                     "alpha": 8.0}


def default_cache_dir() -> Path:
    env = os.environ.get("T2I_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return (base if env else base / "t2i-studio") / "diffusers"


class _Loaded:
    """One model in memory: its txt2img pipeline, mode pipelines sharing its modules, and
    the adapters loaded into it."""

    def __init__(self, entry: ModelEntry, pipe: Any, notes: list[str]) -> None:
        self.entry, self.pipe, self.notes = entry, pipe, notes
        self.modes: dict[str, Any] = {"txt2img": pipe}
        self.scheduler_config = pipe.scheduler.config
        self.adapters: set[str] = set()
        self.training = False  # a fine-tuning run's LoRA is in the UNet (trainer.py)


class DiffusersBackend:
    name = "diffusers"

    def __init__(self, models_dir: str | Path | None = None, loras_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None, device: str = "auto", dtype: str = "auto",
                 attention_slicing: bool = False, cpu_offload: str = "none",
                 vae_tiling: bool = False, t5_tokenizer: str | Path | None = None,
                 max_loaded: int = 1, train_resolution: int = 0) -> None:
        models_dir = models_dir or os.environ.get("T2I_MODELS_DIR")
        if not models_dir:
            raise T2IError("models_dir_missing", "the diffusers backend needs a models folder: "
                           "--backend-option diffusers.models_dir=/path/to/models (or set "
                           "T2I_MODELS_DIR)")
        self.models_dir = Path(models_dir).expanduser()
        self.loras_dir = Path(loras_dir).expanduser() if loras_dir else self.models_dir / LORA_DIR
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        t5 = Path(t5_tokenizer) if t5_tokenizer else self.models_dir / "tokenizers" / "t5"
        self.opts = loader.RuntimeOptions(device=str(device), dtype=str(dtype),
                                          attention_slicing=bool(attention_slicing),
                                          cpu_offload=str(cpu_offload),
                                          vae_tiling=bool(vae_tiling),
                                          t5_tokenizer=t5 if t5.is_dir() else None)
        self.opts.validate()
        self.torch_device = loader.resolve_device(self.opts.device)
        self.device = str(self.torch_device)
        self.dtype = loader.resolve_dtype(self.opts.dtype, self.torch_device)
        self.max_loaded = max(1, int(max_loaded))
        self.train_resolution = max(0, int(train_resolution))  # 0: the model's own
        # fine-tuned adapters land where the LoRA list reads them (finetune/job.py)
        self.adapter_library = AdapterLibrary(self.loras_dir)
        self.hashes = HashCache(self.cache_dir / "model_hashes.json")
        self._lock = threading.Lock()  # one generation or training step at a time
        self._scan_lock = threading.Lock()  # rescans run on another thread than generation
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self.rescan()

    # -- discovery --------------------------------------------------------------------------
    def rescan(self) -> None:
        """Scan the models folder again: new files are offered, removed ones dropped, changed
        ones re-detected and re-hashed (unchanged files cost a ``stat``: see hashing.py).
        The worker calls it on ``hello`` and ``list_models``, off its socket thread."""
        with self._scan_lock:
            known = {e.path: e for e in getattr(self, "entries", {}).values()}
            result = scan(self.models_dir, self.hashes, known)
            self.entries = {e.id: e for e in result.models}
            self.refused = dict(result.refused)
            self.rescan_adapters()

    def current_entry(self, model_id: str) -> ModelEntry:
        """``model_id``'s entry as the file is now: re-detected and re-hashed when its size or
        mtime changed since the scan (a file replaced in place), found by a rescan when it
        was added since; ``T2IError`` (``model_refused`` / ``model_not_found``) otherwise."""
        entry = self.entries.get(model_id)
        if entry is None or entry.changed:
            path = entry.path if entry is not None else None
            with self._scan_lock:
                if path is not None and path.exists():
                    try:
                        fresh = scan_one(self.models_dir, path, self.hashes)
                    except T2IError as e:
                        self.entries = {k: v for k, v in self.entries.items() if k != model_id}
                        self.refused = {**self.refused, str(path.relative_to(
                            self.models_dir)): e.message}
                        raise self.missing_error(model_id) from e
                    fresh.id = model_id
                    self.entries = {**self.entries, model_id: fresh}
                    self.hashes.save()
                    log.info("model %s changed on disk: re-hashed (%s)", model_id,
                             fresh.hash[:10])
            if path is None or not path.exists():
                self.rescan()
        entry = self.entries.get(model_id)
        if entry is None:
            raise self.missing_error(model_id)
        return entry

    def missing_error(self, model_id: str) -> T2IError:
        why = self.why_missing(model_id)
        if why:
            return T2IError("model_refused", f"model '{model_id}' was refused: {why}")
        installed = ", ".join(sorted(self.entries)) or "none"
        return T2IError("model_not_found", f"model '{model_id}' not found in "
                        f"{self.models_dir}; installed: {installed}")

    def refused_models(self) -> list[dict[str, str]]:
        """Every file or folder the scan refused, with the reason and what to do."""
        return [{"file": rel, "reason": why} for rel, why in sorted(self.refused.items())]

    def models(self) -> list[ModelInfo]:
        out = []
        for e in self.entries.values():
            fam = family_for(e.family, e.detected.variant)
            desc = FAMILY_NAMES[e.family] + (f" {e.detected.variant}" if e.detected.variant
                                              else "")
            hint = f"{fam.steps} steps, guidance {fam.guidance:g}"
            trainable = e.detected.variant != "inpaint"  # as trainer.check_trainable
            out.append(ModelInfo(id=e.id, backend=self.name, hash=e.hash, sizes=SIZES,
                                 default_size=fam.default_size,
                                 description=f"{desc} ({e.layout}), {self.device}; {hint}",
                                 train_defaults=dict(SD_TRAIN_DEFAULTS) if trainable
                                 else None,
                                 generate_defaults={
                                     "steps": fam.steps, "guidance": fam.guidance,
                                     "scheduler": fam.scheduler, "width": fam.default_size,
                                     "height": fam.default_size}))
        return out

    def loras(self) -> list[str]:
        self.rescan_adapters()  # an adapter trained a moment ago is offered at once
        return sorted(self.adapters)

    def rescan_adapters(self) -> None:
        self.adapters, refused = list_adapters(self.loras_dir)
        self.refused = {k: v for k, v in self.refused.items()
                        if not k.startswith(LORA_DIR + "/")}
        self.refused |= {f"{LORA_DIR}/{k}": v for k, v in refused.items()}

    def trainer(self, request: Any) -> Any:
        """The ``Trainable`` that fine-tunes ``request.model`` (SD 1.x / 2.x / SDXL)."""
        from t2i_core.backends.diffusers_backend.trainer import DiffusersTrainable

        return DiffusersTrainable(self, request)

    def check_trainable(self, model_id: str) -> None:
        """Raise ``T2IError`` unless ``model_id`` can be fine-tuned (the worker asks before
        queueing a ``train`` request)."""
        from t2i_core.backends.diffusers_backend.trainer import check_trainable

        check_trainable(self, model_id)

    def why_missing(self, model_id: str) -> str | None:
        """Why the scan refused the file or folder a user calls ``model_id`` (None: unknown)."""
        for rel, why in self.refused.items():
            if model_id in (rel, rel.rsplit(".", 1)[0]) and not rel.startswith(LORA_DIR + "/"):
                return why
        return None

    # -- loading ----------------------------------------------------------------------------
    def _get(self, model_id: str) -> _Loaded:
        entry = self.current_entry(model_id)  # re-hashed if the file changed
        loaded = self._loaded.get(model_id)
        if loaded is not None and loaded.entry.hash != entry.hash:  # replaced in place
            del self._loaded[model_id], loaded
            self._free_memory()
        if model_id in self._loaded:
            self._loaded.move_to_end(model_id)
            return self._loaded[model_id]
        while len(self._loaded) >= self.max_loaded:  # free memory before the next load
            _, old = self._loaded.popitem(last=False)
            del old
            self._free_memory()
        fam = family_for(entry.family, entry.detected.variant)
        pipe, notes = loader.load_pipeline(entry, fam.pipelines["txt2img"], self.dtype,
                                           self.cache_dir / "configs", self.opts.t5_tokenizer)
        try:
            loader.place(pipe, self.torch_device, self.opts)
        except Exception as e:  # noqa: BLE001 - a model too big for the device
            if not is_out_of_memory(e):
                raise
            del pipe
            self._free_memory()
            raise T2IError("out_of_memory", f"model '{model_id}' does not fit in "
                           f"{self.torch_device.type} memory; start the worker with "
                           "--backend-option diffusers.cpu_offload=model (or "
                           "diffusers.dtype=fp16)") from e
        loaded = _Loaded(entry, pipe, notes)
        self._loaded[model_id] = loaded
        return loaded

    def _mode_pipe(self, m: _Loaded, mode: str, fam: Family) -> Any:
        if mode not in m.modes:
            cls = loader.pipeline_class(fam.pipelines[mode])
            m.modes[mode] = cls.from_pipe(m.pipe)
            m.modes[mode].set_progress_bar_config(disable=True)
        return m.modes[mode]

    def _free_memory(self) -> None:
        gc.collect()
        import torch

        if self.torch_device.type == "cuda":
            torch.cuda.empty_cache()

    # -- generation -------------------------------------------------------------------------
    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None,
                 cancel: CancelFlag | None = None) -> GenerateResult:
        request.validate(sizes=SIZES)
        with self._lock:
            return self._generate(request, progress, cancel)

    def _generate(self, req: GenerateRequest, progress: ProgressCallback | None,
                  cancel: CancelFlag | None) -> GenerateResult:
        import torch

        m = self._get(req.model)
        release_training(m)  # a cancelled or failed fine-tuning run's LoRA
        entry = m.entry
        fam = family_for(entry.family, entry.detected.variant)
        inpaint_model = entry.detected.variant == "inpaint"
        mode = "inpaint" if inpaint_model else req.mode
        pipe = self._mode_pipe(m, mode, fam)
        scheduler = req.scheduler or fam.scheduler
        pipe.scheduler = make_scheduler(scheduler, m.scheduler_config, fam.flow)
        if any(lo.name not in self.adapters for lo in req.loras):
            self.rescan_adapters()
        apply_loras(m.pipe, m.adapters, req.loras, self.adapters, entry.id)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if req.init_image is not None and int(req.steps * req.strength) < 1:
            raise T2IError("bad_strength", f"strength {req.strength:g} of {req.steps} steps "
                           "leaves no step to run (img2img runs steps x strength of them); "
                           "raise the strength or the steps")
        kwargs = self._inputs(req, mode, inpaint_model)
        wants = progress.wants_preview if isinstance(progress, WantsPreview) else None

        def on_step(p: Any, i: int, t: Any, tensors: dict) -> dict:
            total = int(getattr(p, "num_timesteps", 0) or req.steps)
            if progress is not None:
                preview = None
                if wants is None or wants(i + 1, total):
                    preview = latent_preview(tensors.get("latents"), fam)
                progress(i + 1, total, preview)
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            return tensors

        generators = [torch.Generator("cpu").manual_seed(req.seed + i) for i in range(req.count)]
        try:
            out = pipe(prompt=req.prompt, negative_prompt=req.negative_prompt or None,
                       num_inference_steps=req.steps, guidance_scale=req.guidance,
                       num_images_per_prompt=req.count, generator=generators,
                       output_type="np", callback_on_step_end=on_step,
                       callback_on_step_end_tensor_inputs=["latents"], **kwargs)
        except Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - classify memory errors, re-raise the rest
            if is_out_of_memory(e):
                self._free_memory()
                raise T2IError("out_of_memory", f"not enough {self.torch_device.type} memory "
                               f"for {req.count} image(s) of {req.width}x{req.height} with "
                               f"'{entry.id}'; try fewer images or a smaller size, or "
                               f"{loader.memory_savers(self.torch_device.type, self.opts)}") from e
            if isinstance(e, ValueError):  # diffusers' own input checks, e.g. 0 img2img steps
                raise T2IError("bad_request", f"the pipeline refused the request: "
                               f"{str(e)[:300]}") from e
            raise
        images = to_rgba(out.images)
        if req.mask is not None and req.init_image is not None:
            images = [blend_inpaint(im, req.init_image, req.mask) for im in images]
        prov = [Provenance(
            prompt=req.prompt, negative_prompt=req.negative_prompt, seed=req.seed + i,
            steps=req.steps, guidance=req.guidance, width=req.width, height=req.height,
            backend=self.name, model=entry.id, model_hash=entry.hash, mode=req.mode,
            strength=req.strength if req.init_image is not None else None,
            loras=list(req.loras), scheduler=scheduler) for i in range(len(images))]
        notices = truncation_warnings(pipe, req.prompt, req.negative_prompt)
        return GenerateResult(images=images, provenance=prov, warnings=[*m.notes, *notices])

    def _inputs(self, req: GenerateRequest, mode: str, inpaint_model: bool) -> dict[str, Any]:
        size = (req.width, req.height)
        if mode == "txt2img":
            return {"width": req.width, "height": req.height}
        if req.init_image is not None:
            image = to_pil_rgb(req.init_image, size)
        else:  # an inpainting model asked for txt2img: repaint a blank canvas entirely
            from PIL import Image

            image = Image.new("RGB", size, (127, 127, 127))
        kw: dict[str, Any] = {"image": image, "strength": req.strength}
        if mode == "inpaint":
            if req.mask is not None:
                kw["mask_image"] = to_pil_mask(req.mask, size)
            else:
                from PIL import Image

                kw["mask_image"] = Image.new("L", size, 255)
            kw |= {"width": req.width, "height": req.height}
            if req.init_image is None:
                kw["strength"] = 1.0
        return kw
