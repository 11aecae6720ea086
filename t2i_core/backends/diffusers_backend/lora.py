"""LoRA adapters: find, apply with weights, and save in the kohya naming other tools read.

Loading accepts both namings (diffusers converts them on load):
- kohya / A1111 / ComfyUI: ``lora_unet_<path_with_underscores>.lora_down.weight`` /
  ``.lora_up.weight`` / ``.alpha`` (text encoders ``lora_te_``, ``lora_te1_``, ``lora_te2_``);
- diffusers / peft: ``unet.<dotted.path>.lora_A.weight`` / ``.lora_B.weight``.

Saving (``save_kohya_adapter``) is the seam for the fine-tuning job (t2i_core/finetune/): it
takes peft-wrapped modules and writes kohya names with ``ss_*`` and SAI ModelSpec metadata,
scale = alpha / rank kept exactly, so A1111, ComfyUI and this backend read the same adapter.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import re
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from t2i_core.backends.base import LoraRef
from t2i_core.backends.diffusers_backend.families import Family
from t2i_core.backends.diffusers_backend.scanner import PICKLE_SUFFIXES, pickle_message
from t2i_core.errors import T2IError

if TYPE_CHECKING:
    from t2i_core.finetune.request import TrainRequest

log = logging.getLogger("t2i.diffusers")


def list_adapters(loras_dir: Path | None) -> tuple[dict[str, Path], dict[str, str]]:
    """``{name: file}`` for every ``.safetensors`` adapter (name = relative path, no suffix),
    and ``{file: why}`` for refused pickles."""
    found: dict[str, Path] = {}
    refused: dict[str, str] = {}
    if loras_dir is None or not loras_dir.is_dir():
        return found, refused
    for p in sorted(loras_dir.rglob("*")):
        rel = p.relative_to(loras_dir)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue  # hidden: temp files, the fine-tuning job's ``.runs/`` checkpoints
        if p.suffix == ".safetensors":
            found[rel.with_suffix("").as_posix()] = p
        elif p.suffix.lower() in PICKLE_SUFFIXES:
            refused[rel.as_posix()] = pickle_message(p)
    return found, refused


def peft_name(name: str) -> str:
    """peft adapter names end up in module attribute paths: no dots or slashes."""
    return "a_" + re.sub(r"\W", "_", name)


def apply_loras(pipe: Any, loaded: set[str], refs: list[LoraRef], files: dict[str, Path],
                model_id: str) -> None:
    """Load the adapters this request names (once per pipeline), then weight them; with no
    adapters in the request, switch all loaded ones off."""
    weights: dict[str, float] = {}
    for ref in refs:
        if ref.name not in files:
            available = ", ".join(sorted(files)) or "none installed"
            raise T2IError("lora_not_found", f"adapter '{ref.name}' not found; available: "
                           f"{available}")
        weights[ref.name] = weights.get(ref.name, 0.0) + float(ref.weight)
    for name in weights:
        if name in loaded:
            continue
        try:
            pipe.load_lora_weights(str(files[name]), adapter_name=peft_name(name))
        except Exception as e:  # noqa: BLE001 - shape mismatches, unknown key layouts, ...
            _drop(pipe, peft_name(name))
            raise T2IError("lora_incompatible", f"adapter '{name}' does not fit model "
                           f"'{model_id}': {type(e).__name__}: {str(e)[:240]} (an adapter "
                           "works only with the model family it was trained for)") from e
        loaded.add(name)
    if weights:
        pipe.enable_lora()
        pipe.set_adapters([peft_name(n) for n in weights], adapter_weights=list(weights.values()))
    elif loaded:
        pipe.disable_lora()


def _drop(pipe: Any, adapter: str) -> None:
    with contextlib.suppress(Exception):  # nothing may have been loaded under that name
        pipe.delete_adapters(adapter)


def _with_text_model(state: dict[str, Any]) -> dict[str, Any]:
    """transformers >= 5.6 flattened CLIPTextModel; kohya names keep ``text_model``."""
    return {k if k.startswith("text_model.") else f"text_model.{k}": v
            for k, v in state.items()}


def kohya_adapter(denoiser: Any, family: Family, *, title: str,
                  text_encoders: dict[str, Any] | None = None, adapter: str = "default",
                  resolution: int = 512, base_model_hash: str = "",
                  prediction_type: str = "",
                  extra_metadata: dict[str, str] | None = None
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """The peft LoRA of ``denoiser`` (and text encoders, ``{"text_encoder": m, ...}``) as
    kohya-named tensors + ``ss_*``/ModelSpec metadata: what the fine-tuning job's
    ``Trainable.adapter()`` returns for SD-family models (``trainer.py``). ``prediction_type``
    is the scheduler config's (``epsilon`` / ``v_prediction``; empty: the family's usual)."""
    import torch
    from diffusers.utils import convert_state_dict_to_kohya
    from peft.utils import get_peft_model_state_dict

    cfg = denoiser.peft_config[adapter]
    rank, alpha = int(cfg.r), float(cfg.lora_alpha)
    root = "transformer" if family.flow else "unet"
    peft_sd = {f"{root}.{k}": v for k, v in
               get_peft_model_state_dict(denoiser, adapter_name=adapter).items()}
    for name, te in (text_encoders or {}).items():
        te_sd = _with_text_model(get_peft_model_state_dict(te, adapter_name=adapter))
        peft_sd |= {f"{name}.{k}": v for k, v in te_sd.items()}
    peft_meta: dict[str, Any] = {}
    if family.flow:  # no kohya layout for MMDiT in diffusers: peft names (ComfyUI reads them)
        tensors = peft_sd
        # peft names carry no alpha: diffusers reads rank and alpha from this JSON instead
        peft_meta = {f"{root}.{k}": v for k, v in cfg.to_dict().items()}
    else:
        tensors = convert_state_dict_to_kohya(peft_sd)
        if family.id in ("sd1", "sd2"):  # one text encoder: kohya says lora_te_, not lora_te1_
            tensors = {k.replace("lora_te1_", "lora_te_", 1): v for k, v in tensors.items()}
        tensors = {k: (torch.tensor(alpha) if k.endswith(".alpha") else v)
                   for k, v in tensors.items()}
    now = _dt.datetime.now(_dt.UTC)
    v_pred = (prediction_type == "v_prediction" if prediction_type else family.id == "sd2")
    arch = family.modelspec_arch
    if family.id == "sd2" and not v_pred:  # kohya: SD 2.x epsilon models are the 512 ones
        arch = "stable-diffusion-v2-512"
    arch += "/lora"
    meta = {
        "ss_network_module": "networks.lora", "ss_network_dim": str(rank),
        "ss_network_alpha": str(alpha), "ss_base_model_version": family.base_version,
        "ss_v2": str(family.id == "sd2"), "ss_output_name": title,
        "ss_resolution": f"({resolution}, {resolution})",
        "ss_new_sd_model_hash": base_model_hash, "ss_training_comment": "t2i-studio",
        "ss_training_started_at": str(now.timestamp()),
        "ss_network_args": '{"target_modules": ' + _json_list(sorted(cfg.target_modules)) + "}",
        "modelspec.sai_model_spec": "1.0.0", "modelspec.architecture": arch,
        "modelspec.implementation": ("https://github.com/Stability-AI/generative-models"
                                     if family.id == "sdxl" else "diffusers"),
        "modelspec.title": title, "modelspec.resolution":
            f"{resolution}x{resolution}", "modelspec.date": now.date().isoformat(),
        "modelspec.prediction_type": "v" if v_pred else "epsilon",
    }
    if peft_meta:
        meta["lora_adapter_metadata"] = json.dumps(
            peft_meta, sort_keys=True,
            default=lambda v: sorted(v) if isinstance(v, set) else str(v))
    meta |= {k: str(v) for k, v in (extra_metadata or {}).items()}
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, meta


def save_kohya_adapter(path: Path, denoiser: Any, family: Family, *, title: str = "",
                       **kwargs: Any) -> Path:
    """``kohya_adapter`` written atomically to one ``.safetensors`` file."""
    from safetensors.torch import save_file

    tensors, meta = kohya_adapter(denoiser, family, title=title or path.stem, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def _json_list(items: list[str]) -> str:
    return json.dumps(items)


def lora_target_modules(family: Family) -> list[str]:
    """The attention projections a LoRA for this family adapts (for peft's LoraConfig)."""
    return list(family.lora_targets)


def training_metadata(request: TrainRequest, *, started_at: float, captions: list[str],
                      n_images: int, folder_name: str, caption_dropout: float,
                      precision: str, model_path: Path, single_file: bool) -> dict[str, str]:
    """kohya's training metadata (sd-scripts' ``train_network.py``), for what our recipe has:
    A1111's and ComfyUI's adapter browsers show these fields."""
    r = request
    tags: Counter[str] = Counter()
    for caption in captions:
        tags.update(p.strip() for p in caption.split(",") if p.strip())
    meta = {
        "ss_training_started_at": str(started_at),
        "ss_training_finished_at": str(time.time()),
        "ss_steps": str(r.steps), "ss_max_train_steps": str(r.steps),
        "ss_num_train_images": str(n_images), "ss_batch_size_per_device": str(r.batch),
        "ss_learning_rate": str(r.learning_rate), "ss_unet_lr": str(r.learning_rate),
        "ss_text_encoder_lr": "0", "ss_network_train_unet_only": "True",
        "ss_lr_scheduler": "cosine_with_warmup", "ss_optimizer": "torch.optim.AdamW",
        "ss_seed": str(r.seed), "ss_cache_latents": "True",
        "ss_flip_aug": str(bool(r.augment_images)),
        "ss_caption_dropout_rate": str(caption_dropout),
        "ss_max_grad_norm": "1.0", "ss_mixed_precision": precision,
        "ss_sd_model_name": model_path.name,
        "ss_tag_frequency": json.dumps({folder_name: dict(tags)}),
        "ss_dataset_dirs": json.dumps({folder_name: {"n_repeats": 1, "img_count": n_images}}),
    }
    legacy = legacy_model_hash(model_path) if single_file else ""
    if legacy:
        meta["ss_sd_model_hash"] = legacy
    if r.trigger:
        meta["modelspec.trigger_phrase"] = r.trigger
    return meta


def legacy_model_hash(path: Path) -> str:
    """A1111's old 8-digit "model hash" (64 KiB at 1 MiB into a single file)."""
    try:
        with open(path, "rb") as f:
            f.seek(0x100000)
            return hashlib.sha256(f.read(0x10000)).hexdigest()[:8]
    except OSError:
        return ""
