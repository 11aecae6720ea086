"""``t2i eval --images``: generated images are made once, saved, and re-scored from the file
(the same images read by another evaluation encoder)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from t2i_core.eval.evaluate import cached_generation


class CountingBackend:
    """Draws each request's seed into its pixels, and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, request):
        self.calls += 1
        images = [np.full((32, 32, 4), (request.seed + k) % 256, np.uint8)
                  for k in range(request.count)]
        return SimpleNamespace(images=images)


def test_images_are_generated_once_then_read_back(tmp_path):
    path, backend = tmp_path / "gen.npy", CountingBackend()
    first = cached_generation(path, backend, ["a cat", "a dog"], 3, 20, 3.0)
    assert backend.calls == 2 and path.exists() and first.shape == (6, 32, 32, 4)
    again = cached_generation(path, backend, ["a cat", "a dog"], 3, 20, 3.0)
    assert backend.calls == 2 and np.array_equal(again, first)
    with pytest.raises(ValueError, match="gen.npy holds 6"):
        cached_generation(path, backend, ["a cat"], 4, 20, 3.0)  # another protocol
    fresh = cached_generation(None, backend, ["a cat", "a dog"], 3, 20, 3.0)
    assert backend.calls == 4 and np.array_equal(fresh, first)
