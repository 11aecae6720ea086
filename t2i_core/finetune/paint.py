"""The active adapters' looks painted on generated pictures (after decoding): for each
picture the table its seed and prompt choose (``look.table_order``), the folder's renderer
when the adapter has one (``render.py``), and the copy guard's choice (``copy_guard.py``),
blended with the base picture by the adapter's weight (0 = the base pixels)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from t2i_core.finetune import copy_guard, render
from t2i_core.finetune.look import MIN_DETAIL, RINGS, STRENGTH, blend, stylise, table_order


def paint(picture: np.ndarray, table: np.ndarray, detail: float, renderer=None,
          rings: float = RINGS) -> np.ndarray:
    """The full look of one picture: the table painted (``stylise``), then rendered by the
    folder's renderer when the adapter has one (``render.py``)."""
    painted = stylise(picture, table, detail, rings)
    if renderer is None:
        return painted
    return render.render(renderer, picture, painted)


def choose(picture: np.ndarray, seed: int, tensors: dict[str, torch.Tensor],
           prompt: torch.Tensor | None, renderer=None,
           finish: Callable[[np.ndarray], np.ndarray] | None = None
           ) -> tuple[np.ndarray, float]:
    """The full look for one picture and the share of it that weight 1 paints. Decided at
    weight 1, so a seed keeps its table and share at every weight (the dial). ``finish``:
    what generation does to the picture after the look (the prompt's colour words), so the
    guard judges the picture the user gets ("a white square" recoloured a painted square
    into a folder's grey device)."""
    seen = finish or (lambda x: x)
    tables = tensors["look.tables"]
    detail = float(tensors.get("look.detail", torch.tensor([MIN_DETAIL]))[0])
    order = table_order(tables, seed, tensors.get("look.captions"), prompt)
    if "look.guard" not in tensors:
        return paint(picture, tables[order[0]].double().numpy(), detail, renderer), STRENGTH
    best: tuple[float, np.ndarray | None, float] = (-1.0, None, STRENGTH)
    # the seed's tables without their rings first (RINGS), then with them: a flat painting
    # of a flat theme's subject can be a copy where the ringed one is not
    tries = [(i, RINGS) for i in order[:copy_guard.GUARD_TRIES]]
    if RINGS < 1:
        tries += [(i, 1.0) for i in order[:copy_guard.GUARD_TRIES]]
    for i, rings in tries:
        full = paint(picture, tables[i].double().numpy(), detail, renderer, rings)
        copy, d = copy_guard.is_copy(seen(blend(picture, full, STRENGTH)), tensors)
        if not copy:
            return full, STRENGTH
        if d > best[0]:
            best = (d, full, STRENGTH)
    full = best[1]
    for keep in copy_guard.GUARD_KEEP:  # no table passes: keep more of the base drawing
        copy, d = copy_guard.is_copy(seen(blend(picture, full, STRENGTH * keep)),
                                       tensors)
        if not copy:
            return full, STRENGTH * keep
        if d > best[0]:
            best = (d, full, STRENGTH * keep)
    # even the base drawing is that near a folder image: the farthest of what was tried
    return best[1], best[2]


def apply(pixels: list[np.ndarray], seeds: list[int], looks: list,
          prompt: torch.Tensor | None = None,
          finish: Callable[[np.ndarray], np.ndarray] | None = None) -> list[np.ndarray]:
    """Each picture painted with the active adapters' looks: ``looks`` holds
    (``look.*`` tensors, weight) pairs, applied one after the other, weight 0 skipped.
    ``prompt``: the prompt's text embedding, to choose tables by subject; ``finish``: what
    generation does to a picture afterwards, for the copy guard (``choose``)."""
    out = list(pixels)
    for tensors, weight in looks:
        if weight <= 0 or "look.tables" not in tensors:
            continue
        renderer = render.load(tensors)
        mixed = []
        for p, s in zip(out, seeds, strict=True):
            full, share = choose(p, s, tensors, prompt, renderer, finish)
            mixed.append(blend(p, full, share * weight))
        out = mixed
    return out
