"""``t2i_core/weights/live.safetensors``: the live generator (EMA) and its decoder.

The file holds the generator (``generator.*``, float16), a copy of the autoencoder decoder it
was trained against (``decoder.*``, float16, so retraining the built-in model cannot silently
change what a live latent looks like) and JSON metadata (config, step). Anchors come from the
built-in model's retrieval memory at run time; loading checks that the built-in autoencoder
still matches the stored decoder and says what to do when it does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

from t2i_core.checkpoint import export_weights
from t2i_core.errors import T2IError
from t2i_core.models.autoencoder import Autoencoder
from t2i_core.models.live_generator import LiveGenerator, LiveGeneratorConfig

FORMAT = "t2i-studio-live-1"


def export_live(path: Path, generator: LiveGenerator, ae: Autoencoder, step: int,
                builtin_meta: dict) -> Path:
    tensors = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    tensors |= {f"decoder.{k}": v for k, v in ae.decoder.state_dict().items()}
    meta = {"format": FORMAT, "live": json.dumps({
        "generator": generator.cfg.to_dict(), "step": step,
        "autoencoder": builtin_meta.get("autoencoder", {})})}
    export_weights(path, tensors, meta)
    return path


def load_live(path: Path) -> tuple[LiveGenerator, dict[str, torch.Tensor], dict]:
    """(generator in float32 eval mode, decoder state, metadata)."""
    if not path.is_file():
        raise T2IError("weights_missing", f"live model weights not found at {path}; run "
                       "`t2i live train` to make them")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118
        meta = json.loads(header["live"])
    except Exception as e:  # safetensors raises several types for a damaged file
        raise T2IError("weights_corrupt", f"the live weights file {path} is damaged "
                       f"({type(e).__name__}); run `t2i live train` to remake it") from e
    with torch.device("meta"):
        gen = LiveGenerator(LiveGeneratorConfig.from_dict(meta["generator"]))
    gen.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("generator.")},
                        assign=True)
    decoder = {k[8:]: v for k, v in tensors.items() if k.startswith("decoder.")}
    return gen.eval().requires_grad_(False), decoder, meta


def check_decoder(decoder: dict[str, torch.Tensor], ae: Autoencoder, tol: float = 1e-2) -> None:
    """Raise when the built-in autoencoder is not the one the live model was trained with."""
    current = ae.decoder.state_dict()
    same = current.keys() == decoder.keys() and all(
        current[k].shape == decoder[k].shape and
        torch.allclose(current[k].float(), decoder[k], atol=tol) for k in decoder)
    if not same:
        raise T2IError("weights_mismatch", "the live model was trained against another "
                       "built-in autoencoder than the installed one; run `t2i live train` "
                       "to retrain it for the installed built-in model")
