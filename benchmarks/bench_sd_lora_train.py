"""SD LoRA fine-tuning speed: our job (``t2i_core.finetune.job.train`` with the diffusers
backend's ``DiffusersTrainable``) against the textbook diffusers + peft loop, side by side.

    python benchmarks/bench_sd_lora_train.py                 # tiny and small SD 1.5 on the CPU
    python benchmarks/bench_sd_lora_train.py --arch small-sdxl --steps 10

Both get the same random-weight model (a diffusers folder, built as in bench_diffusers.py), the
same folder of images, batch, rank, resolution, torch threads. The baseline is the loop of
diffusers' ``examples/text_to_image/train_text_to_image_lora.py`` reduced to its core: each
step encodes the batch with the VAE and the text encoder, adds DDPM noise, UNet forward and
backward, AdamW. Ours is the whole job: latents cached once (with mirrored copies), progress,
LR schedule, gradient clipping, a checkpoint at the end of the run. Prints steps/s of each
(after 2 warm-up steps), the ratio ours / baseline (> 1: we are faster), and the one-off
preparation time (VAE encoding of the folder) that buys it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "diffusers"))
os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error"})

# arch -> (training resolution, batch); "tiny" is the tests' model
CONFIGS = {"tiny": (64, 2), "small-sd15": (256, 1), "small-sdxl": (256, 1)}
WARMUP = 2


def build(arch: str, models: Path) -> str:
    if arch == "tiny":
        import tiny_models as tm

        tm.save_folder(tm.build("sd1", models.parent / "tok"), models / "tiny")
        return "tiny"
    from bench_diffusers import build_model

    build_model(arch, models / arch)
    return arch


def make_folder(dest: Path, n: int = 8) -> Path:
    import numpy as np
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        a = np.full((320, 320, 3), 255, np.uint8)
        x, y = rng.integers(0, 200, size=2)
        a[y:y + 120, x:x + 120] = rng.integers(0, 255, size=3)
        Image.fromarray(a).save(dest / f"square_{i}.png")
        (dest / f"square_{i}.txt").write_text(f"a square, colour {i}")
    return dest


def ours(models: Path, model: str, folder: Path, steps: int, batch: int,
         resolution: int) -> tuple[float, float]:
    """(steps/s after the warm-up, seconds before the first step)."""
    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    backend = DiffusersBackend(models_dir=models, cache_dir=models.parent / "cache",
                               loras_dir=models.parent / f"loras-{time.monotonic_ns()}",
                               device="cpu", train_resolution=resolution)
    backend._get(model)  # loading is not training
    times: list[float] = []
    t0 = time.perf_counter()
    train(backend, TrainRequest(folder=str(folder), name="bench", model=model, steps=steps,
                                batch=batch, rank=8, alpha=8.0, learning_rate=1e-4,
                                sample_every=0, checkpoint_every=10**5),
          lambda p: times.append(time.perf_counter()) if p.phase == "training" else None)
    prep = times[0] - t0 - (times[1] - times[0])  # minus one step's own time
    return (len(times) - 1 - WARMUP) / (times[-1] - times[WARMUP]), prep


def baseline(models: Path, model: str, folder: Path, steps: int, batch: int,
             resolution: int) -> float:
    """The textbook loop (see the module doc); steps/s after the warm-up."""
    import diffusers
    import numpy as np
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig
    from PIL import Image

    index = (models / model / "model_index.json").read_text()
    cls = "StableDiffusionXLPipeline" if "XL" in index else "StableDiffusionPipeline"
    pipe = getattr(diffusers, cls).from_pretrained(str(models / model), local_files_only=True)
    xl = cls.startswith("StableDiffusionXL")
    unet, vae = pipe.unet, pipe.vae
    for m in (unet, vae, pipe.text_encoder, getattr(pipe, "text_encoder_2", None)):
        if m is not None:
            m.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=8, lora_alpha=8, target_modules=["to_q", "to_k", "to_v",
                                                                   "to_out.0"]))
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    sched = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)
    files = sorted(folder.glob("*.png"))
    pix = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB").resize(
        (resolution, resolution))).copy()).permute(2, 0, 1).float() / 127.5 - 1 for f in files])
    captions = [f.with_suffix(".txt").read_text() for f in files]
    unet.train()
    times = []
    for step in range(steps):
        rows = np.random.default_rng(step).integers(0, len(files), size=batch)
        with torch.no_grad():
            latents = vae.encode(pix[rows]).latent_dist.sample() * vae.config.scaling_factor
            if xl:
                text, _, pooled, _ = pipe.encode_prompt([captions[i] for i in rows],
                                                        do_classifier_free_guidance=False)
                r = resolution
                extra = {"text_embeds": pooled,
                         "time_ids": torch.tensor([[r, r, 0, 0, r, r]] * batch).float()}
            else:
                text, _ = pipe.encode_prompt([captions[i] for i in rows], "cpu", 1, False)
                extra = None
        noise = torch.randn_like(latents)
        t = torch.randint(0, sched.config.num_train_timesteps, (batch,))
        pred = unet(sched.add_noise(latents, noise, t), t, text,
                    added_cond_kwargs=extra).sample
        loss = F.mse_loss(pred, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter())
    return (len(times) - 1 - WARMUP) / (times[-1] - times[WARMUP])


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", nargs="+", default=["tiny", "small-sd15"], choices=CONFIGS)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_folder(root / "folder")
        for arch in args.arch:
            resolution, batch = CONFIGS[arch]
            model = build(arch, root / "models")
            ours_sps, prep = ours(root / "models", model, folder, args.steps, batch, resolution)
            base_sps = baseline(root / "models", model, folder, args.steps, batch, resolution)
            print(f"{arch:11s} {resolution} px batch {batch}: ours {ours_sps:.2f} steps/s "
                  f"({ours_sps * batch:.2f} images/s), baseline {base_sps:.2f} steps/s, "
                  f"ratio {ours_sps / base_sps:.2f}; preparation {prep:.1f} s for "
                  f"{len(list(folder.glob('*.png')))} images")


if __name__ == "__main__":
    main()
