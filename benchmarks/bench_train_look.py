"""What the Train form's "Colours + learned shading" costs: ``t2i train`` on one benchmark
folder with the default look (``render_steps`` 0) and with the learned renderer beside the
LoRA (``render_steps`` 400), alternated, each as a whole command; prints the ratio.

    .venv/bin/python benchmarks/bench_train_look.py [--folder tango] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from icon_theme_folders import THEMES, TRIGGERS, build_theme_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LOOKS = {"colours": [], "shading": ["--render-steps", "400"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", default="tango", choices=list(THEMES))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {k: [] for k in LOOKS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_theme_folder(args.folder, Path(tmp) / args.folder)
        for r in range(args.rounds):
            for look, extra in LOOKS.items():
                cmd = [sys.executable, "-m", "worker.commands", "train", "--local",
                       "--folder", str(folder), "--name", f"{look}-{r}",
                       "--trigger", TRIGGERS[args.folder], "--adapters-dir",
                       str(Path(tmp) / "adapters"), *extra]
                t0 = time.monotonic()
                subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
                times[look].append(time.monotonic() - t0)
                print(f"round {r + 1} {look}: {times[look][-1]:.1f} s "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
    best = {k: min(v) for k, v in times.items()}
    print(f"colours {best['colours']:.1f} s, shading {best['shading']:.1f} s: "
          f"{best['shading'] / best['colours']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
