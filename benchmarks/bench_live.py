"""Live mode speed: the one-step live model vs the multi-step built-in model, side by side.

    python benchmarks/bench_live.py [--n 40] [--threads 1] [--builtin-steps 20]

Measures on this machine, one worker process (``python -m worker --backend builtin --backend
live``), batch 1, 128 px (the panel's default size), calls interleaved so machine load hits
both alike:
1. images/s and latency through the worker: model ``live`` vs model ``builtin`` (default
   steps and CFG), and the ratio; the issue's targets are >= 20 images/s and <= 150 ms from
   keystroke to preview (what a request costs the panel, minus its debounce);
2. "typing": a new request per keystroke of a prompt, each cancelling the previous (the
   panel's last-request-wins), time from the last keystroke to its preview;
3. int8 dynamic quantization (torch.ao, Linear layers) in-process: generator-only and full
   request speed, and quality as the difference from float32 output (max |Δ| of the latent,
   mean |Δ| of the 8-bit pixels) on the same seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
os.environ.update(ENV)

from worker.client import WorkerClient  # noqa: E402

PROMPTS = ["a red apple", "house icon", "smiling face emoji", "a blue star", "cat icon",
           "sun", "a bicycle", "heart emoji"]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def through_worker(n: int, builtin_steps: int, threads: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    client = WorkerClient(connection_file=tmp / "none.json", env=ENV, worker_args=[
        "--backend", "builtin", "--backend", "live", "--no-history", "--threads",
        str(threads), "--progress-interval", "1"])
    try:
        common = {"width": 128, "height": 128, "count": 1}
        for model in ("live", "builtin"):  # warm-up: loads, first-call allocations
            client.generate(prompt="warm up", model=model, steps=2, timeout=300, **common)
        times: dict[str, list[float]] = {"live": [], "builtin": []}
        for i in range(n):
            p = PROMPTS[i % len(PROMPTS)]
            t = time.perf_counter()
            client.generate(prompt=p, seed=i, model="live", timeout=60, **common)
            times["live"].append(time.perf_counter() - t)
            if i % 4 == 0:  # the slow model fewer times: same interleaving, shorter run
                t = time.perf_counter()
                client.generate(prompt=p, seed=i, model="builtin", steps=builtin_steps,
                                guidance=3.0, timeout=120, **common)
                times["builtin"].append(time.perf_counter() - t)
        live, multi = statistics.median(times["live"]), statistics.median(times["builtin"])
        print(f"through the worker, batch 1, 128 px, {threads} thread(s):")
        print(f"  live (1 step)            {ms(live):>10}  {1 / live:7.1f} images/s  "
              f"p90 {ms(sorted(times['live'])[int(0.9 * len(times['live']))])}")
        print(f"  builtin ({builtin_steps} steps, CFG 3) {ms(multi):>10}  {1 / multi:7.1f} "
              f"images/s")
        print(f"  ratio live/builtin: {multi / live:.1f}x faster")

        # typing: one request per keystroke, each cancelling the one before it
        word = "a smiling sun emoji"
        lags = []
        for rep in range(3):
            req = None
            for k in range(1, len(word) + 1):
                if req is not None:
                    req.cancel()
                t_key = time.perf_counter()
                req = client.submit_generate(prompt=word[:k], seed=rep, model="live", **common)
                time.sleep(0.03)  # a fast typist: ~33 keys/s, no debounce
            req.result(60)
            lags.append(time.perf_counter() - t_key)
        print(f"  typing '{word}' at 33 keys/s, last-request-wins: last keystroke -> "
              f"preview {ms(statistics.median(lags))} (median of 3)")
    finally:
        client.close()


def quantized(n: int, threads: int) -> None:
    import torch

    from t2i_core.backends.base import GenerateRequest
    from t2i_core.backends.live import LiveBackend, LiveModel

    torch.set_num_threads(threads)
    fp = LiveBackend()
    q = LiveBackend(quantize=True)
    q._model = LiveModel(q.live_path, q.builtin_path, quantize=True)  # its own int8 MiniLM
    g32, g8 = fp.model.generator, q.model.generator
    cfg = g32.cfg
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(n, cfg.latent_channels, 8, 8, generator=gen)
    anchor = torch.randn(n, cfg.latent_channels, 8, 8, generator=gen)
    text = torch.nn.functional.normalize(torch.randn(n, 384, generator=gen), dim=-1)

    def per_image(g) -> float:
        samples = []
        with torch.inference_mode():
            for i in range(n):
                t = time.perf_counter()
                g(noise[i:i + 1], text[i:i + 1], anchor[i:i + 1])
                samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    per_image(g32), per_image(g8)  # warm-up
    t32, t8 = per_image(g32), per_image(g8)
    with torch.inference_mode():
        dz = (g32(noise, text, anchor) - g8(noise, text, anchor)).abs().max().item()
    full: dict[str, tuple[list, list]] = {"float32": ([], []), "int8": ([], [])}
    diffs = []
    for i in range(n):  # interleaved, so machine load hits both alike
        for name, backend in (("float32", fp), ("int8", q)):
            req = GenerateRequest(prompt=PROMPTS[i % len(PROMPTS)], seed=i, model="live",
                                  width=32, height=32)
            t = time.perf_counter()
            full[name][1].append(backend.generate(req).images[0])
            full[name][0].append(time.perf_counter() - t)
    full = {k: (statistics.median(v[0]), v[1]) for k, v in full.items()}
    for a, b in zip(full["float32"][1], full["int8"][1], strict=True):
        diffs.append(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
    with torch.inference_mode():
        a = fp.model.encoder.encode(PROMPTS).embeddings
        b = q.model.encoder.encode(PROMPTS).embeddings
    cos = (a * b).sum(-1)
    print(f"int8 dynamic quantization (torch.ao, Linear layers of MiniLM and the generator), "
          f"in-process, batch 1, "
          f"{threads} thread(s):")
    print(f"  generator only: float32 {ms(t32)}, int8 {ms(t8)}, ratio {t32 / t8:.2f}x")
    print(f"  full request (encode + retrieve + generate + decode, 32 px): float32 "
          f"{ms(full['float32'][0])}, int8 {ms(full['int8'][0])}, ratio "
          f"{full['float32'][0] / full['int8'][0]:.2f}x")
    print(f"  quality: max |latent diff| {dz:.4f} (latents have unit std); mean |pixel diff| "
          f"{statistics.mean(diffs):.2f} / 255; MiniLM int8 vs float32 embedding cosine "
          f"{cos.min():.3f}-{cos.max():.3f}")


def stages(n: int, threads: int) -> None:
    """Where one float32 request's time goes (in-process, batch 1, 128 px)."""
    import torch

    from t2i_core.backends.builtin import _resize_rgba
    from t2i_core.backends.live import LiveBackend
    from t2i_core.models.autoencoder import to_pixels
    from t2i_core.prompt import prepare

    torch.set_num_threads(threads)
    m = LiveBackend().model
    cfg = m.generator.cfg
    parts: dict[str, list[float]] = {k: [] for k in ("encode", "retrieve", "generate",
                                                     "decode", "resize")}
    with torch.inference_mode():
        for i in range(n + 3):
            t0 = time.perf_counter()
            q = m.encoder.encode_weighted([prepare(PROMPTS[i % len(PROMPTS)], "").positive])
            t1 = time.perf_counter()
            scores = m.index.scores(q.embeddings[0])
            pick = m.index._draw(scores, torch.ones_like(scores, dtype=torch.bool), 1,
                                 np.random.default_rng(i), 16, 0.05)
            anchor = m.index.latent(pick)
            t2 = time.perf_counter()
            z = m.generator(torch.randn(1, cfg.latent_channels, 8, 8), q.embeddings, anchor)
            t3 = time.perf_counter()
            px = to_pixels(m.decode(z)).numpy()
            t4 = time.perf_counter()
            _resize_rgba(px[0], 128)
            t5 = time.perf_counter()
            if i >= 3:  # after warm-up
                for k, a, b in (("encode", t0, t1), ("retrieve", t1, t2), ("generate", t2, t3),
                                ("decode", t3, t4), ("resize", t4, t5)):
                    parts[k].append(b - a)
    print("one request by stage (float32, in-process, 128 px): " + ", ".join(
        f"{k} {ms(statistics.median(v))}" for k, v in parts.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--builtin-steps", type=int, default=20)
    ap.add_argument("--skip-worker", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_worker:
        through_worker(args.n, args.builtin_steps, args.threads)
    stages(args.n, args.threads)
    quantized(args.n, args.threads)


if __name__ == "__main__":
    main()
