"""LoRA on the built-in denoiser: peft for training, a plain merge for inference.

Training injects peft ``LoraConfig`` layers into a *copy* of the denoiser (the shared model
that serves generation is never touched). Which layers (``LAYER_SETS``): by default only the
style path, the adaLN modulation of every block, the output modulation and the text
projection (issue 16: LoRA on every linear map at lr 2e-3 re-drew the folder's pictures;
docs/finetune.md has the measurements); "all" adds attention, MLPs, the input embedding that
mixes the noisy latent with the neighbours, and the output head.

Inference does not need peft (it is a training dependency; the runtime stays small):
``W' = W + sum_i weight_i * (alpha_i / rank_i) * B_i @ A_i`` for every adapted layer, handed
to ``torch.func.functional_call`` so several adapters with their own weights apply per
request without mutating the shared model or restarting anything.

File keys follow the peft/diffusers naming under a ``denoiser.`` prefix
(``denoiser.blocks.0.qkv.lora_A.weight``); rank and alpha are in the metadata.
"""

from __future__ import annotations

import torch

from t2i_core.errors import T2IError

TARGETS = r"^(embed|ada_out|out|text_mlp\.[02]|blocks\.\d+\.(qkv|proj|ada|mlp\.[02]))$"
# The style path: the maps from the condition (time + text) to every block's scale / shift /
# gate. They act on all tokens alike, so they restyle (palette, shading, outline) but cannot
# carry a folder image's layout; attention, MLPs and the neighbour embedding keep the content.
STYLE_TARGETS = r"^(ada_out|text_mlp\.[02]|blocks\.\d+\.ada)$"
LAYER_SETS = {"style": STYLE_TARGETS, "all": TARGETS}
PREFIX = "denoiser."


def inject(denoiser: torch.nn.Module, rank: int, alpha: float,
           layers: str = "style") -> torch.nn.Module:
    """``denoiser`` with peft LoRA layers (B = 0: starts as the base model); only LoRA trains.
    ``layers``: "style" (adaLN and text map, the default) or "all" (every linear map)."""
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as e:
        raise T2IError("training_unavailable", "fine-tuning needs the 'peft' package; install "
                       "it with `pip install 't2i-studio[train]'`") from e
    cfg = LoraConfig(r=rank, lora_alpha=alpha, target_modules=LAYER_SETS[layers], lora_dropout=0.0,
                     bias="none")
    model = inject_adapter_in_model(cfg, denoiser)
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return model


def lora_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for n, p in model.named_parameters() if "lora_" in n]


def extract(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA tensors of a peft-injected denoiser under the file's key names."""
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(model)
    return {PREFIX + k: v.detach().float().clone() for k, v in state.items()}


def deltas(adapters: list[tuple[dict[str, torch.Tensor], float, float]]
           ) -> dict[str, torch.Tensor]:
    """Weight deltas per module path from ``(tensors, scale, weight)`` triples, where
    ``scale`` = alpha / rank. Adapters adding to the same layer sum up."""
    out: dict[str, torch.Tensor] = {}
    for tensors, scale, weight in adapters:
        if weight == 0:
            continue
        for key, a in tensors.items():
            if not key.endswith(".lora_A.weight"):
                continue
            path = key[len(PREFIX):-len(".lora_A.weight")]
            b = tensors.get(f"{PREFIX}{path}.lora_B.weight")
            if b is None:
                continue
            d = (weight * scale) * (b.float() @ a.float())
            out[path] = out[path] + d if path in out else d
    return out


def merged_parameters(denoiser: torch.nn.Module, delta: dict[str, torch.Tensor]
                      ) -> dict[str, torch.Tensor]:
    """``{param name: W + delta}`` for the adapted layers of a plain denoiser; raises
    ``lora_incompatible`` when a key names no layer or a shape differs (another model)."""
    modules = dict(denoiser.named_modules())
    out = {}
    for path, d in delta.items():
        mod = modules.get(path)
        w = getattr(mod, "weight", None)
        if w is None or tuple(w.shape) != tuple(d.shape):
            raise T2IError("lora_incompatible", f"the adapter changes layer '{path}', which "
                           "this model does not have in that shape; it was trained for "
                           "another model")
        out[f"{path}.weight"] = w + d.to(w.dtype)
    return out
