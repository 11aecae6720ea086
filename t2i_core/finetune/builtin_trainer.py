"""The built-in model's side of fine-tuning (the ``Trainable`` of ``finetune/job.py``).

Same recipe as the base training (``training/train_generator.py``: flow matching,
logit-normal times, text augmentation, caption + neighbour dropout for CFG), on LoRA layers of
a copy of the denoiser, with retrieval changed so that the folder's style comes through:

- **style memory**: the folder's own images (their latents + caption embeddings) become a
  small retrieval memory that ships inside the adapter file;
- **neighbours while training**: each item gets ``m`` neighbours (``m`` uniform in 1..K) from
  the folder's *other* images (never itself, as in the base recipe, so it must draw rather
  than copy) and ``K - m`` from the base memory's best matches for its caption (what such a
  thing usually looks like). Slots are shuffled, so the model learns "render the content of
  these icons in the manner of those examples";
- **at generation** with the adapter (``backends/builtin.py``) the first half of the slots
  (scaled by the adapter's weight) come from its style memory and the rest from the base
  memory, as trained.

The user's prompt phrasing varies; captions are augmented (``text_augment``: word replace /
delete / insert, tag shuffle over the caption's comma-separated parts) and embedded once up
front (MiniLM is too slow for the loop); caption dropout is the CFG branch.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import torch
import torch.nn.functional as F

from t2i_core.finetune import lora
from t2i_core.finetune.augment import augment, centre
from t2i_core.finetune.dataset import FolderData
from t2i_core.finetune.request import TrainRequest
from t2i_core.retrieval import RetrievalIndex
from t2i_core.text_augment import augment as augment_caption

FORMAT = "t2i-studio-lora-1"
TEXT_VARIANTS = 6
CONTENT_TOP = 16
P_UNCOND = 0.1
P_AUGMENTED = 0.5


class BuiltinTrainable:
    adapter_format = FORMAT

    def __init__(self, backend, request: TrainRequest) -> None:
        self.backend = backend
        self.m = backend.model
        self.base_model = "builtin"
        self.base_hash = self.m.hash
        self.request = request

    # -- data -------------------------------------------------------------------------------
    def prepare(self, data: FolderData, request: TrainRequest) -> None:
        m, r = self.m, request
        self.images = data.images
        self.n = len(data)
        rng = random.Random(r.seed)
        captions = data.captions
        variants = [[_augment_text(c, rng) for _ in range(TEXT_VARIANTS)] for c in captions]
        unique = sorted(set(captions) | {v for row in variants for v in row})
        emb = m.encoder.encode(unique).embeddings.float()
        index = {t: i for i, t in enumerate(unique)}
        self.canonical = emb[torch.tensor([index[c] for c in captions])]
        self.augmented = emb[torch.tensor([[index[v] for v in row] for row in variants])]
        with torch.no_grad():
            self.latents = torch.cat([m.ae.encode(centre(self.images[i:i + 256]))
                                      for i in range(0, self.n, 256)])
        # the base memory's best matches per caption: the content neighbours
        scores = torch.stack([m.index.scores(e) for e in self.canonical])
        self.content = torch.topk(scores, min(CONTENT_TOP, len(m.index)), dim=1).indices
        self.denoiser = lora.inject(copy.deepcopy(m.denoiser), r.rank, r.alpha).train()
        self.k = m.denoiser.cfg.neighbours

    def parameters(self) -> list[torch.nn.Parameter]:
        return lora.lora_parameters(self.denoiser)

    # -- one step ---------------------------------------------------------------------------
    def loss(self, rng: np.random.Generator) -> torch.Tensor:
        r, b, k = self.request, self.request.batch, self.k
        rows = rng.integers(0, self.n, size=b)
        with torch.no_grad():
            if r.augment_images:
                pix = augment(self.images[rows], rng, jitter=r.colour_jitter)
            else:
                pix = centre(self.images[rows])
            x0 = self.m.ae.encode(pix)
        text = self.canonical[rows]
        if r.augment_text:
            use = torch.from_numpy(rng.random(b) < P_AUGMENTED)
            pick = torch.from_numpy(rng.integers(0, TEXT_VARIANTS, size=b))
            text = torch.where(use[:, None], self.augmented[torch.from_numpy(rows), pick], text)
        nb = self._neighbours(rows, rng, k)
        drop = torch.from_numpy(rng.random(b) < P_UNCOND)
        text = torch.where(drop[:, None], self.m.empty_text.expand_as(text), text)
        nb = torch.where(drop[:, None, None, None, None], torch.zeros_like(nb), nb)
        t = torch.sigmoid(torch.randn(b))
        noise = torch.randn_like(x0)
        tt = t.view(-1, 1, 1, 1)
        x_t = (1 - tt) * x0 + tt * noise
        return F.mse_loss(self.denoiser(x_t, t, text, nb), noise - x0)

    def _neighbours(self, rows: np.ndarray, rng: np.random.Generator, k: int) -> torch.Tensor:
        out = []
        for i in rows:
            m = int(rng.integers(1, k + 1))
            others = np.delete(np.arange(self.n), i) if self.n > 1 else np.arange(self.n)
            style = rng.choice(others, size=m, replace=len(others) < m)
            content = self.content[i][rng.choice(self.content.shape[1], size=k - m,
                                                 replace=False)]
            lat = torch.cat([self.latents[torch.from_numpy(style)],
                             self.m.index.latent(content.tolist())])
            out.append(lat[torch.from_numpy(rng.permutation(k))])
        return torch.stack(out)

    # -- previews and the file ----------------------------------------------------------------
    def samples(self, prompts: list[str], seed: int) -> list[np.ndarray]:
        from t2i_core.backends.base import GenerateRequest

        self.denoiser.eval()
        try:
            out = []
            for i, p in enumerate(prompts):
                req = GenerateRequest(prompt=p, seed=seed + i, width=64, height=64, steps=12)
                res = self.backend.generate_with(req, self.denoiser, [(self.memory(), 1.0)])
                out.append(res.images[0])
            return out
        finally:
            self.denoiser.train()

    def memory(self) -> RetrievalIndex:
        return RetrievalIndex.build(self.canonical, self.latents, ["color"] * self.n)

    def adapter(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        tensors = {k: v.half() for k, v in lora.extract(self.denoiser).items()}
        tensors["memory.text"] = self.canonical.half()
        tensors["memory.latents"] = self.latents.half()
        extra = {"modelspec.architecture": "t2i-studio-builtin/lora",
                 "modelspec.implementation": "t2i-studio", "modelspec.resolution": "32x32",
                 "ss_network_dim": str(self.request.rank),
                 "ss_network_alpha": str(self.request.alpha)}
        return tensors, extra


def _augment_text(caption: str, rng: random.Random) -> str:
    """One augmented phrasing; the caption's comma-separated parts act as its tags."""
    parts = [p.strip() for p in caption.split(",") if p.strip()]
    return augment_caption(caption, parts if len(parts) > 1 else [], rng)
