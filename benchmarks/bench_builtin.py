"""Speed of the built-in model against the plain pixel-space baseline, side by side.

    python benchmarks/bench_builtin.py [--steps 20] [--guidance 3] [--repeats 3]

Measures, in one process on this machine:
- model load: MiniLM + built-in weights (and the import of torch/transformers separately);
- cold start in a fresh process (python start, imports, load, ready to generate): with the
  native MiniLM (the default) vs transformers' BertModel (the baseline), and the ratio;
- one image at the default settings (20 steps, CFG 3, 128 px) after load;
- images/s for batches of 1, 4 and 16: ours (retrieval + latent flow transformer + decoder)
  vs the pixel-space UNet baseline (t2i_core/models/pixel_unet.py) at the same steps, CFG and
  text encoding, and the ratio. Timings use the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
t_import = time.perf_counter()
import torch  # noqa: E402

from t2i_core.backends.base import GenerateRequest  # noqa: E402
from t2i_core.backends.builtin import BuiltinBackend, BuiltinModel  # noqa: E402
from t2i_core.models.autoencoder import to_pixels  # noqa: E402
from t2i_core.models.pixel_unet import PixelUNet  # noqa: E402
from t2i_core.sampling import sample  # noqa: E402
from t2i_core.text_encoder import TextEncoder  # noqa: E402

IMPORT_S = time.perf_counter() - t_import


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


COLD_START = """
import time
from t2i_core.backends.builtin import BuiltinBackend, BuiltinModel
from t2i_core.text_encoder import TextEncoder
backend = BuiltinBackend()
backend._model = BuiltinModel(backend.path, TextEncoder(impl="{impl}"))
backend.models()
"""


def cold_start(impl: str, repeats: int) -> float:
    """Seconds from starting a Python process to a loaded model (median of ``repeats``)."""
    return median_time(lambda: subprocess.run([sys.executable, "-c", COLD_START.format(
        impl=impl)], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}), repeats)


def baseline_generate(unet: PixelUNet, encoder: TextEncoder, prompt: str, batch: int,
                      steps: int, guidance: float) -> torch.Tensor:
    with torch.inference_mode():
        text = encoder.encode([prompt]).embeddings.expand(batch, -1)
        empty = encoder.encode([""]).embeddings.expand(batch, -1)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            v = unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([text, empty]))
            v_c, v_u = v.chunk(2)
            return v_u + guidance * (v_c - v_u)

        x = sample(velocity, torch.randn(batch, 4, 32, 32), steps)
        return to_pixels(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weights-dir", default=None)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"import torch + t2i_core + transformers-free modules: {IMPORT_S:.2f} s")

    t = time.perf_counter()
    encoder = TextEncoder()
    t_enc = time.perf_counter() - t
    backend = BuiltinBackend(args.weights_dir)
    t = time.perf_counter()
    backend._model = BuiltinModel(backend.path, encoder)
    t_weights = time.perf_counter() - t
    print(f"model load: text encoder {t_enc:.2f} s + built-in weights {t_weights:.2f} s = "
          f"{t_enc + t_weights:.2f} s")

    native, reference = cold_start("native", args.repeats), cold_start("transformers",
                                                                      args.repeats)
    print(f"cold start to a loaded model: native MiniLM {native:.2f} s, transformers "
          f"BertModel {reference:.2f} s, ratio {reference / native:.2f}x")

    prompt = "a red apple"
    backend.generate(GenerateRequest(prompt=prompt, steps=2))  # warm-up
    one = median_time(lambda: backend.generate(GenerateRequest(
        prompt=prompt, steps=args.steps, guidance=args.guidance)), args.repeats)
    print(f"one image, default settings ({args.steps} steps, CFG {args.guidance}, 128 px): "
          f"{one:.3f} s")

    unet = PixelUNet().eval()
    n_unet = sum(p.numel() for p in unet.parameters()) / 1e6
    n_ours = sum(p.numel() for p in backend.model.denoiser.parameters()) / 1e6
    print(f"denoiser params: ours {n_ours:.1f}M, pixel baseline {n_unet:.1f}M")
    print(f"{'batch':>5} {'ours img/s':>11} {'baseline img/s':>15} {'ratio':>6}")
    for batch in (1, 4, 16):
        ours = median_time(lambda b=batch: backend.generate(GenerateRequest(
            prompt=prompt, count=b, steps=args.steps, guidance=args.guidance, width=32,
            height=32)), args.repeats)
        base = median_time(lambda b=batch: baseline_generate(
            unet, encoder, prompt, b, args.steps, args.guidance), args.repeats)
        print(f"{batch:>5} {batch / ours:>11.2f} {batch / base:>15.2f} {base / ours:>6.2f}x")


if __name__ == "__main__":
    main()
