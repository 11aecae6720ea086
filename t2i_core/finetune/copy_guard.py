"""The copy guard of a folder's look.

A sample nearer a folder image than the folder's images are to each other
(the 5th percentile of their pair distances, over white at 32 px: issue 16's "copy") takes
the next table, up to GUARD_TRIES tables (all of a 20-image folder), then keeps more of the
base drawing, at last all of it. The folder
images are not in the adapter: only GUARD_DIMS random projections of each (a fixed Gaussian
matrix, Johnson-Lindenstrauss: distances kept within a few per cent; 256 numbers instead
of 3,072, which keep distances, not the picture); the threshold is raised by GUARD_MARGIN
for the projection's error.
"""

from __future__ import annotations

import numpy as np
import torch

GUARD_DIMS = 256
GUARD_TRIES = 20  # every table of a 20-image folder (docs/finetune.md "Session 8")
GUARD_MARGIN = 1.05
# shares of the look tried when no table passes; 0: the base drawing, when it alone is no
# copy (a black glyph whose every painting came near a folder image)
GUARD_KEEP = (0.75, 0.5, 0.25, 0.0)


def projection(pixels: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0x6A4D)
    return torch.randn(pixels, GUARD_DIMS, generator=g) / GUARD_DIMS ** 0.5


def on_white(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(images)).float() / 255.0
    return (x[..., :3] * x[..., 3:] + (1 - x[..., 3:])).reshape(len(x), -1)


def guard(images: np.ndarray) -> dict[str, torch.Tensor]:
    """The adapter's ``look.guard`` (projected folder images over white) and
    ``look.guard_threshold`` (their 5th-percentile pair distance, measured exactly)."""
    f = on_white(images)
    if len(f) < 2:
        return {}
    off = torch.cdist(f, f)[~torch.eye(len(f), dtype=torch.bool)]
    return {"look.guard": (f @ projection(f.shape[1])).contiguous(),
            "look.guard_threshold": torch.tensor([float(torch.quantile(off, 0.05))])}


def is_copy(picture: np.ndarray, tensors: dict[str, torch.Tensor]) -> tuple[bool, float]:
    f = on_white(picture[None])
    d = float(torch.cdist(f @ projection(f.shape[1]), tensors["look.guard"].float()).min())
    return d < GUARD_MARGIN * float(tensors["look.guard_threshold"][0]), d
