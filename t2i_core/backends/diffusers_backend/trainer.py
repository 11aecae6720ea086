"""Fine-tuning SD 1.x / 2.x / SDXL / SD3: the diffusers backend's ``Trainable`` (finetune/job.py).

The recipe is kohya's "LoRA on the UNet" (sd-scripts' ``train_network.py`` with
``--network_train_unet_only``), learned from there, written with diffusers + peft:

- peft LoRA on the denoiser's attention projections (``families.lora_targets``: to_q, to_k,
  to_v, to_out.0; SD3: those of its MMDiT transformer), added as a named adapter to the
  *loaded* pipeline (no copy: an SDXL UNet is 10 GB in fp32), frozen base, LoRA parameters in
  fp32 whatever the pipeline's dtype;
- the folder's images at the model's resolution (``sample_size`` x the VAE's factor: 512 for
  SD 1.5, 768 for SD 2.x-768, 1024 for SDXL/SD3, 64 for the tests' tiny models; the backend
  option ``train_resolution`` lowers it), composited on white, encoded once by the VAE (mean
  and std of the latent distribution, and of the mirrored image when image augmentation is
  on: kohya's ``cache_latents`` + ``flip_aug``; train_data.py); each step samples a latent
  from them;
- captions (with the trigger) encoded each step by the frozen text encoder(s) through the
  pipeline's own ``encode_prompt`` (what generation does: SDXL's two encoders, penultimate
  layer, pooled embedding + size ids; SD3's CLIPs + T5); text augmentation and 5 % caption
  dropout on request;
- SD 1/2/XL: DDPM noise at a uniform timestep, MSE against the noise, or against the velocity
  for v-prediction models (``prediction_type`` of the model's scheduler config). SD3: flow
  matching as diffusers' SD3 LoRA example, logit-normal sigmas shifted like the model's
  scheduler (``shift``), MSE against ``noise - latents``.

Randomness comes from the job's numpy generator and torch's global one (both checkpointed),
so a cancelled run resumes bit for bit. The adapter comes back in the kohya naming with
``ss_*`` and ModelSpec metadata (``lora.kohya_adapter``; SD3 in the peft naming, which
ComfyUI reads, diffusers having no kohya layout for MMDiT): A1111, ComfyUI and this backend
read it. Inpainting models are refused with ``not_trainable``.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from t2i_core.backends.diffusers_backend.families import family_for
from t2i_core.backends.diffusers_backend.images import to_rgba
from t2i_core.backends.diffusers_backend.loader import RuntimeOptions, memory_savers
from t2i_core.backends.diffusers_backend.lora import (
    kohya_adapter,
    lora_target_modules,
    training_metadata,
)
from t2i_core.backends.diffusers_backend.scanner import ModelEntry
from t2i_core.backends.diffusers_backend.train_data import (
    class_latents,
    class_prompts,
    draw,
    folder_latents,
)
from t2i_core.errors import T2IError, is_out_of_memory
from t2i_core.finetune.dataset import FolderData
from t2i_core.finetune.request import TrainRequest

if TYPE_CHECKING:
    import threading

    import torch


class DiffusersBackend(Protocol):
    """What a fine-tuning run uses of the diffusers backend (backend.py). Named here, not
    imported: backend.py imports this module, and a module pair must not import each other."""

    entries: dict[str, ModelEntry]
    dtype: Any  # torch.dtype
    torch_device: Any  # torch.device
    opts: RuntimeOptions
    train_resolution: int
    _lock: threading.Lock  # one generation or training step at a time

    def current_entry(self, model_id: str) -> ModelEntry: ...

    def missing_error(self, model_id: str) -> T2IError: ...

    def _get(self, model_id: str) -> Any: ...  # the loaded pipeline (backend._Loaded)

    def _free_memory(self) -> None: ...

TRAIN_ADAPTER = "t2i_training"  # the peft adapter name while a run trains
FORMAT = "pt"  # safetensors' usual "format" header: kohya files carry no other
P_UNCOND = 0.05  # caption dropout (with text augmentation): keeps the prompt-less branch
P_AUGMENTED = 0.5


def check_trainable(backend: DiffusersBackend, model_id: str) -> None:
    """Raise ``T2IError`` unless ``model_id`` is a model this backend can fine-tune."""
    entry = backend.entries.get(model_id)
    if entry is None:
        raise backend.missing_error(model_id)
    if entry.detected.variant == "inpaint":
        raise T2IError("not_trainable", f"model '{model_id}' is an inpainting model; train "
                       "its base model instead (the adapter then works with both)")


class DiffusersTrainable:
    """One run's view of a loaded SD pipeline (see the module doc)."""

    adapter_format = FORMAT

    def __init__(self, backend: DiffusersBackend, request: TrainRequest) -> None:
        check_trainable(backend, request.model)
        request.refuse_look(request.model)  # also when called in-process, not via a worker
        self.backend = backend
        self.request = request
        self.entry = backend.current_entry(request.model)  # re-hashed if the file changed
        self.family = family_for(self.entry.family, self.entry.detected.variant)
        self.base_model = self.entry.id
        self.base_hash = self.entry.hash
        self.adapter_name = request.name  # the job sets the final name (``name-2``)
        self.started_at = time.time()

    # -- data and LoRA ------------------------------------------------------------------------
    def prepare(self, data: FolderData, request: TrainRequest) -> None:
        import torch
        from diffusers import DDPMScheduler
        from diffusers.training_utils import cast_training_params
        from peft import LoraConfig

        with self.backend._lock:
            self.loaded = self.backend._get(self.entry.id)
        pipe = self.pipe = self.loaded.pipe
        release(self.loaded)  # a run cancelled earlier may have left its adapter
        self.device = self.backend.torch_device
        self.xl = self.family.id == "sdxl"
        unet = self.denoiser = _denoiser(pipe)  # SD3: the MMDiT transformer
        self.resolution = self._resolution()
        self.captions = list(data.captions)
        self.files = list(data.files)
        self.folder_name = data.folder.name
        self.n = len(data)
        config = self.loaded.scheduler_config
        self.timesteps = int(config.get("num_train_timesteps", 1000))
        if self.family.flow:  # flow matching: sigma shifted as the model's scheduler does
            self.prediction, self.shift = "flow", float(config.get("shift", 1.0) or 1.0)
        else:
            self.noise_scheduler = DDPMScheduler.from_config(config)
            self.prediction = self.noise_scheduler.config.get("prediction_type", "epsilon")
        try:
            flips = 2 if self.request.augment_images else 1
            self.mean, self.std = folder_latents(pipe.vae, data, self.resolution, flips,
                                                 self.device)
        except (RuntimeError, MemoryError) as e:
            if not is_out_of_memory(e):
                raise
            self.backend._free_memory()
            raise T2IError("out_of_memory", f"not enough memory to encode the folder's "
                           f"images at {self.resolution} px; {self.memory_hint}") from e
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                module.requires_grad_(False)
        if self.loaded.adapters:
            pipe.disable_lora()  # the user's adapters stay loaded but off while training
        self.prior_captions = class_prompts(self.captions, request.trigger)
        self.prior_mean = self.prior_std = None
        if request.prior > 0:  # DreamBooth's class images, drawn by the base model itself
            self.prior_mean, self.prior_std = class_latents(
                pipe, self.family, config, self.prior_captions, request.seed, self.resolution,
                self.device)
        unet.add_adapter(LoraConfig(r=request.rank, lora_alpha=request.alpha,
                                    target_modules=lora_target_modules(self.family)),
                         adapter_name=TRAIN_ADAPTER)
        unet.enable_adapters()
        unet.set_adapter(TRAIN_ADAPTER)
        cast_training_params(unet, torch.float32)  # fp16 pipelines train fp32 LoRA weights
        self.loaded.training = True
        self.params = [p for name, p in unet.named_parameters()
                       if f".{TRAIN_ADAPTER}." in name]
        for p in self.params:
            p.requires_grad_(True)
        if self.resolution >= 512:  # real models: trade ~30 % speed for much less memory
            unet.enable_gradient_checkpointing()
        unet.train()

    def _resolution(self) -> int:
        scale = 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)
        native = int(self.denoiser.config.sample_size) * scale
        cap = int(self.backend.train_resolution or 0)
        return min(native, cap) // 8 * 8 if cap else native

    @property
    def memory_hint(self) -> str:
        """The job's out-of-memory message ends with this (job.py)."""
        savers = memory_savers(self.device.type, self.backend.opts)
        if self.resolution <= 256:
            return savers
        lower = self.resolution // 2 // 64 * 64
        return (f"train at a lower resolution (restart the worker with --backend-option "
                f"diffusers.train_resolution={lower}; now {self.resolution}); or {savers}")

    def parameters(self) -> list[torch.nn.Parameter]:
        return self.params

    # -- one step -----------------------------------------------------------------------------
    def loss(self, rng: np.random.Generator) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        b = self.request.batch
        n_prior = int(round(b * self.request.prior)) if self.prior_mean is not None else 0
        rows = rng.integers(0, self.n, size=b - n_prior)
        flip = rng.integers(0, self.mean.shape[1], size=b - n_prior)
        mean, std = self.mean[rows, flip], self.std[rows, flip]
        captions = self._captions(rows, rng)
        if n_prior:
            p_rows = rng.integers(0, len(self.prior_mean), size=n_prior)
            mean = torch.cat([mean, self.prior_mean[p_rows, 0]])
            std = torch.cat([std, self.prior_std[p_rows, 0]])
            captions += [self.prior_captions[int(i)] for i in p_rows]
        x0 = mean + std * torch.randn_like(mean)
        noise = torch.randn_like(x0)
        if self.family.flow:  # SD3: logit-normal sigmas, x_t = (1-s) x0 + s noise
            u = torch.sigmoid(torch.from_numpy(rng.standard_normal(b)).float())
            sigma = self.shift * u / (1 + (self.shift - 1) * u)
            s = sigma.view(-1, 1, 1, 1)
            noisy, target, t = (1 - s) * x0 + s * noise, noise - x0, sigma * self.timesteps
        else:
            t = torch.from_numpy(rng.integers(0, self.timesteps, size=b)).long()
            noisy = self.noise_scheduler.add_noise(x0, noise, t)
            target = (self.noise_scheduler.get_velocity(x0, noise, t) if self.prediction ==
                      "v_prediction" else noise)
        text, extra = self._encode_text(captions)
        noisy, t = noisy.to(self.device, self.backend.dtype), t.to(self.device)
        if self.family.flow:
            pred = self.denoiser(hidden_states=noisy, timestep=t, encoder_hidden_states=text,
                                 pooled_projections=extra["pooled"]).sample
        else:
            pred = self.denoiser(noisy, t, text, added_cond_kwargs=extra).sample
        return F.mse_loss(pred.float(), target.to(self.device))

    def _captions(self, rows: np.ndarray, rng: np.random.Generator) -> list[str]:
        from t2i_core.text_augment import augment as augment_caption

        out = []
        for i in rows:
            caption = self.captions[int(i)]
            if self.request.augment_text:
                r = rng.random(2)
                if r[0] < P_UNCOND:
                    caption = ""
                elif r[1] < P_AUGMENTED:
                    parts = [p.strip() for p in caption.split(",") if p.strip()]
                    text_rng = random.Random(int(rng.integers(2**31)))
                    caption = augment_caption(caption, parts if len(parts) > 1 else [],
                                              text_rng)
            out.append(caption)
        return out

    def _encode_text(self, captions: list[str]) -> tuple[torch.Tensor, dict | None]:
        """What generation feeds the UNet for these captions (frozen encoders, no grad)."""
        import torch

        with torch.no_grad():
            if self.family.flow:
                embeds, _, pooled, _ = self.pipe.encode_prompt(
                    captions, None, None, device=self.device, num_images_per_prompt=1,
                    do_classifier_free_guidance=False)
                return embeds, {"pooled": pooled}
            if not self.xl:
                embeds, _ = self.pipe.encode_prompt(captions, self.device, 1, False)
                return embeds, None
            embeds, _, pooled, _ = self.pipe.encode_prompt(
                captions, device=self.device, num_images_per_prompt=1,
                do_classifier_free_guidance=False)
        r = self.resolution  # SDXL's size conditioning: original, crop (0, 0), target
        ids = torch.tensor([[r, r, 0, 0, r, r]] * len(captions), dtype=embeds.dtype,
                           device=self.device)
        return embeds, {"text_embeds": pooled, "time_ids": ids}

    # -- previews and the file --------------------------------------------------------------
    def samples(self, prompts: list[str], seed: int) -> list[np.ndarray]:
        self.denoiser.eval()
        try:
            seeded = [(prompt, seed + i) for i, prompt in enumerate(prompts)]
            return [to_rgba(images)[0] for images in draw(
                self.pipe, self.family, self.loaded.scheduler_config, seeded, self.resolution)]
        finally:
            self.denoiser.train()

    def adapter(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        tensors, meta = kohya_adapter(
            self.denoiser, self.family, title=self.adapter_name, adapter=TRAIN_ADAPTER,
            resolution=self.resolution, base_model_hash=self.entry.hash,
            prediction_type="" if self.family.flow else self.prediction,
            extra_metadata=self._metadata())
        # The LoRA stays in until the backend's next generate (or run) releases it: the job
        # draws the finished adapter's previews after this.
        return tensors, meta

    def _metadata(self) -> dict[str, str]:
        r = self.request
        return training_metadata(
            r, started_at=self.started_at, captions=self.captions, n_images=self.n,
            folder_name=self.folder_name, caption_dropout=P_UNCOND if r.augment_text else 0.0,
            precision=_precision(self.backend.dtype), model_path=self.entry.path,
            single_file=self.entry.layout == "file")


def release(loaded: Any) -> None:
    """Take a run's LoRA out of a loaded pipeline (after saving, or after a cancel/crash: the
    backend calls this before it generates)."""
    if not getattr(loaded, "training", False):
        return
    unet = _denoiser(loaded.pipe)
    if TRAIN_ADAPTER in getattr(unet, "peft_config", {}):
        unet.delete_adapters(TRAIN_ADAPTER)
    if getattr(unet, "is_gradient_checkpointing", False):
        unet.disable_gradient_checkpointing()
    unet.eval()
    loaded.training = False
    import gc

    gc.collect()


def _denoiser(pipe: Any) -> Any:
    transformer = getattr(pipe, "transformer", None)
    return transformer if transformer is not None else pipe.unet


def _precision(dtype: Any) -> str:
    return {"torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(str(dtype), "no")
