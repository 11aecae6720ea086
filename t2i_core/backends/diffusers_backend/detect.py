"""Which Stable-Diffusion family a checkpoint is, read from its weights' names and shapes.

Only the safetensors header is read (names, shapes, metadata), never the tensors, so scanning
a folder of multi-gigabyte checkpoints takes milliseconds. The rules are structural, not
size-based, so they hold for the tiny random models the tests build as well as for real ones:

- SD3 (MMDiT): ``joint_blocks`` (single file) / ``transformer_blocks.*.attn.add_q_proj`` (folder);
- SDXL: the UNet has the extra "text_time" embedding (``label_emb`` / ``add_embedding``) and two
  text encoders; the refiner (one OpenCLIP encoder) is recognised and refused;
- SD 1.x vs 2.x: SD 2 projects into its transformer blocks with linear layers (2-D ``proj_in``),
  SD 1 with 1x1 convolutions (4-D), and their text encoders differ (OpenAI CLIP vs OpenCLIP).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from safetensors import safe_open

from t2i_core.backends.diffusers_backend.key_layouts import canonical_name, renamed_names
from t2i_core.errors import T2IError

UNET = "model.diffusion_model."
VAE = "first_stage_model."
FAMILIES = ("sd1", "sd2", "sdxl", "sd3")
FAMILY_NAMES = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x",
                "sdxl": "Stable Diffusion XL", "sd3": "Stable Diffusion 3 / 3.5"}


@dataclass
class Header:
    """A safetensors file's tensor names -> shapes, and its string metadata."""

    shapes: dict[str, tuple[int, ...]]  # canonical names (key_layouts.py)
    metadata: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # canonical -> name in the file

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.shapes)

    def sub(self, prefix: str) -> dict[str, tuple[int, ...]]:
        return {k[len(prefix):]: s for k, s in self.shapes.items() if k.startswith(prefix)}


@dataclass
class Detected:
    family: str  # one of FAMILIES
    variant: str = ""  # "turbo", "inpaint" or ""
    prediction_type: str = ""  # "" = the family's default
    notes: list[str] = field(default_factory=list)


def read_header(path: Path) -> Header:
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises several types for a damaged file
        raise T2IError("weights_corrupt", f"{path.name} is not a readable safetensors file "
                       f"({type(e).__name__}: {e}); download it again") from e
    renamed = renamed_names(shapes)
    shapes = {canonical_name(k): s for k, s in shapes.items()}
    return Header(shapes, dict(meta), renamed)


def read_headers(paths: list[Path]) -> Header:
    """One header over a sharded component (``*-00001-of-00002.safetensors``)."""
    out = Header({}, {})
    for p in paths:
        h = read_header(p)
        out.shapes.update(h.shapes)
        out.metadata.update(h.metadata)
        out.renamed.update(h.renamed)
    return out


def is_lora(h: Header) -> bool:
    return any(k.startswith(("lora_unet_", "lora_te")) or ".lora_A." in k or ".lora_down." in k
               for k in h.shapes)


