"""Tiny live-model configs for the tests (seconds on one CPU thread)."""

from __future__ import annotations


def tiny_config(**kw):
    from t2i_core.live.train import LiveTrainConfig
    from t2i_core.models.live_clip import LiveClipConfig
    from t2i_core.models.live_discriminator import LiveDiscriminatorConfig
    from t2i_core.models.live_generator import LiveGeneratorConfig

    base = dict(batch=8, distill_every=2, distill_batch=4, teacher_steps=2, clip_warmup=2,
                r1_every=2, checkpoint_every=2, log_every=1, anchors_k=4, data_limit=48,
                generator=LiveGeneratorConfig(cond_dim=32, width=16, inner_width=32,
                                              inner_blocks=1),
                discriminator=LiveDiscriminatorConfig(width=16, inner_width=32),
                clip=LiveClipConfig(width=16, inner_width=32, embed_dim=16))
    return LiveTrainConfig(**{**base, **kw})
