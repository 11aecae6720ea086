"""Training pairs for the live model, taken from the built-in model's weights file.

``builtin.safetensors`` already holds what the live model needs to learn from: the retrieval
memory (caption embeddings and latents of training-split icons, t2i_core/retrieval.py), the
autoencoder whose latent space the live model shares, and the multi-step denoiser (the
distillation teacher). Training from it needs no caption-embedding pass over the data set
(~40 min of MiniLM on a busy 2-core CPU) and guarantees that the anchors seen in training come
from the same memory the backend retrieves from at generation time.

Each item's *anchor candidates* are the ``k`` most similar captions of the same style with a
different caption (cosine < ``same_caption``): the item itself is never its own anchor, as in
the built-in model's training, so the generator learns to draw the text, not to copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from t2i_core.errors import T2IError
from t2i_core.models.autoencoder import Autoencoder, AutoencoderConfig
from t2i_core.models.denoiser import DenoiserConfig, RetrievalDenoiser
from t2i_core.retrieval import RetrievalIndex

SAME_CAPTION = 0.995  # MiniLM cosine above which two captions count as the same text


@dataclass
class BuiltinParts:
    ae: Autoencoder
    denoiser: RetrievalDenoiser
    index: RetrievalIndex
    empty_text: torch.Tensor
    meta: dict


def load_builtin_parts(path: Path) -> BuiltinParts:
    """The frozen networks and memory of the built-in model (no text encoder)."""
    if not path.is_file():
        raise T2IError("weights_missing", f"built-in weights not found at {path}; the live "
                       "model is trained from them: reinstall t2i-studio or run `t2i builtin "
                       "train`")
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads((f.metadata() or {})["builtin"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    ae = Autoencoder(AutoencoderConfig.from_dict(meta["autoencoder"]))
    ae.load_state_dict(_prefixed(tensors, "ae."))
    dn = RetrievalDenoiser(DenoiserConfig.from_dict(meta["denoiser"]))
    dn.load_state_dict(_prefixed(tensors, "denoiser."))
    for m in (ae, dn):
        m.float().eval().requires_grad_(False)
    return BuiltinParts(ae, dn, RetrievalIndex.from_tensors(tensors),
                        tensors["empty_text"].float(), meta)


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}


@torch.no_grad()
def background_latent(ae: Autoencoder) -> torch.Tensor:
    """(C,) the latent of a fully transparent cell (premultiplied zeros = -1 in model space)."""
    z = ae.encode(-torch.ones(1, ae.cfg.in_channels, ae.cfg.image_size, ae.cfg.image_size))
    return z[0, :, z.shape[2] // 2, z.shape[3] // 2].clone()


@dataclass
class LiveData:
    text: torch.Tensor  # (N,384) unit MiniLM caption embeddings
    latents: torch.Tensor  # (N,C,S,S) standardised latents
    styles: torch.Tensor  # (N,) style ids (retrieval.STYLES)
    anchors: torch.Tensor  # (N,K) anchor candidates: same style, different caption
    background: torch.Tensor  # (C,)

    def __len__(self) -> int:
        return len(self.text)

    def batch(self, size: int) -> dict[str, torch.Tensor]:
        """A random batch drawn with the global torch RNG (so a checkpoint's RNG state makes
        resuming exact). ``neighbours`` (B,4,...) are the teacher's: the anchor first."""
        idx = torch.randint(len(self), (size,))
        k = self.anchors.shape[1]
        j = torch.randint(k, (size,))
        cols = (j[:, None] + torch.arange(4)[None]) % k
        nb_idx = self.anchors[idx[:, None], cols]
        return {"index": idx, "text": self.text[idx], "latent": self.latents[idx],
                "anchor": self.latents[nb_idx[:, 0]], "neighbours": self.latents[nb_idx]}


def live_data(parts: BuiltinParts, k: int = 8, limit: int | None = None,
              cache: Path | None = None, chunk: int = 2048) -> LiveData:
    """The memory as training data. The anchor table costs minutes on a busy CPU for the
    full memory, so it is cached in ``cache`` (a safetensors file) when given."""
    from safetensors.torch import load_file, save_file

    index = parts.index
    n = len(index) if limit is None else min(limit, len(index))
    text = index.text[:n].float()
    latents = index.latent(list(range(n)))
    styles = index.style_ids[:n]
    anchors = None
    if cache is not None and cache.is_file():
        anchors = load_file(str(cache)).get("anchors")
        if anchors is not None and anchors.shape != (n, k):
            anchors = None  # another memory or k: recompute
    if anchors is None:
        anchors = torch.zeros(n, k, dtype=torch.long)
        for i in range(0, n, chunk):
            s = text[i:i + chunk] @ text.T
            s = torch.where(styles[i:i + chunk, None] != styles[None], s - 4.0, s)  # styles
            s = torch.where(s > SAME_CAPTION, torch.full_like(s, -8.0), s)  # self, same caption
            anchors[i:i + chunk] = torch.topk(s, min(k, n), dim=1).indices
        if cache is not None:
            save_file({"anchors": anchors}, str(cache))
    return LiveData(text, latents, styles.long(), anchors, background_latent(parts.ae))
