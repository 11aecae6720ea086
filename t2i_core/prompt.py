"""Prompt engineering: normalisation, templates, ``(word:1.3)`` weighting, negative prompts.

The syntax is the one A1111 and ComfyUI users type:
- ``(red:1.3) apple``  gives "red" 1.3x weight; ``(red)`` = 1.1x, ``[red]`` = 1/1.1x;
- ``\\(`` and ``\\)`` are literal brackets;
- a template such as ``"{prompt} icon"`` wraps the user's words (see TEMPLATES).

A parsed prompt is a list of ``(text, weight)`` segments. The text encoder turns the weights
into per-token weights of its mean pooling, so an emphasised word pulls the sentence embedding
toward itself; the negative prompt replaces the empty prompt as the unconditional branch of
classifier-free guidance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEMPLATES: dict[str, str] = {
    "none": "{prompt}",
    "icon": "{prompt} icon",
    "line icon": "{prompt} line icon",
    "color icon": "{prompt} color icon",
    "emoji": "{prompt} emoji",
}
_WEIGHT = re.compile(r"^(.*):\s*([-+]?\d*\.?\d+)\s*$", re.S)
MIN_WEIGHT, MAX_WEIGHT = 0.0, 3.0


@dataclass(frozen=True)
class Segment:
    text: str
    weight: float = 1.0


def normalize(text: str) -> str:
    """Collapse whitespace and strip; keep case and punctuation (the encoder lowercases)."""
    return re.sub(r"\s+", " ", text).strip()


def apply_template(prompt: str, template: str = "none") -> str:
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; choose one of {sorted(TEMPLATES)}")
    return TEMPLATES[template].format(prompt=prompt)


def parse_weights(prompt: str) -> list[Segment]:
    """Split a prompt into weighted segments; nesting multiplies weights like A1111."""
    segments: list[Segment] = []
    stack: list[tuple[str, int]] = []  # (bracket, start index in `chars`)
    chars: list[tuple[str, float]] = []  # each character with its multiplier so far
    i = 0
    while i < len(prompt):
        c = prompt[i]
        if c == "\\" and i + 1 < len(prompt):
            chars.append((prompt[i + 1], 1.0))
            i += 2
            continue
        if c in "([":
            stack.append((c, len(chars)))
        elif c in ")]" and stack and stack[-1][0] == ("(" if c == ")" else "["):
            bracket, start = stack.pop()
            inner = "".join(ch for ch, _ in chars[start:])
            factor = 1.1 if bracket == "(" else 1 / 1.1
            m = _WEIGHT.match(inner) if bracket == "(" else None
            if m:  # "(text:1.3)": drop the ":1.3" characters and use the explicit weight
                factor = min(max(float(m.group(2)), MIN_WEIGHT), MAX_WEIGHT)
                chars = chars[: start + len(m.group(1))]
            chars[start:] = [(ch, w * factor) for ch, w in chars[start:]]
        else:
            chars.append((c, 1.0))
        i += 1
    # merge runs of equal weight
    for ch, w in chars:
        if segments and abs(segments[-1].weight - w) < 1e-9:
            segments[-1] = Segment(segments[-1].text + ch, w)
        else:
            segments.append(Segment(ch, w))
    merged = [Segment(s.text, round(s.weight, 4)) for s in segments if s.text]
    return merged or [Segment("", 1.0)]


def plain_text(segments: list[Segment]) -> str:
    return normalize("".join(s.text for s in segments))


@dataclass(frozen=True)
class PreparedPrompt:
    """What the text encoder consumes: weighted segments of the positive and negative prompt."""

    positive: list[Segment]
    negative: list[Segment]

    @property
    def text(self) -> str:
        return plain_text(self.positive)


def prepare(prompt: str, negative: str = "", template: str = "none") -> PreparedPrompt:
    """Normalise, apply a template, parse weights (the entry point used by backends)."""
    positive = parse_weights(apply_template(normalize(prompt), template))
    return PreparedPrompt(positive=positive, negative=parse_weights(normalize(negative)))
