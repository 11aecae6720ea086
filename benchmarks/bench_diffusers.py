"""Our worker (``--backend diffusers``) against a plain diffusers pipeline, side by side.

    python benchmarks/bench_diffusers.py                    # small SD1.5 + SDXL on the CPU
    python benchmarks/bench_diffusers.py --arch sd15 sdxl   # full-size architectures (GPU)

Both sides get the same random-weight model (saved as a diffusers folder; random weights give
true timings), the same scheduler (Euler), steps, size, guidance, seed and torch threads, and
each runs in its own process so that peak memory is comparable (VmHWM for the CPU, the
allocator's peak for CUDA). Ours is the whole path a user's request takes: socket, queue,
backend, progress events with previews, the image back over the socket. Rounds alternate so
that load from other processes hits both alike. Prints the throughput ratio (diffusers' time
/ ours: >= 1 means we are as fast; target >= 0.98) from medians and from the best calls, the
ratio of CPU seconds per image of the two processes (steadier than wall time on a shared
machine), and the peak memory ratio (ours / diffusers).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
       "DIFFUSERS_VERBOSITY": "error"}
os.environ.update(ENV)

# arch -> (family, pipeline, size, steps, overrides); "small" fit a 2-core CPU
ARCHS = {
    "small-sd15": ("sd1", "StableDiffusionPipeline", 256, 10, {
        "unet": {"block_out_channels": [64, 128, 192, 256], "layers_per_block": 1,
                 "cross_attention_dim": 256},
        "text_encoder": {"hidden_size": 256, "intermediate_size": 1024,
                         "num_hidden_layers": 4, "num_attention_heads": 4},
        "vae": {"block_out_channels": [32, 64, 64, 64], "layers_per_block": 1}}),
    "small-sdxl": ("sdxl", "StableDiffusionXLPipeline", 256, 10, {
        "unet": {"block_out_channels": [64, 128, 256], "layers_per_block": 1,
                 "cross_attention_dim": 256 + 320, "transformer_layers_per_block": [1, 1, 2],
                 "attention_head_dim": [1, 2, 4], "addition_time_embed_dim": 32,
                 "projection_class_embeddings_input_dim": 320 + 6 * 32},
        "text_encoder": {"hidden_size": 256, "intermediate_size": 1024,
                         "num_hidden_layers": 4, "num_attention_heads": 4},
        "text_encoder_2": {"hidden_size": 320, "intermediate_size": 1280,
                           "num_hidden_layers": 4, "num_attention_heads": 5,
                           "projection_dim": 320},
        "vae": {"block_out_channels": [32, 64, 64, 64], "layers_per_block": 1}}),
    "sd15": ("sd1", "StableDiffusionPipeline", 512, 25, {}),
    "sdxl": ("sdxl", "StableDiffusionXLPipeline", 1024, 25, {}),
}


def build_model(arch: str, dest: Path) -> Path:
    """A random-weight diffusers folder of ``arch`` (template configs + overrides)."""
    import diffusers
    import torch
    import transformers

    from t2i_core.backends.diffusers_backend.clip_tokenizer import write_clip_tokenizer
    from t2i_core.backends.diffusers_backend.infer import load_template

    family, pipeline, _, _, over = ARCHS[arch]
    tpl = load_template(family)
    torch.manual_seed(0)
    parts = {}
    for name, cfg in tpl["components"].items():
        cfg = {k: v for k, v in cfg.items() if not k.startswith("_")} | over.get(name, {})
        cls = tpl["components"][name].get("_class_name") or cfg.pop("architectures")[0]
        if name == "scheduler":
            parts[name] = diffusers.EulerDiscreteScheduler.from_config(cfg)
        elif hasattr(diffusers, cls):
            parts[name] = getattr(diffusers, cls)(**cfg)
        else:
            cfg.pop("model_type", None)
            parts[name] = getattr(transformers, cls)(transformers.CLIPTextConfig(**cfg))
    for name, tok in tpl["tokenizers"].items():
        path = write_clip_tokenizer(dest.parent / "tok" / name, tok["pad"])
        parts[name] = transformers.CLIPTokenizer.from_pretrained(str(path))
    if family == "sd1":
        parts |= {"safety_checker": None, "feature_extractor": None,
                  "requires_safety_checker": False}
    pipe = getattr(diffusers, pipeline)(**parts)
    pipe.save_pretrained(str(dest), safe_serialization=True)
    return dest


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _baseline(conn, model: str, pipeline: str, device: str, threads: int) -> None:
    """The plain diffusers way: from_pretrained, .to(device), call. Answers 'run' requests."""
    import diffusers
    import torch

    torch.set_num_threads(threads)
    dtype = torch.float16 if device == "cuda" else torch.float32
    pipe = getattr(diffusers, pipeline).from_pretrained(model, dtype=dtype,
                                                        local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    conn.send("ready")
    while (req := conn.recv()) is not None:
        t = time.perf_counter()
        pipe(prompt=req["prompt"], num_inference_steps=req["steps"],
             guidance_scale=req["guidance"], width=req["width"], height=req["height"],
             generator=torch.Generator("cpu").manual_seed(req["seed"]))
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t
        peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
                else peak_rss_mb(os.getpid()))
        conn.send((elapsed, peak))


def bench(arch: str, rounds: int, device: str, threads: int, tmp: Path) -> dict:
    from worker.client import WorkerClient

    family, pipeline, size, steps, _ = ARCHS[arch]
    models = tmp / arch / "models"
    build_model(arch, models / arch)
    req = {"prompt": "a red apple on a table", "seed": 1, "steps": steps, "width": size,
           "height": size, "guidance": 7.0, "model": arch}
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    base = ctx.Process(target=_baseline, args=(child, str(models / arch), pipeline, device,
                                               threads), daemon=True)
    base.start()
    assert parent.recv() == "ready"
    args = ["--backend", "diffusers", "--threads", str(threads), "--no-history",
            "--backend-option", f"diffusers.models_dir={models}",
            "--backend-option", f"diffusers.cache_dir={tmp / 'cache'}",
            "--backend-option", f"diffusers.device={device}"]
    client = WorkerClient(connection_file=tmp / "none.json", env=ENV, worker_args=args)
    ours, theirs, base_peak = [], [], 0.0
    cpu_ours, cpu_theirs = [], []
    try:
        client.hello(timeout=300)
        for _ in range(2):  # warm-up: load, first-call allocations
            client.generate(**req, timeout=600)
            parent.send(req)
            parent.recv()
        for r in range(rounds):
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                pid = client.proc.pid if which == 0 else base.pid
                cpu = cpu_seconds(pid)
                if which == 0:
                    t = time.perf_counter()
                    res = client.generate(**req, timeout=600)
                    ours.append(time.perf_counter() - t)
                    assert res.images[0].shape == (size, size, 4)
                else:
                    parent.send(req)
                    elapsed, base_peak = parent.recv()
                    theirs.append(elapsed)
                (cpu_ours if which == 0 else cpu_theirs).append(cpu_seconds(pid) - cpu)
        # The worker does not report its CUDA allocator peak over the protocol (yet): on a GPU
        # only the baseline's is known, and the memory ratio is left out.
        our_peak = float("nan") if device == "cuda" else peak_rss_mb(client.proc.pid)
    finally:
        client.close()
        parent.send(None)
        base.join(10)
    t_ours, t_base = statistics.median(ours), statistics.median(theirs)
    c_ours, c_base = statistics.median(cpu_ours), statistics.median(cpu_theirs)
    return {"arch": arch, "size": size, "steps": steps, "rounds": rounds, "device": device,
            "ours_s": round(t_ours, 4), "baseline_s": round(t_base, 4),
            "throughput_ratio": round(t_base / t_ours, 4),
            "best_ratio": round(min(theirs) / min(ours), 4),
            "ours_cpu_s": round(c_ours, 4), "baseline_cpu_s": round(c_base, 4),
            "cpu_ratio": round(c_base / c_ours, 4),
            "ours_peak_mb": round(our_peak, 1), "baseline_peak_mb": round(base_peak, 1),
            "memory_ratio": round(our_peak / base_peak, 4) if base_peak and our_peak == our_peak
            else None}


def main() -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", nargs="+", default=None, choices=sorted(ARCHS))
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = p.parse_args()
    archs = a.arch or (["sd15", "sdxl"] if a.device == "cuda" else ["small-sd15", "small-sdxl"])
    machine = (torch.cuda.get_device_name() if a.device == "cuda"
               else f"CPU, {os.cpu_count()} cores, {a.threads} torch threads")
    print(f"machine: {machine}; torch {torch.__version__}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-diffusers-") as tmp:
        for arch in archs:
            r = bench(arch, a.rounds, a.device, a.threads, Path(tmp))
            results.append(r)
            print(f"{arch:11s} {r['size']}px {r['steps']} steps: ours {r['ours_s']:.3f} s/image"
                  f", diffusers {r['baseline_s']:.3f} s/image, throughput ratio "
                  f"{r['throughput_ratio']:.3f} (target >= 0.98; best-of ratio "
                  f"{r['best_ratio']:.3f}; CPU seconds per image ours {r['ours_cpu_s']:.2f}, "
                  f"diffusers {r['baseline_cpu_s']:.2f}, ratio {r['cpu_ratio']:.3f}); "
                  "peak memory ours "
                  f"{r['ours_peak_mb']:.0f} MB, diffusers {r['baseline_peak_mb']:.0f} MB, "
                  f"ratio {r['memory_ratio']}", flush=True)
    if a.json:
        a.json.write_text(json.dumps({"machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
