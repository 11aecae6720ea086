"""The CLIP text encoders read 77 tokens: say so when a prompt is longer, and what was lost.

diffusers truncates silently (a log line nobody sees in an editor). Like it, we keep the
first 75 tokens between the start and end markers and name the words after them; the notice
travels in the result's ``warnings`` that the panel shows. SD3 with its T5 encoder still reads
the rest through T5 (up to its own limit), so the notice says only the CLIP part was cut.
"""

from __future__ import annotations

import re
from typing import Any

DROPPED_CHARS = 120  # enough to recognise the words, short enough for a status line


def truncation_warnings(pipe: Any, prompt: str, negative_prompt: str = "") -> list[str]:
    """One notice per prompt (positive, negative) that the pipeline's CLIP tokenizer cuts."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None:
        return []
    t5 = getattr(pipe, "text_encoder_3", None) is not None
    out = []
    for what, text in (("prompt", prompt), ("negative prompt", negative_prompt)):
        dropped, limit = dropped_text(tokenizer, text)
        if not dropped:
            continue
        shown = dropped if len(dropped) <= DROPPED_CHARS else dropped[:DROPPED_CHARS] + "..."
        tail = " (only for the CLIP encoders: T5 still reads them)" if t5 else ""
        out.append(f"the {what} was cut at {limit} tokens, all that the CLIP text encoder "
                   f"reads; dropped: \"{shown}\"{tail}. Shorten it or put the important "
                   "words first")
    return out


def dropped_text(tokenizer: Any, text: str) -> tuple[str, int]:
    """(the words after the tokenizer's limit, the limit); ``""`` when it all fits."""
    limit = int(getattr(tokenizer, "model_max_length", 77) or 77)
    if not text or limit <= 2 or limit > 100_000:
        return "", limit
    ids = tokenizer(text, truncation=False, add_special_tokens=True).input_ids
    if len(ids) <= limit:
        return "", limit
    # kept: [start] + limit-2 tokens + [end]; dropped: the rest before the final end marker
    rest = ids[limit - 1:-1] if ids[-1] == tokenizer.eos_token_id else ids[limit - 1:]
    text = tokenizer.decode(rest, skip_special_tokens=True)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)  # CLIP's decode spaces out punctuation
    return text.strip().lstrip(",.;: ").strip(), limit
