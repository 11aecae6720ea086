"""Make docs/krita_vector.png: real Krita under Xvfb, the T2I docker with Vector on after a
generation with the shipped built-in model: the result is a vector layer of flat shapes.

    .venv/bin/python tests/hosts/krita/krita_vector_screenshot.py docs/krita_vector.png
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from krita_host import REPO, build_zip, checkout_python, install_plugin, run_scenario  # noqa: E402


def render(dest: Path, prompt: str = "a red apple", seed: int = 7) -> dict:
    with tempfile.TemporaryDirectory(prefix="t2i-krita-vector-shot-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "home").mkdir()
        install_plugin(tmp / "home", build_zip(tmp), {
            "mode": "start", "python": checkout_python(tmp),
            "worker_args": f"--threads 2 --history-dir {tmp / 'history'}"})
        out = tmp / "out"
        report, log = run_scenario(tmp / "home", {
            "kind": "vector", "width": 512, "height": 512, "svg": "", "panel_vector": True,
            "prompt": prompt, "seed": seed, "steps": 20, "size": 256, "out_dir": str(out),
            "kra": str(out / "shot.kra"), "screenshot": str(out / "krita_vector.png"),
            "timeout": 240}, timeout=360)
        if not report["ok"]:
            raise RuntimeError(f"{report.get('error')}\n{log[-3000:]}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "krita_vector.png", dest)
        return report


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "krita_vector.png"
    render(target)
    print(target)
