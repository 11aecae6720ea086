"""A few real LoRA training steps with peft on a tiny SD pipeline (noise-prediction loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def train_tiny_lora(pipe, steps: int = 6, rank: int = 4, alpha: float = 8.0, lr: float = 2e-2,
                    seed: int = 0) -> float:
    """Add and train a LoRA on the UNet and the text encoder; returns the last loss."""
    from peft import LoraConfig

    torch.manual_seed(seed)
    unet, vae = pipe.unet, pipe.vae
    encoders = [m for m in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if m]
    for m in (unet, vae, *encoders):
        m.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha,
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    for te in encoders:
        te.add_adapter(LoraConfig(r=rank, lora_alpha=alpha,
                                  target_modules=["q_proj", "k_proj", "v_proj", "out_proj"]))
    params = [p for m in (unet, *encoders) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    images = torch.zeros(2, 3, 64, 64)
    images[0, 0] = 1.0  # "a red square"
    images[1, 2] = 1.0  # "a blue square"
    captions = ["a red square", "a blue square"]
    ids = pipe.tokenizer(captions, padding="max_length", max_length=77, truncation=True,
                         return_tensors="pt").input_ids
    with torch.no_grad():
        latents = vae.encode(images * 2 - 1).latent_dist.mean * vae.config.scaling_factor
    sched = pipe.scheduler
    for m in (unet, *encoders):
        m.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        noise = torch.randn_like(latents)
        t = torch.randint(0, sched.config.num_train_timesteps, (latents.shape[0],))
        noisy = sched.add_noise(latents, noise, t)
        if len(encoders) == 1:
            pred = unet(noisy, t, encoders[0](ids)[0]).sample
        else:  # SDXL: both encoders' penultimate states + pooled text and size ids
            outs = [te(ids, output_hidden_states=True) for te in encoders]
            states = torch.cat([o.hidden_states[-2] for o in outs], dim=-1)
            cond = {"text_embeds": outs[1].text_embeds,
                    "time_ids": torch.tensor([[64, 64, 0, 0, 64, 64]] * len(ids)).float()}
            pred = unet(noisy, t, states, added_cond_kwargs=cond).sample
        loss = F.mse_loss(pred, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for m in (unet, *encoders):
        m.eval()
    return float(loss.detach())