def detect_single_file(path: Path, h: Header) -> Detected:
    """Family of an original-layout (A1111/ComfyUI) single-file checkpoint."""
    if is_lora(h):
        raise T2IError("not_a_model", f"{path.name} is a LoRA adapter, not a model; put it in "
                       "the adapters folder (loras/)")
    if h.has_prefix(UNET + "double_blocks.") or h.has_prefix("double_blocks."):
        raise T2IError("unsupported_model", f"{path.name} is a FLUX checkpoint; this version "
                       "supports SD 1.x, SD 2.x, SDXL and SD3 (use a diffusers-layout SD3 model)")
    if h.has_prefix(UNET + "joint_blocks."):
        det = Detected("sd3")
        if not h.has_prefix("text_encoders.clip_l.") or not h.has_prefix("text_encoders.clip_g."):
            raise T2IError("incomplete_model", f"{path.name} holds only the SD3 transformer; use "
                           "a file that includes the CLIP text encoders (e.g. "
                           "'*_incl_clips*.safetensors') or the diffusers folder")
        if not h.has_prefix("text_encoders.t5xxl."):
            det.notes.append("no T5 encoder in the file: prompts use the two CLIP encoders only")
    elif UNET + "input_blocks.0.0.weight" in h.shapes:
        if "conditioner.embedders.0.model.text_projection" in h.shapes:
            raise T2IError("unsupported_model", f"{path.name} is an SDXL refiner; it only "
                           "refines another model's output: use an SDXL base model")
        if UNET + "label_emb.0.0.weight" in h.shapes:
            det = Detected("sdxl")
            need = ("conditioner.embedders.0.transformer.", "conditioner.embedders.1.model.")
        else:
            proj = [s for k, s in h.sub(UNET).items() if k.endswith(".proj_in.weight")]
            det = Detected("sd2" if proj and len(proj[0]) == 2 else "sd1")
            need = ("cond_stage_model.model.",) if det.family == "sd2" else (
                "cond_stage_model.transformer.",)
        missing = [p for p in need if not h.has_prefix(p)]
        if missing:
            raise T2IError("incomplete_model", f"{path.name} has no text encoder weights "
                           f"({missing[0]}*); use a full checkpoint, not a UNet-only file")
        if h.shapes[UNET + "input_blocks.0.0.weight"][1] == 9:
            det.variant = "inpaint"
    else:
        raise T2IError("unsupported_model", f"{path.name} is not a Stable Diffusion checkpoint "
                       "this version knows (no UNet or MMDiT weights); supported: SD 1.x, SD 2.x, "
                       "SDXL, SD3")
    if not h.has_prefix(VAE):
        raise T2IError("incomplete_model", f"{path.name} has no VAE weights "
                       "(first_stage_model.*); use a checkpoint with its VAE baked in")
    _variant_from_names(det, path, h.metadata)
    if det.family == "sd2":
        det.prediction_type = _sd2_prediction(path)
    return det


def detect_folder(path: Path, index: dict, denoiser: Header) -> Detected:
    """Family of a diffusers-layout folder from its denoiser's weight names."""
    cls = str(index.get("_class_name", ""))
    if cls in ("StableDiffusionUpscalePipeline", "StableDiffusionLatentUpscalePipeline"):
        raise T2IError("upscaler_model", f"{path.name} is an upscaler ({cls}): it is offered "
                       "by Upscale (the panel's Upscale button, `t2i upscale --model`), not "
                       "by Generate")
    s = denoiser.shapes
    if any(k.endswith("attn.add_q_proj.weight") for k in s) and "pos_embed.proj.weight" in s:
        det = Detected("sd3")
    elif "conv_in.weight" in s and "down_blocks.0.resnets.0.conv1.weight" in s:
        if "add_embedding.linear_1.weight" in s:
            if "text_encoder" not in index:
                raise T2IError("unsupported_model", f"{path.name} is an SDXL refiner; it only "
                               "refines another model's output: use an SDXL base model")
            det = Detected("sdxl")
        else:
            proj = [v for k, v in s.items() if k.endswith(".proj_in.weight")]
            det = Detected("sd2" if proj and len(proj[0]) == 2 else "sd1")
        if s["conv_in.weight"][1] == 9:
            det.variant = "inpaint"
    else:
        raise T2IError("unsupported_model", f"{path.name} ({cls or 'unknown pipeline'}) is not a "
                       "family this version supports: SD 1.x, SD 2.x, SDXL, SD3")
    _variant_from_names(det, path, {})
    return det


def _variant_from_names(det: Detected, path: Path, meta: dict[str, str]) -> None:
    """SDXL-Turbo has SDXL's architecture; only its name or ModelSpec metadata tell it apart."""
    text = " ".join([path.name, meta.get("modelspec.title", ""),
                     meta.get("modelspec.architecture", "")]).lower()
    if det.family == "sdxl" and "turbo" in text and not det.variant:
        det.variant = "turbo"


def _sd2_prediction(path: Path) -> str:
    """SD 2.x 768 models predict v, the 512 'base' ones epsilon; the weights look the same.
    A1111 keeps a ``<name>.yaml`` beside such files: honour its ``parameterization``."""
    yaml = path.with_suffix(".yaml")
    if yaml.is_file():
        m = re.search(r"parameterization:\s*['\"]?(\w+)", yaml.read_text(errors="replace"))
        if m:
            return "v_prediction" if m.group(1) == "v" else "epsilon"
        return "epsilon"
    return "v_prediction"  # SD 2.1 768, the common one (as diffusers assumes)


def load_model_index(folder: Path) -> dict:
    try:
        return json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError) as e:
        raise T2IError("weights_corrupt", f"{folder.name}/model_index.json is unreadable "
                       f"({e}); download the model folder again") from e
