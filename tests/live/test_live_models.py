"""The live model's networks: shapes, gradients, augmentation, and the alignment model is not
the evaluation encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from t2i_core.live.augment import diff_augment
from t2i_core.models.live_clip import LiveClip, LiveClipConfig, contrastive_loss
from t2i_core.models.live_discriminator import LiveDiscriminator, LiveDiscriminatorConfig
from t2i_core.models.live_generator import LiveGenerator, LiveGeneratorConfig

REPO = Path(__file__).resolve().parents[2]
EVAL_ENCODER = REPO / "t2i_core" / "weights" / "eval_encoder.safetensors"


def unit(n: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, 384), dim=-1)


@pytest.mark.parametrize("anchor", [True, False])
def test_generator_maps_noise_and_text_to_a_latent(anchor: bool):
    g = LiveGenerator(LiveGeneratorConfig(anchor=anchor))
    noise = torch.randn(3, 8, 8, 8)
    out = g(noise, unit(3), torch.randn(3, 8, 8, 8) if anchor else None)
    assert out.shape == (3, 8, 8, 8) and torch.isfinite(out).all()
    if anchor:
        with pytest.raises(ValueError, match="anchor"):
            g(noise, unit(3))


def test_generator_output_depends_on_text_once_trained_a_little():
    torch.manual_seed(0)
    g = LiveGenerator(LiveGeneratorConfig(width=16, inner_width=32, inner_blocks=1, cond_dim=32))
    noise, anchor = torch.randn(4, 8, 8, 8), torch.randn(4, 8, 8, 8)
    text, target = unit(4), torch.randn(4, 8, 8, 8)
    opt = torch.optim.Adam(g.parameters(), lr=3e-3)
    first = None
    for _ in range(40):  # fit 4 (text, target) pairs that share noise and anchor
        loss = torch.nn.functional.mse_loss(g(noise[:1].expand(4, -1, -1, -1), text,
                                              anchor[:1].expand(4, -1, -1, -1)), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first  # only the text tells the 4 apart: FiLM carries it


def test_discriminator_scores_each_pair():
    d = LiveDiscriminator(LiveDiscriminatorConfig())
    z = torch.randn(5, 8, 8, 8, requires_grad=True)
    score = d(z, unit(5))
    assert score.shape == (5,)
    score.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    other = d(z.detach(), unit(5))  # the projection term: other captions, other scores
    assert not torch.allclose(score.detach(), other)


def test_clip_logits_and_loss_learn_pairs():
    torch.manual_seed(0)
    clip = LiveClip(LiveClipConfig(width=16, inner_width=32, embed_dim=16))
    z, text = torch.randn(16, 8, 8, 8), unit(16)
    assert clip.logits(z, text).shape == (16, 16)
    opt = torch.optim.Adam(clip.parameters(), lr=3e-3)
    first = contrastive_loss(clip.logits(z, text)).item()
    for _ in range(30):
        loss = contrastive_loss(clip.logits(z, text))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_contrastive_loss_ignores_same_caption_negatives():
    logits = torch.tensor([[5.0, 5.0], [5.0, 5.0]])
    same = torch.ones(2, 2, dtype=torch.bool)
    assert contrastive_loss(logits, same).item() == pytest.approx(0.0, abs=1e-6)
    assert contrastive_loss(logits).item() == pytest.approx(0.6931, abs=1e-3)


def test_diff_augment_is_differentiable_and_keeps_shape():
    torch.manual_seed(0)
    z = torch.randn(6, 8, 8, 8, requires_grad=True)
    bg = torch.full((8,), -2.0)
    out = diff_augment(z, bg, noise=0.0, p_cutout=1.0)
    assert out.shape == z.shape
    out.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    # each cutout covers a 4x4 square of background cells
    assert ((out.detach() == -2.0).all(dim=1).sum(dim=(1, 2)) >= 16).all()


def test_diff_augment_same_policy_for_same_rng_state():
    z = torch.randn(4, 8, 8, 8)
    torch.manual_seed(3)
    a = diff_augment(z, torch.zeros(8))
    torch.manual_seed(3)
    b = diff_augment(z, torch.zeros(8))
    assert torch.equal(a, b)


def test_alignment_model_is_not_the_evaluation_encoder(tiny_live_weights: Path):
    """No tensor of the loss's alignment model equals one of the evaluation encoder, and the
    live training code never loads the evaluation file."""
    from safetensors.torch import load_file

    assert EVAL_ENCODER.is_file()
    eval_tensors = load_file(str(EVAL_ENCODER))
    ckpt = load_file(str(tiny_live_weights / "run" / "live.ckpt.safetensors"))
    clip = {k: v for k, v in ckpt.items() if k.startswith("model.clip.")}
    assert clip
    default = LiveClip(LiveClipConfig()).state_dict()
    for tensors in (clip, default):
        for v in tensors.values():
            for e in eval_tensors.values():
                if e.shape == v.shape and e.numel() > 1:
                    assert not torch.allclose(e.float(), v.float())
    # the training code never names the evaluation encoder (only `t2i live eval`, in cli.py,
    # uses it, to measure)
    training = [p for p in (REPO / "t2i_core" / "live").glob("*.py") if p.name != "cli.py"]
    assert len(training) >= 5
    for path in training:
        assert "eval_encoder" not in path.read_text() and "clip_encoder" not in path.read_text()
