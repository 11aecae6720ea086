"""The core command line, run as a real subprocess on the tiny model."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from t2i_core.png_info import read_provenance


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "worker.commands", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300, check=False)


def test_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("generate", "data", "builtin", "eval"):
        assert cmd in out.stdout


def test_generate_writes_pngs_with_parameters(tmp_path, tiny_weights):
    out = tmp_path / "apple.png"
    r = run("generate", "a red apple", "-o", str(out), "--seed", "7", "--count", "2",
            "--size", "64", "--steps", "3", "--weights-dir", str(tiny_weights))
    assert r.returncode == 0, r.stderr
    files = [tmp_path / "apple-1.png", tmp_path / "apple-2.png"]
    assert all(f.exists() for f in files)
    with Image.open(files[0]) as im:
        assert im.size == (64, 64) and im.mode == "RGBA"
        assert im.info["parameters"].startswith("a red apple\nSteps: 3")
    prov = read_provenance(files[1])
    assert prov.seed == 8 and prov.prompt == "a red apple" and prov.backend == "builtin"

    # inpaint from the first result, with a mask that keeps the bottom half
    mask = np.zeros((64, 64), np.uint8)
    mask[:32] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out2 = tmp_path / "fixed.png"
    r = run("generate", "a green apple", "--init", str(files[0]), "--mask",
            str(tmp_path / "mask.png"), "--size", "64", "--steps", "3", "-o", str(out2),
            "--weights-dir", str(tiny_weights))
    assert r.returncode == 0, r.stderr
    before = np.asarray(Image.open(files[0]))
    after = np.asarray(Image.open(out2))
    assert np.array_equal(before[32:], after[32:])


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path, tiny_weights):
    cases = [
        (["generate", "   "], "prompt is empty"),
        (["generate", "a cat", "--steps", "0"], "1 to 200"),
        (["generate", "a cat", "--size", "100"], "32, 64, 128, 256, 512"),
        (["generate", "a cat", "--guidance", "-1"], "0 to 30"),
        (["generate", "a cat", "--init", str(tmp_path / "missing.png")], "cannot read"),
    ]
    (tmp_path / "junk.png").write_bytes(b"not an image")
    cases.append((["generate", "a cat", "--init", str(tmp_path / "junk.png")], "cannot read"))
    for args, words in cases:
        r = run(*args, "--weights-dir", str(tiny_weights), "-o", str(tmp_path / "x.png"))
        assert r.returncode == 2, (args, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()
    r = run("generate", "a cat", "--weights-dir", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "not found" in r.stderr
