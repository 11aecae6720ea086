"""Text data augmentation for training captions.

Icon captions are short and formulaic ("home icon", "house emoji"), while users type
"a cozy little house". Augmenting captions teaches the generator that many phrasings mean the
same drawing:

- word replace: a word becomes one of the item's synonyms/tags ("house" -> "home");
- word delete: drop a word (never the last one);
- word insert: add a neutral modifier ("a", "simple", "cute", "drawing of", ...);
- tag shuffle: "house emoji, building, home" with the tags in random order;
- style drop: remove the style noun ("icon", "emoji") so plain prompts work;
- caption dropout: the empty caption (handled by the trainer, which also drops retrieval
  neighbours, to learn the unconditional branch for classifier-free guidance).
"""

from __future__ import annotations

import random

FILLERS = ["a", "an", "the", "simple", "small", "cute", "drawing of", "picture of", "symbol",
           "little", "big", "flat", "nice", "single", "illustration of", "clipart"]
STYLE_NOUNS = ("color icon", "icon", "emoji")


def word_replace(words: list[str], synonyms: list[str], rng: random.Random) -> list[str]:
    if not words or not synonyms:
        return words
    i = rng.randrange(len(words))
    return words[:i] + rng.choice(synonyms).split() + words[i + 1:]


def word_delete(words: list[str], rng: random.Random) -> list[str]:
    if len(words) < 2:
        return words
    i = rng.randrange(len(words))
    return words[:i] + words[i + 1:]


def word_insert(words: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(words) + 1)
    return words[:i] + rng.choice(FILLERS).split() + words[i:]


def tag_shuffle(caption: str, tags: list[str], rng: random.Random, max_tags: int = 4) -> str:
    picked = rng.sample(tags, min(len(tags), rng.randint(1, max_tags))) if tags else []
    parts = [caption, *picked]
    rng.shuffle(parts)
    return ", ".join(parts)


def drop_style(caption: str) -> str:
    for noun in STYLE_NOUNS:
        if caption.endswith(" " + noun):
            return caption[: -len(noun) - 1]
    return caption


def augment(caption: str, alt: list[str], rng: random.Random) -> str:
    """One random augmentation chain of a caption; the result is never empty."""
    synonyms = [a for a in alt if a and a != caption]
    text = drop_style(caption) if rng.random() < 0.3 else caption
    words = text.split()
    for op in rng.sample(["replace", "delete", "insert"], rng.randint(1, 2)):
        if op == "replace" and rng.random() < 0.7:
            words = word_replace(words, synonyms, rng)
        elif op == "delete" and rng.random() < 0.5:
            words = word_delete(words, rng)
        elif op == "insert":
            words = word_insert(words, rng)
    text = " ".join(words) or caption
    if synonyms and rng.random() < 0.35:
        text = tag_shuffle(text, synonyms, rng)
    return text
