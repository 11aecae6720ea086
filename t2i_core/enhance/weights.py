"""``t2i_core/weights/upscaler.safetensors``: the upscaler's inference weights.

float16 tensors (about 0.5 MB) with JSON metadata: the model config and the training step.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open

from t2i_core.checkpoint import export_weights
from t2i_core.errors import T2IError
from t2i_core.models.upscaler import Upscaler, UpscalerConfig

FORMAT = "t2i-studio-upscaler-1"
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "weights" / "upscaler.safetensors"


def export_upscaler(path: Path, model: Upscaler, step: int) -> Path:
    meta = {"format": FORMAT,
            "upscaler": json.dumps({"config": model.cfg.to_dict(), "step": step})}
    export_weights(path, dict(model.state_dict()), meta)
    return path


def load_upscaler(path: Path) -> tuple[Upscaler, dict]:
    """(model in float32 eval mode, metadata); a clear error for a damaged file."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118
        meta = json.loads(header["upscaler"])
    except Exception as e:  # safetensors raises several types for a damaged file
        raise T2IError("weights_corrupt", f"the upscaler weights file {path} is damaged "
                       f"({type(e).__name__}); reinstall t2i-studio or run `t2i upscaler "
                       "train`") from e
    model = Upscaler(UpscalerConfig.from_dict(meta["config"]))
    model.load_state_dict(tensors)
    return model.eval().requires_grad_(False), meta
