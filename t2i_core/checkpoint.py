"""Checkpoints that resume exactly, written as safetensors (never pickle).

A checkpoint is one ``.safetensors`` file holding the model weights (``model.*``), an optional
EMA copy (``ema.*``), the optimizer's per-parameter tensors (``opt.<i>.<name>``) and the RNG
state, plus JSON metadata (step, configs, optimizer hyper-parameters). It is written to a temp
file and renamed, so a crash or a full disk mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    step: int, meta: dict, ema: torch.nn.Module | None = None) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().contiguous()
    if ema is not None:
        for k, v in ema.state_dict().items():
            tensors[f"ema.{k}"] = v.detach().contiguous()
    opt = optimizer.state_dict()
    for idx, state in opt["state"].items():
        for name, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"opt.{idx}.{name}"] = t.detach().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    header = {"step": str(step), "meta": json.dumps(meta),
              "param_groups": json.dumps(opt["param_groups"])}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=header)
    os.replace(tmp, path)


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    ema: torch.nn.Module | None = None) -> tuple[int, dict]:
    """Restore in place; returns (step, meta)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if ema is not None:
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    if optimizer is not None:
        state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        optimizer.load_state_dict({"state": state,
                                   "param_groups": json.loads(header["param_groups"])})
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    return int(header["step"]), json.loads(header["meta"])


def export_weights(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str],
                   dtype: torch.dtype = torch.float16) -> None:
    """Write inference weights (float tensors cast to ``dtype``) with string metadata."""
    out = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
           for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(out, str(tmp), metadata=meta)
    os.replace(tmp, path)


def slim_checkpoint(src: Path, dst: Path) -> Path:
    """A smaller copy to commit for the next session: model weights stay float32, the EMA
    and optimizer moments become 16-bit (loading casts them back to float32). Resuming from
    it continues the same run with the same step, RNG and schedule; the optimizer state is
    rounded, so the continuation is close to, not bit-identical with, the original."""
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        header = f.metadata()
    tensors = load_file(str(src))
    for k, v in tensors.items():
        if k.startswith("ema.") and v.is_floating_point():
            tensors[k] = v.half()
        elif k.startswith("opt.") and v.is_floating_point() and v.dim() > 0:
            tensors[k] = v.bfloat16()
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dst), metadata=header)
    return dst
