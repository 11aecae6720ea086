"""Weight-name layouts other tools write, mapped to the one the detector and diffusers read.

Old SD 1.x checkpoints (saved with transformers < 4.x, when ``CLIPTextModel`` had no
``text_model`` wrapper) name their text encoder ``cond_stage_model.transformer.embeddings.*``
instead of ``cond_stage_model.transformer.text_model.embeddings.*``. A1111 renames exactly these
prefixes when it loads (``sd_models.checkpoint_dict_replacements``), and so does kohya
(``model_util.convert_ldm_clip_checkpoint``); diffusers does not, and refuses such a file
("weights for this component appear to be missing"). SDXL merges carry the same old names
under ``conditioner.embedders.0.transformer.``.

The file is never rewritten: the scanner sees canonical names (``Header.renamed`` remembers
the stored ones) and the loader builds the renamed component from the stored tensors.
"""

from __future__ import annotations

from collections.abc import Iterable

_CLIP_PARTS = ("embeddings.", "encoder.", "final_layer_norm.")
_CLIP_ROOTS = ("cond_stage_model.transformer.", "conditioner.embedders.0.transformer.")

# (stored prefix, canonical prefix), as A1111 and kohya rename them
RENAMES: tuple[tuple[str, str], ...] = tuple(
    (root + part, root + "text_model." + part) for root in _CLIP_ROOTS for part in _CLIP_PARTS)


def canonical_name(name: str) -> str:
    for old, new in RENAMES:
        if name.startswith(old):
            return new + name[len(old):]
    return name


def renamed_names(names: Iterable[str]) -> dict[str, str]:
    """``{canonical name: stored name}`` for every name stored in an old layout."""
    out = {}
    for name in names:
        canonical = canonical_name(name)
        if canonical != name:
            out[canonical] = name
    return out
