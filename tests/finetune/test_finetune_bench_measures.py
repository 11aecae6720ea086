"""The fine-tuning benchmark's extra measures (benchmarks/finetune_eval.py, bench_finetune.py):
the judge's mean reciprocal rank, and icons read as bytes measured at the model's 32 px."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_finetune import folder_at_32_bytes  # noqa: E402
from finetune_eval import FolderMeasure  # noqa: E402


class _Judge:
    """An encoder whose image embedding is the one-hot of the image's first pixel's red
    value, and whose text embedding is the one-hot of the prompt's number (other texts, such
    as the folder subjects: axis 7): the rank of each sample's own prompt is set by the test."""

    def images(self, images: np.ndarray) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.from_numpy(images[:, 0, 0, 0].astype(int)),
                                           8).float()

    def texts(self, prompts: list[str]) -> torch.Tensor:
        ids = [int(p) if p.isdigit() else 7 for p in prompts]  # other texts: a spare axis
        return torch.nn.functional.one_hot(torch.tensor(ids), 8).float()


def _images(reds: list[int]) -> np.ndarray:
    imgs = np.zeros((len(reds), 32, 32, 4), np.uint8)
    imgs[:, 0, 0, 0] = reds
    imgs[..., 3] = 255
    return imgs


def test_mean_reciprocal_rank_counts_every_samples_rank():
    meas = FolderMeasure(_Judge(), _images([0, 1, 2]))
    prompts = ["0", "1", "2", "3"]
    right = _images([0, 0, 1, 1, 2, 2, 3, 3])  # 2 seeds per prompt, each its own prompt
    assert meas.mean_reciprocal_rank(right, prompts, seeds=2) == 1.0
    # three samples match another prompt: their own prompt ties with the rest at 0, so it
    # ranks behind the one they match (rank 2): ranks 1 2 | 1 1 | 1 2 | 1 2 -> 6.5 / 8
    half = _images([0, 1, 1, 1, 2, 0, 3, 0])
    assert abs(meas.mean_reciprocal_rank(half, prompts, seeds=2) - 6.5 / 8) < 1e-6
    assert meas.all(right, prompts, 2)["mean_reciprocal_rank"] == 1.0


def test_icons_given_as_bytes_are_measured_at_32_px_and_unreadable_ones_are_left_out():
    def png(size: int, colour: tuple) -> bytes:
        buf = io.BytesIO()
        Image.new("RGBA", (size, size), colour).save(buf, format="PNG")
        return buf.getvalue()

    out = folder_at_32_bytes([png(48, (200, 0, 0, 255)), b"not an image",
                              png(64, (0, 0, 200, 255))])
    assert out.shape == (2, 32, 32, 4) and out.dtype == np.uint8
    assert out[0, 16, 16, 0] > 150 and out[1, 16, 16, 2] > 150


def test_the_bench_refuses_an_encoder_path_that_does_not_exist(tmp_path: Path):
    from finetune_eval import load_encoder

    missing = tmp_path / "no_encoder.safetensors"
    try:
        load_encoder(missing)
    except FileNotFoundError as e:
        assert str(missing) in str(e) and "--encoder" in str(e)
    else:
        raise AssertionError("a missing encoder file must be an error, not the shipped judge")


def test_the_theme_calibrated_copy_threshold_comes_from_the_themes_other_icons():
    folder = np.zeros((3, 32, 32, 4), np.uint8)
    folder[0, 24:, :8] = (200, 0, 0, 255)  # three images far apart (over white)
    folder[1, 8:24, 8:24] = (0, 0, 0, 255)
    folder[2, 16:, 16:] = (0, 0, 255, 255)
    meas = FolderMeasure(_Judge(), folder)
    theme = np.repeat(folder[1:2], 20, axis=0).copy()  # 20 other icons, each 1 px off image 1
    for i in range(20):
        theme[i, i % 8 + 8, 8] = (255, 255, 255, 255)
    dist, which = meas.nearest(theme)
    assert (which == 1).all() and float(dist.max()) < meas.thresholds["white"]
    assert abs(meas.theme_threshold(theme) - float(torch.quantile(dist, 0.05))) < 1e-6
