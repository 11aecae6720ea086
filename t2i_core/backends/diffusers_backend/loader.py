"""Load a scanned model into a diffusers pipeline, offline, on the chosen device and dtype.

``HF_HUB_OFFLINE=1`` is set before diffusers is imported and every call passes
``local_files_only=True``: a single file is loaded with a config folder written from its own
weights (infer.py), a diffusers folder from itself, so nothing ever touches the network.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2i_core.backends.diffusers_backend.infer import (
    TEXT_ENCODERS,
    single_file_configs,
    write_config_folder,
)
from t2i_core.backends.diffusers_backend.scanner import ModelEntry
from t2i_core.errors import T2IError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
log = logging.getLogger("t2i.diffusers")
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
OFFLOAD = ("none", "model", "sequential")


@dataclass
class RuntimeOptions:
    device: str = "auto"  # auto | cuda | cuda:N | mps | cpu
    dtype: str = "auto"  # auto | fp32 | fp16 | bf16
    attention_slicing: bool = False
    cpu_offload: str = "none"  # none | model | sequential
    vae_tiling: bool = False
    t5_tokenizer: Path | None = None  # for single-file SD3 checkpoints that include T5

    def validate(self) -> None:
        if self.dtype not in ("auto", *DTYPES):
            raise T2IError("bad_option", f"dtype '{self.dtype}' is unknown; use auto, fp32, "
                           "fp16 or bf16")
        if self.cpu_offload not in OFFLOAD:
            raise T2IError("bad_option", f"cpu_offload '{self.cpu_offload}' is unknown; use "
                           "none, model or sequential")


def memory_savers(device_type: str, opts: RuntimeOptions) -> str:
    """What to restart the worker with when memory runs out (the options not already on)."""
    opt = "--backend-option diffusers."
    ideas = [] if opts.attention_slicing else [f"{opt}attention_slicing=true"]
    if device_type != "cpu" and opts.cpu_offload == "none":
        ideas.append(f"{opt}cpu_offload=model")  # only a GPU has somewhere to offload to
    if not opts.vae_tiling:
        ideas.append(f"{opt}vae_tiling=true (large images)")
    if not ideas:
        return "close other programs, or use a smaller model"
    return "restart the worker with " + " and ".join(ideas)


def resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise T2IError("bad_option", f"device '{name}' is unknown; use auto, cuda, mps or "
                       "cpu") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise T2IError("device_unavailable", "device 'cuda' was asked for but torch sees no "
                       "CUDA GPU; install a CUDA build of torch or use device=cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise T2IError("device_unavailable", "device 'mps' is not available on this machine; "
                       "use device=cpu")
    return dev


def resolve_dtype(name: str, device: Any) -> Any:
    import torch

    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device.type == "mps" else torch.float32
    dtype = getattr(torch, DTYPES[name])
    if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise T2IError("bad_option", "this GPU has no bf16 support; use dtype=fp16")
    if dtype == torch.float16 and device.type == "cpu":
        raise T2IError("bad_option", "fp16 is not supported on the CPU; use fp32 or bf16")
    return dtype


def pipeline_class(name: str) -> Any:
    import diffusers

    return getattr(diffusers, name)


def load_pipeline(entry: ModelEntry, txt2img_class: str, dtype: Any,
                  config_cache: Path, t5_tokenizer: Path | None) -> tuple[Any, list[str]]:
    """The txt2img pipeline on the CPU (placement is the caller's) and load notes."""
    cls = pipeline_class(txt2img_class)
    notes = list(entry.detected.notes)
    try:
        if entry.layout == "folder":
            checker = entry.path / "safety_checker"
            skip = ({"safety_checker": None, "feature_extractor": None}
                    if checker.is_dir() and not any(checker.glob("*.safetensors")) else {})
            if skip:
                notes.append("the safety checker has only pickle weights: running without it")
            pipe = cls.from_pretrained(str(entry.path), use_safetensors=True, dtype=dtype,
                                       local_files_only=True, **skip)
            return pipe, notes
        assert entry.header is not None
        configs = single_file_configs(entry.header, entry.detected)
        folder = write_config_folder(configs, config_cache / entry.hash[:16], config_cache)
        extra: dict[str, Any] = {}
        if entry.family == "sd3":
            if "text_encoder_3" not in configs:
                extra = {"text_encoder_3": None, "tokenizer_3": None}
            elif t5_tokenizer is None:
                extra = {"text_encoder_3": None, "tokenizer_3": None}
                notes.append("the file includes a T5 encoder but no T5 tokenizer is installed "
                             "(put one in <models>/tokenizers/t5/); using the CLIP encoders only")
            else:
                from transformers import AutoTokenizer

                extra = {"tokenizer_3": AutoTokenizer.from_pretrained(
                    str(t5_tokenizer), local_files_only=True)}
        extra |= _renamed_text_encoders(entry, configs, folder, dtype)
        pipe = cls.from_single_file(str(entry.path), config=str(folder), torch_dtype=dtype,
                                    local_files_only=True, **extra)
        _retie_t5(pipe)
        return pipe, notes
    except T2IError:
        raise
    except MemoryError as e:
        raise T2IError("out_of_memory", f"not enough memory to load model '{entry.id}'; close "
                       "other programs or use a smaller model") from e
    except Exception as e:  # noqa: BLE001 - diffusers/transformers raise many kinds
        log.exception("loading %s failed", entry.path)
        raise T2IError("model_load_failed", f"model '{entry.id}' ({entry.family}) could not be "
                       f"loaded: {type(e).__name__}: {str(e)[:300]}") from e


def _renamed_text_encoders(entry: ModelEntry, configs: dict[str, dict], folder: Path,
                           dtype: Any) -> dict[str, Any]:
    """Text encoders whose weights the file stores under old names (key_layouts.py), built by
    diffusers' own LDM-CLIP converter from the renamed tensors; diffusers would refuse them."""
    from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm
    from safetensors import safe_open

    header = entry.header
    assert header is not None
    out: dict[str, Any] = {}
    for name, (kind, prefix) in TEXT_ENCODERS[entry.family].items():
        stored = {new: old for new, old in header.renamed.items() if new.startswith(prefix)}
        if not stored or kind != "clip" or name not in configs:
            continue
        with safe_open(str(entry.path), framework="pt") as f:
            checkpoint = {new: f.get_tensor(old) for new, old in stored.items()}
            checkpoint |= {k: f.get_tensor(k) for k in f.keys()  # noqa: SIM118
                           if k.startswith(prefix) and k not in header.renamed.values()}
        cls = transformers_class(configs[name])
        out[name] = create_diffusers_clip_model_from_ldm(
            cls, checkpoint, subfolder=name, config=str(folder), torch_dtype=dtype,
            local_files_only=True)
    return out


def transformers_class(config: dict) -> Any:
    """The transformers model class a component config names (CLIPTextModel, ...)."""
    import transformers

    return getattr(transformers, config["architectures"][0])


def _retie_t5(pipe: Any) -> None:
    """Repair what diffusers' single-file T5 path misses: the model is left in training mode
    (dropout on), and the encoder's token embedding, tied to ``shared`` in T5, stays empty (on
    the meta device): switch to eval and share it again."""
    for module in pipe.components.values():  # diffusers' T5 path leaves dropout on
        if hasattr(module, "eval") and hasattr(module, "parameters"):
            module.eval()
    t5 = getattr(pipe, "text_encoder_3", None)
    if t5 is not None and t5.encoder.embed_tokens.weight.device.type == "meta":
        t5.encoder.embed_tokens = t5.shared


def place(pipe: Any, device: Any, opts: RuntimeOptions) -> None:
    """Move to the device, or install CPU offload hooks; memory savers on request."""
    if opts.cpu_offload != "none" and device.type != "cpu":
        if opts.cpu_offload == "model":
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if opts.attention_slicing:
        # "max": one head at a time. diffusers' "auto" (half the heads) divides by zero on
        # models with a single head per block.
        pipe.enable_attention_slicing("max")
    if opts.vae_tiling:
        pipe.vae.enable_tiling()
    pipe.set_progress_bar_config(disable=True)
