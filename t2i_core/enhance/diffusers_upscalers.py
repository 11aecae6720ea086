"""A user's own diffusers upscaler models, offered beside the built-in icon upscaler.

For Stable Diffusion images the built-in model (trained on icons) is not the right tool. If
the models folder (the diffusers backend's, ``$T2I_MODELS_DIR``) holds a diffusers-layout
upscaler, the worker offers it under its folder name:

- ``StableDiffusionUpscalePipeline`` (e.g. stable-diffusion-x4-upscaler): 4x, prompt-guided;
- ``StableDiffusionLatentUpscalePipeline`` (e.g. sd-x2-latent-upscaler): 2x.

Loading is local only (``local_files_only``), safetensors only (a folder with pickle weights
is refused, as the diffusers backend does). Alpha is not something these models know: it is
enlarged by the built-in resampler and the colour by the model.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2i_core.errors import T2IError

PIPELINES = {"StableDiffusionUpscalePipeline": 4, "StableDiffusionLatentUpscalePipeline": 2}
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")


@dataclass(frozen=True)
class DiffusersUpscaler:
    id: str  # the folder's path under the models folder, e.g. "x4-upscaler"
    path: Path
    pipeline: str
    scale: int

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": "diffusers", "pipeline": self.pipeline,
                "scales": [self.scale]}


def _index(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return None


def find_upscalers(models_dir: Path | None) -> list[DiffusersUpscaler]:
    """Every upscaler folder in ``models_dir`` (one level deep, or one grouping folder)."""
    if models_dir is None or not Path(models_dir).is_dir():
        return []
    root = Path(models_dir)
    folders = []
    for p in sorted(root.iterdir()):
        if p.is_dir() and not p.name.startswith("."):
            folders += [p] if (p / "model_index.json").is_file() else [
                c for c in sorted(p.iterdir()) if (c / "model_index.json").is_file()]
    found = []
    for folder in folders:
        cls = str((_index(folder) or {}).get("_class_name", ""))
        if cls in PIPELINES:
            found.append(DiffusersUpscaler(folder.relative_to(root).as_posix(), folder, cls,
                                           PIPELINES[cls]))
    return found


class DiffusersUpscalers:
    """The upscalers of one models folder; pipelines load on first use and stay loaded."""

    def __init__(self, models_dir: Path | None) -> None:
        self.models_dir = Path(models_dir) if models_dir else None
        self._pipes: dict[str, object] = {}
        self._lock = threading.Lock()

    def list(self) -> list[DiffusersUpscaler]:
        return find_upscalers(self.models_dir)

    def resolve(self, model: str, scale: int) -> DiffusersUpscaler:
        found = {u.id: u for u in self.list()}
        if model not in found:
            names = ", ".join(["builtin", *found]) or "builtin"
            raise T2IError("model_not_found", f"upscaler '{model}' not found; installed: "
                           f"{names}. Put a diffusers upscaler folder (model_index.json) in "
                           "the models folder to add one")
        entry = found[model]
        if scale != entry.scale:
            raise T2IError("bad_scale", f"'{model}' ({entry.pipeline}) upscales "
                           f"{entry.scale}x only; ask for scale {entry.scale}, or use the "
                           "built-in upscaler for other scales")
        pickles = [f.relative_to(entry.path).as_posix() for f in entry.path.rglob("*")
                   if f.suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise T2IError("pickle_refused", f"'{model}' has pickle weights ({pickles[0]}): "
                           "loading them could run any code they carry; use its safetensors "
                           "version")
        return entry

    def upscale(self, entry: DiffusersUpscaler, image: np.ndarray, prompt: str = "",
                steps: int = 20, seed: int = 0) -> np.ndarray:
        """uint8 RGBA in, uint8 RGBA ``entry.scale`` times larger out."""
        import torch
        from PIL import Image

        from t2i_core.enhance import resample_rgba

        pipe = self._pipe(entry)
        rgb = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
        kwargs = {"prompt": prompt, "image": rgb, "num_inference_steps": steps,
                  "output_type": "np", "generator": torch.Generator().manual_seed(seed)}
        if entry.pipeline == "StableDiffusionLatentUpscalePipeline":
            kwargs["guidance_scale"] = 0.0
        with torch.inference_mode():
            out = pipe(**kwargs).images[0]
        h, w = image.shape[0] * entry.scale, image.shape[1] * entry.scale
        colour = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
        if colour.shape[:2] != (h, w):  # the VAE works in multiples of 8: crop or pad
            canvas = np.zeros((h, w, 3), np.uint8)
            ch, cw = min(h, colour.shape[0]), min(w, colour.shape[1])
            canvas[:ch, :cw] = colour[:ch, :cw]
            colour = canvas
        alpha = resample_rgba(image, entry.scale)[..., 3:]
        return np.concatenate([colour, alpha], axis=-1)

    def _pipe(self, entry: DiffusersUpscaler):
        with self._lock:
            if entry.id not in self._pipes:
                import diffusers

                try:
                    cls = getattr(diffusers, entry.pipeline)
                    self._pipes[entry.id] = cls.from_pretrained(
                        str(entry.path), local_files_only=True, use_safetensors=True)
                except Exception as e:  # diffusers raises many kinds for a bad folder
                    raise T2IError("model_load_failed", f"the upscaler '{entry.id}' could not "
                                   f"be loaded: {type(e).__name__}: {str(e)[:200]}") from e
            return self._pipes[entry.id]
