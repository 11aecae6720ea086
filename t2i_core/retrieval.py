"""The caption-to-latent memory the built-in generator retrieves its neighbours from.

Each entry is one training icon: its caption embedding (MiniLM, int8), its latent (int8 with a
per-entry scale) and its style (emoji / color icon / icon). A query embeds the prompt, scores
every caption by cosine similarity and picks the neighbours for one image:

1. an *anchor* is drawn from the best ``top_k`` entries (softmax over similarity), using the
   image's own seed: different seeds get different anchors, hence variety per prompt;
2. the anchor fixes the style, unless the prompt names one ("... icon", "... emoji"), so a
   plain prompt ("a house") may come out as an emoji or a line icon, never a mix of both;
3. the remaining neighbours are drawn the same way among entries of that style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

STYLES = ("emoji", "color", "icon")
STYLE_NOUNS = {"emoji": "emoji", "color": "color icon", "icon": "icon"}


def detect_style(prompt: str) -> str | None:
    """The style a prompt asks for explicitly, if any."""
    p = prompt.lower()
    if "emoji" in p:
        return "emoji"
    if "color icon" in p or "colour icon" in p or "colorful icon" in p:
        return "color"
    if "icon" in p or "line art" in p or "pictogram" in p or "glyph" in p:
        return "icon"
    return None


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per row: x ~= q * scale."""
    flat = x.reshape(x.shape[0], -1).float()
    scale = flat.abs().amax(dim=1).clamp(min=1e-8) / 127.0
    q = torch.round(flat / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.reshape(x.shape), scale


@dataclass
class Neighbours:
    latents: torch.Tensor  # (K, C, S, S) float
    style: str
    indices: list[int]


class RetrievalIndex:
    def __init__(self, text_q: torch.Tensor, text_scale: torch.Tensor, latent_q: torch.Tensor,
                 latent_scale: torch.Tensor, style_ids: torch.Tensor) -> None:
        self.text = (text_q.float() * text_scale[:, None].float())
        self.text = torch.nn.functional.normalize(self.text, dim=-1)
        self.latent_q, self.latent_scale = latent_q, latent_scale.float()
        self.style_ids = style_ids.long()

    @classmethod
    def build(cls, text: torch.Tensor, latents: torch.Tensor, styles: list[str]) -> RetrievalIndex:
        tq, ts = quantize_rows(text)
        lq, ls = quantize_rows(latents)
        ids = torch.tensor([STYLES.index(s) for s in styles], dtype=torch.int8)
        return cls(tq, ts, lq, ls, ids)

    def tensors(self) -> dict[str, torch.Tensor]:
        tq, ts = quantize_rows(self.text)
        return {"retrieval.text_q": tq, "retrieval.text_scale": ts.half(),
                "retrieval.latent_q": self.latent_q, "retrieval.latent_scale":
                self.latent_scale.half(), "retrieval.style": self.style_ids.to(torch.int8)}

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor]) -> RetrievalIndex:
        return cls(t["retrieval.text_q"], t["retrieval.text_scale"], t["retrieval.latent_q"],
                   t["retrieval.latent_scale"], t["retrieval.style"])

    def __len__(self) -> int:
        return self.text.shape[0]

    def latent(self, idx: list[int]) -> torch.Tensor:
        return self.latent_q[idx].float() * self.latent_scale[idx].view(-1, 1, 1, 1)

    def scores(self, query: torch.Tensor) -> torch.Tensor:
        return self.text @ torch.nn.functional.normalize(query.float(), dim=-1)

    def look_similarity(self, centroid: torch.Tensor) -> torch.Tensor:
        """Cosine between every entry's latent and a unit ``centroid`` (a fine-tuning
        folder's mean look, backends/builtin_trainer.py); cached unit latents."""
        if getattr(self, "_unit", None) is None:
            flat = self.latent_q.reshape(len(self), -1).float()
            self._unit = torch.nn.functional.normalize(flat, dim=-1)  # the scale cancels
        return self._unit @ centroid.float()

    def query(self, query: torch.Tensor, k: int, rng: np.random.Generator,
              style: str | None = None, top_k: int = 16, temperature: float = 0.05,
              bias: torch.Tensor | None = None) -> Neighbours:
        """K neighbours for one image; ``rng`` is seeded from the image's seed. ``bias`` is
        added to every entry's caption score (a style adapter prefers examples that look
        like its folder among those that match the prompt)."""
        scores = self.scores(query)
        if bias is not None:
            scores = scores + bias
        if style is None:  # draw the anchor among all styles
            anchor = self._draw(scores, torch.ones_like(scores, dtype=torch.bool), 1, rng,
                                top_k, temperature)[0]
            style = STYLES[int(self.style_ids[anchor])]
            rest = self._draw(scores, self.style_ids == STYLES.index(style), k, rng, top_k,
                              temperature, exclude=anchor)
            picked = [anchor, *rest][:k]
        else:
            picked = self._draw(scores, self.style_ids == STYLES.index(style), k, rng, top_k,
                                temperature)
        return Neighbours(self.latent(picked), style, picked)

    @staticmethod
    def _draw(scores: torch.Tensor, allowed: torch.Tensor, n: int, rng: np.random.Generator,
              top_k: int, temperature: float, exclude: int | None = None) -> list[int]:
        s = scores.clone()
        s[~allowed] = -1e9
        if exclude is not None:
            s[exclude] = -1e9
        top = torch.topk(s, min(max(top_k, n), len(s))).indices
        logits = (s[top] / temperature).double().numpy()
        p = np.exp(logits - logits.max())
        p /= p.sum()
        choice = rng.choice(len(top), size=min(n, len(top)), replace=False, p=p)
        return [int(top[i]) for i in choice]
