"""Make docs/krita.png: real Krita under Xvfb, the T2I docker after a generation with the
shipped built-in model (the same install and scenario as test_krita_host.py).

    .venv/bin/python tests/hosts/krita/krita_screenshot.py docs/krita.png
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from krita_host import REPO, build_zip, install_plugin, run_scenario  # noqa: E402


def render(dest: Path, prompt: str = "a red apple", seed: int = 7) -> dict:
    with tempfile.TemporaryDirectory(prefix="t2i-krita-shot-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "home").mkdir()
        install_plugin(tmp / "home", build_zip(tmp), {
            "mode": "start", "python": sys.executable,
            "worker_args": f"--threads 2 --history-dir {tmp / 'history'}"})
        out = tmp / "out"
        report, log = run_scenario(tmp / "home", {
            "width": 512, "height": 512, "prompt": prompt, "seed": seed, "steps": 30,
            "size": 256, "select": [8, 8, 64, 64], "inpaint_prompt": prompt,
            "out_dir": str(out), "kra": str(out / "shot.kra"),
            "screenshot": str(out / "krita.png"), "timeout": 200}, timeout=300)
        if not report["ok"]:
            raise RuntimeError(f"{report.get('error')}\n{log[-3000:]}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "krita.png", dest)
        return report


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "krita.png"
    render(target)
    print(target)
