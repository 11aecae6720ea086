"""The ceiling survey's helpers (benchmarks/finetune_ceiling.py): which file stands for an icon
name, the subject score of a theme's own icons, and the plate that puts a glyph on a folder's
silhouette."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from finetune_ceiling import plate, subject_scores, theme_icons  # noqa: E402


def test_one_file_per_icon_name_prefers_svg_then_48_px_and_skips_symbolic_and_tiny(tmp_path):
    def touch(rel: str) -> Path:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        return p

    touch("32x32/apps/calc.png")
    touch("48x48/apps/calc.png")
    svg = touch("scalable/apps/calc.svg")
    touch("16x16/apps/tiny.png")
    touch("scalable/status/calc-symbolic.svg")
    big = touch("48x48/devices/printer.png")
    (tmp_path / "48x48/devices/printer-network.png").symlink_to(big)
    (tmp_path / "48x48/devices/gone.png").symlink_to(tmp_path / "missing.png")

    icons = theme_icons(tmp_path)
    assert icons["calc"] == svg.resolve()
    assert "tiny" not in icons and "calc-symbolic" not in icons and "gone" not in icons
    assert icons["printer-network"] == big.resolve()  # a link counts, as the file it names


def test_subject_scores_are_top1_and_mean_reciprocal_rank_among_the_phrases():
    class Judge:  # image i's embedding is axis (first red value); phrase j is axis j
        def images(self, images):
            return torch.nn.functional.one_hot(torch.from_numpy(images[:, 0, 0, 0].astype(int)),
                                               4).float()

        def texts(self, phrases):
            return torch.eye(4)[: len(phrases)]

    imgs = np.zeros((4, 32, 32, 4), np.uint8)
    imgs[:, 0, 0, 0] = [0, 1, 3, 3]  # the third image looks like phrase 3, not its own 2
    top1, mrr = subject_scores(Judge(), imgs, np.array([0, 1, 2, 3]), ["a", "b", "c", "d"])
    assert top1 == 0.75
    assert abs(mrr - (1 + 1 + 0.5 + 1) / 4) < 1e-6


def test_a_plate_keeps_the_glyph_and_fills_the_folders_silhouette_with_its_colour():
    folder = np.zeros((2, 32, 32, 4), np.uint8)
    folder[:, 4:28, 4:28] = (0, 128, 255, 255)  # two blue squares
    glyph = np.zeros((1, 32, 32, 4), np.uint8)
    glyph[0, 14:18, 14:18] = (0, 0, 0, 255)  # a black dot
    out = plate(glyph, folder)
    assert tuple(out[0, 16, 16]) == (0, 0, 0, 255)  # the glyph as drawn
    assert tuple(out[0, 6, 6]) == (0, 128, 255, 255)  # the plate in the folder's colour
    assert out[0, 1, 1, 3] == 0  # outside the silhouette stays transparent
