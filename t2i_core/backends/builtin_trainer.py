"""The built-in model's side of fine-tuning (the ``Trainable`` of ``finetune/job.py``).

Goal (issue 16): the adapter keeps the prompt's subject and takes the folder's look. The
earlier recipe put the folder's own images into the retrieval neighbours and made one of them
the sampler's starting point; at any weight the model then re-drew the folder (measured in
docs/finetune.md). This recipe keeps content and style on separate paths:

- **content** comes, as in the base model, from the prompt and from the base memory's
  neighbours for it (``retrieval.py``). The folder's images are never neighbours and never
  the starting point; they only appear as training targets;
- **style** is a low-rank change of the layers that turn the condition (time + text) into
  the per-block scale/shift/gate (``lora.STYLE_TARGETS``: adaLN and the text map). These act
  on the whole image alike, so they can shift palette, shading and outline but cannot paste
  a folder image's layout. The change is tied to the trigger phrase;
- **prior preservation** (DreamBooth's regularisation batch): a share of every batch
  (``request.prior``) is base data, i.e. entries of the base memory with their own captions
  and neighbours, without the trigger, so the adapter keeps drawing what prompts ask for;
- **captions**: a ``.txt`` next to an image is used as written. File names are often
  meaningless ("gnome-fs-nfs"), so otherwise the file-name caption (with the trigger) is
  mixed with an *automatic caption*: the mean caption embedding of the base memory's entries
  whose latents are nearest to the image's (``auto_captions``; the unit-length sum of both
  embeddings named the subject best, docs/finetune.md). The folder item's neighbours are
  drawn for that caption, from the base memory's entries of the folder's own kind (emoji /
  colour icon / line icon, found the same way), exactly as generation draws them;
- **the look** (``look.py``): per folder image, its colours by distance to the shape's edge
  and height (16 colours, no layout), stored in the adapter and painted after decoding on
  the base model's shape; this is the part that carries a theme's palette, rim and shading;
- **the renderer** (``render.py``, optional): a tiny glyph-to-picture network trained on
  the folder, trained by the steps when ``layers="none"`` (no LoRA), or before them when
  ``render_steps`` > 0;
- at generation the weight scales the LoRA delta and the look's share continuously
  (0 = the base model exactly).

Text augmentation and caption dropout (the CFG branch) as in the base recipe.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import torch
import torch.nn.functional as F

from t2i_core.finetune import look, lora, render
from t2i_core.finetune.augment import augment, centre
from t2i_core.finetune.dataset import FolderData
from t2i_core.finetune.request import TrainRequest
from t2i_core.models.autoencoder import to_pixels
from t2i_core.retrieval import STYLES
from t2i_core.text_augment import augment as augment_caption

FORMAT = "t2i-studio-lora-1"
TEXT_VARIANTS = 6
CONTENT_TOP = 16  # neighbours are drawn among this many best matches, as at generation
CAPTION_NEIGHBOURS = 8  # base-memory entries averaged into an automatic caption
PRIOR_POOL = 2048  # base-memory entries the regularisation batch draws from
P_UNCOND = 0.1
P_AUGMENTED = 0.5
TEMPERATURE = 0.05  # the retrieval softmax temperature of generation (retrieval.py)
# retrieval's preference for base examples that look like the folder (builtin.py): measured
# with no gain in style distance at 0.1 and 0.25 (docs/finetune.md), so off by default
STYLE_BIAS = 0.0


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
        with torch.no_grad():
            self.latents = torch.cat([m.ae.encode(centre(self.images[i:i + 256]))
                                      for i in range(0, self.n, 256)])
        near = self._nearest_memory(self.latents)
        # the folder's kind of picture: the majority style of its nearest base entries
        votes = torch.bincount(m.index.style_ids[near].flatten(), minlength=len(STYLES))
        self.style = STYLES[int(votes.argmax())]
        captions = data.captions
        rng = random.Random(r.seed)
        variants = [[_augment_text(c, rng) for _ in range(TEXT_VARIANTS)] for c in captions]
        unique = sorted(set(captions) | {v for row in variants for v in row})
        emb = m.encoder.encode(unique).embeddings.float()
        index = {t: i for i, t in enumerate(unique)}
        self.canonical = emb[torch.tensor([index[c] for c in captions])]
        self.augmented = emb[torch.tensor([[index[v] for v in row] for row in variants])]
        if request.auto_captions:  # what the picture shows, from the base data's captions
            auto = m.index.text[near].mean(dim=1)
            manual = torch.tensor([s == "txt" for s in data.caption_source])
            self.canonical = _mix(self.canonical, auto, ~manual)
            self.augmented = _mix(self.augmented, auto[:, None], ~manual[:, None])
        self.caption_source = [s if s == "txt" or not request.auto_captions else f"{s}+auto"
                               for s in data.caption_source]
        # folder items: neighbours from the base memory, of the folder's kind, for the caption
        allowed = m.index.style_ids == STYLES.index(self.style)
        self.centroid = F.normalize(F.normalize(self.latents.flatten(1), dim=-1).mean(0), dim=0)
        bias = STYLE_BIAS * m.index.look_similarity(self.centroid)
        self.content, self.content_p = _top(m.index.text, self.canonical, allowed, CONTENT_TOP,
                                            bias)
        # the regularisation pool: base entries with their own neighbours (same style,
        # another caption: the base recipe)
        g = torch.Generator().manual_seed(r.seed)
        pool = torch.randperm(len(m.index), generator=g)[:min(PRIOR_POOL, len(m.index))]
        self.prior_items = pool
        sims = m.index.text[pool] @ m.index.text.T
        sims[m.index.style_ids[pool][:, None] != m.index.style_ids[None]] = -2
        sims[sims > 0.995] = -3  # itself and same-caption entries
        self.prior_nb = torch.topk(sims, min(CONTENT_TOP, len(m.index)), dim=1).indices
        # layers "none": no LoRA; the job's steps train the look's renderer instead
        self.denoiser = (lora.inject(copy.deepcopy(m.denoiser), r.rank, r.alpha,
                                     r.layers).train() if r.layers != "none" else None)
        # the style-only path: the folder's colour and shading statistics (look.py)
        # (+ the images' caption embeddings, so generation paints a subject with the palette
        # of the folder images about the nearest subjects)
        at32 = to_pixels(centre(self.images)).numpy()
        self.look = look.learn(at32, self.canonical)
        self.renderer = None
        if self.look:  # its rendering: a tiny glyph-to-picture network (render.py)
            kept = look.drawn(at32)
            tables = self.look["look.tables"].numpy()
            detail = float(self.look["look.detail"][0])
            if self.denoiser is None:  # trained by the job's steps (progress, resume)
                cfg = render.RenderConfig()
                self.render_x, self.render_y = render.training_pairs(
                    self.images[kept], tables, detail, np.random.default_rng([r.seed, 0x5E4D]),
                    cfg.pool)
                self.renderer = render.Renderer(cfg).train()
            elif r.render_steps:  # beside a LoRA: trained here, before its steps
                self.look |= render.train(self.images[kept], tables, detail, r.seed,
                                          render.RenderConfig(steps=r.render_steps))
        self.k = m.denoiser.cfg.neighbours

    def _nearest_memory(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, CAPTION_NEIGHBOURS) base-memory entries whose latents are nearest (cosine)."""
        q = F.normalize(latents.flatten(1), dim=-1)
        best_s = best_i = None
        step = 4096
        for i in range(0, len(self.m.index), step):
            idx = list(range(i, min(i + step, len(self.m.index))))
            s = q @ F.normalize(self.m.index.latent(idx).flatten(1), dim=-1).T
            top = torch.topk(s, min(CAPTION_NEIGHBOURS, s.shape[1]), dim=1)
            cand_s = top.values if best_s is None else torch.cat([best_s, top.values], 1)
            cand_i = top.indices + i if best_i is None else torch.cat([best_i, top.indices + i],
                                                                      1)
            keep = torch.topk(cand_s, min(CAPTION_NEIGHBOURS, cand_s.shape[1]), dim=1).indices
            best_s, best_i = cand_s.gather(1, keep), cand_i.gather(1, keep)
        return best_i

    def parameters(self) -> list[torch.nn.Parameter]:
        if self.denoiser is None:
            return list(self.renderer.parameters()) if self.renderer is not None else []
        return lora.lora_parameters(self.denoiser)

    # -- one step ---------------------------------------------------------------------------
    def loss(self, rng: np.random.Generator) -> torch.Tensor:
        if self.denoiser is None:  # the renderer: a batch of the folder's glyph pairs
            idx = torch.from_numpy(rng.integers(0, len(self.render_x), self.request.batch))
            return render.render_loss(self.renderer(self.render_x[idx]), self.render_y[idx])
        return self._lora_loss(rng)

    def _lora_loss(self, rng: np.random.Generator) -> torch.Tensor:
        r, b, k = self.request, self.request.batch, self.k
        n_prior = int(round(b * r.prior))
        n_own = b - n_prior
        rows = rng.integers(0, self.n, size=n_own)
        with torch.no_grad():
            if r.augment_images:
                pix = augment(self.images[rows], rng, jitter=r.colour_jitter)
            else:
                pix = centre(self.images[rows])
            x_own = self.m.ae.encode(pix)
        text = self.canonical[rows]
        if r.augment_text:
            use = torch.from_numpy(rng.random(n_own) < P_AUGMENTED)
            pick = torch.from_numpy(rng.integers(0, TEXT_VARIANTS, size=n_own))
            text = torch.where(use[:, None], self.augmented[torch.from_numpy(rows), pick], text)
        nb = torch.stack([self._draw(self.content[i], self.content_p[i], rng, k)
                          for i in rows]) if n_own else torch.zeros(0)
        x0, texts, nbs = [x_own], [text], [nb]
        if n_prior:
            p_rows = rng.integers(0, len(self.prior_items), size=n_prior)
            items = self.prior_items[torch.from_numpy(p_rows)]
            x0.append(self.m.index.latent(items.tolist()))
            texts.append(self.m.index.text[items])
            picks = np.stack([rng.choice(self.prior_nb.shape[1], k, replace=False)
                              for _ in p_rows])
            idx = self.prior_nb[torch.from_numpy(p_rows)[:, None], torch.from_numpy(picks)]
            nbs.append(self.m.index.latent(idx.flatten().tolist()).view(n_prior, k,
                                                                         *x_own.shape[1:]))
        x0 = torch.cat([x for x in x0 if len(x)])
        text = torch.cat([t for t in texts if len(t)])
        nb = torch.cat([x for x in nbs if len(x)])
        drop = torch.from_numpy(rng.random(b) < P_UNCOND)
        text = torch.where(drop[:, None], self.m.empty_text.expand_as(text), text)
        nb = torch.where(drop[:, None, None, None, None], torch.zeros_like(nb), nb)
        t = torch.sigmoid(torch.randn(b))
        noise = torch.randn_like(x0)
        tt = t.view(-1, 1, 1, 1)
        x_t = (1 - tt) * x0 + tt * noise
        return F.mse_loss(self.denoiser(x_t, t, text, nb), noise - x0)

    def _draw(self, top: torch.Tensor, p: np.ndarray, rng: np.random.Generator,
              k: int) -> torch.Tensor:
        """K neighbour latents among ``top``, drawn as generation draws them (softmax)."""
        choice = rng.choice(len(top), size=min(k, len(top)), replace=False, p=p)
        return self.m.index.latent(top[choice].tolist())

    # -- previews and the file ----------------------------------------------------------------
    def samples(self, prompts: list[str], seed: int) -> list[np.ndarray]:
        from t2i_core.backends.base import GenerateRequest

        net = self.denoiser if self.denoiser is not None else self.m.denoiser
        was_training = net.training
        net.eval()
        try:
            out = []
            for i, p in enumerate(prompts):
                req = GenerateRequest(prompt=p, seed=seed + i, width=64, height=64, steps=12)
                res = self.backend.generate_with(req, net, [self.style_ref(1.0)])
                out.append(res.images[0])
            return out
        finally:
            net.train(was_training)

    def _look_now(self) -> dict[str, torch.Tensor]:
        """The look tensors with the renderer as trained so far (when the steps train it)."""
        if self.renderer is None:
            return self.look
        return self.look | {k: v.float() for k, v in render.export(self.renderer).items()}

    def style_ref(self, weight: float):
        from t2i_core.finetune.adapters import StyleRef

        return StyleRef(None if self.look else self.style, self.request.trigger.strip(),
                        weight, self.centroid, self._look_now() or None)

    def adapter(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        tensors = ({k: v.half() for k, v in lora.extract(self.denoiser).items()}
                   if self.denoiser is not None else {})
        tensors["style.centroid"] = self.centroid.half()  # a mean look, not an image
        # colour tables per folder image (4 x 4 colours) and the renderer: no image
        tensors |= self.look
        if self.renderer is not None:
            tensors |= render.export(self.renderer)
        extra = {"modelspec.architecture": "t2i-studio-builtin/lora",
                 "modelspec.implementation": "t2i-studio", "modelspec.resolution": "32x32",
                 "ss_network_dim": str(self.request.rank),
                 "ss_network_alpha": str(self.request.alpha),
                 "retrieval_style": self.style}
        return tensors, extra


def _mix(text: torch.Tensor, auto: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Unit-length sum of a caption embedding and an automatic one (where ``where``)."""
    mixed = F.normalize(F.normalize(text, dim=-1) + F.normalize(auto, dim=-1), dim=-1)
    return torch.where(where[..., None], mixed, text)


def _top(memory_text: torch.Tensor, queries: torch.Tensor, allowed: torch.Tensor,
         k: int, bias: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """Per query the ``k`` best allowed memory entries (caption score + look bias) and the
    softmax over them, as generation draws them."""
    s = F.normalize(queries, dim=-1) @ memory_text.T + bias
    if allowed.any():
        s[:, ~allowed] = -1e9
        k = min(k, int(allowed.sum()))
    top = torch.topk(s, k, dim=1)
    logits = (top.values / TEMPERATURE).double()
    p = torch.softmax(logits, dim=1).numpy()
    return top.indices, p / p.sum(axis=1, keepdims=True)


def _augment_text(caption: str, rng: random.Random) -> str:
    """One augmented phrasing; the caption's comma-separated parts act as its tags."""
    parts = [p.strip() for p in caption.split(",") if p.strip()]
    return augment_caption(caption, parts if len(parts) > 1 else [], rng)
