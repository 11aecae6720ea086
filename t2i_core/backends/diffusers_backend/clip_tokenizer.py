"""The CLIP BPE tokenizer that SD 1.x, SD 2.x, SDXL and SD3 share, built without a download.

OpenAI's CLIP vocabulary ships as ``bpe_simple_vocab_16e6.txt.gz`` (MIT licence; the same file
open_clip_torch bundles, copied into ``configs/``). transformers' ``CLIPTokenizer`` wants it as
``vocab.json`` + ``merges.txt``: the merges are lines 1..48894 of the file, and the vocabulary is
the 256 byte symbols, the same with ``</w>``, one entry per merge, then the two special tokens
(49408 in all) — exactly how CLIP's own ``SimpleTokenizer`` builds it.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from pathlib import Path

BPE_FILE = Path(__file__).resolve().parent / "configs" / "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
N_MERGES = VOCAB_SIZE - 256 * 2 - 2  # 48894


@lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def vocab_and_merges(bpe_file: Path = BPE_FILE) -> tuple[dict[str, int], list[str]]:
    with gzip.open(bpe_file) as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = lines[1:1 + N_MERGES]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}, merges


def write_clip_tokenizer(dest: Path, pad_token: str = "<|endoftext|>",
                         max_length: int = 77) -> Path:
    """Write a transformers ``CLIPTokenizer`` folder; SD 2.x / SDXL's second one pads with '!'."""
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / "merges.txt").is_file():
        vocab, merges = vocab_and_merges()
        tmp = dest / f".vocab.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tmp.replace(dest / "vocab.json")
        tmp.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        tmp.replace(dest / "merges.txt")
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": max_length,
              "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
              "unk_token": "<|endoftext|>", "pad_token": pad_token, "do_lower_case": True,
              "clean_up_tokenization_spaces": True}
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
    (dest / "special_tokens_map.json").write_text(json.dumps(
        {k: config[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token")}, indent=1))
    return dest
