"""The learned icon upscaler: interface, fallback, model, training/resume, CLI, backend hook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from t2i_core.enhance import upscale_rgba
from t2i_core.enhance.upscale import Enhancer
from t2i_core.errors import T2IError
from t2i_core.imaging import resize_rgba
from t2i_core.models.upscaler import (
    Upscaler,
    UpscalerConfig,
    baseline_upscale,
    to_premultiplied,
)

REPO = Path(__file__).resolve().parents[2]


def ring(size: int, ss: int = 8) -> np.ndarray:
    """A black ring on transparency, antialiased by ``ss``x supersampling: the same drawing
    at any size, so a 32 px and a 128 px version are an exact pair."""
    n = size * ss
    yy, xx = (np.mgrid[:n, :n] + 0.5) / n
    r = np.hypot(yy - 0.5, xx - 0.47)
    inside = ((r > 0.22) & (r < 0.36)) | ((np.abs(xx - 0.47) < 0.03) & (yy > 0.12) & (yy < 0.9))
    a = inside.reshape(size, ss, size, ss).mean(axis=(1, 3))
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 3] = (a * 255 + 0.5).astype(np.uint8)
    return img


def psnr_on_white(pred: np.ndarray, true: np.ndarray) -> float:
    def comp(x):
        f = x.astype(np.float64) / 255
        return f[..., :3] * f[..., 3:] + (1 - f[..., 3:])
    return float(10 * np.log10(1 / np.mean((comp(pred) - comp(true)) ** 2)))


def test_shapes_dtypes_and_scales():
    icon = ring(32)
    for scale in (2, 4, 8, 16):
        out = upscale_rgba(icon, scale)
        assert out.shape == (32 * scale, 32 * scale, 4) and out.dtype == np.uint8
    rect = np.zeros((10, 14, 4), np.uint8)
    assert upscale_rgba(rect, 4).shape == (40, 56, 4)


@pytest.mark.parametrize(("image", "scale", "code"), [
    (np.zeros((8, 8, 4), np.uint8), 3, "bad_scale"),
    (np.zeros((8, 8, 4), np.float32), 4, "bad_image"),
    (np.zeros((8, 8), np.uint8), 4, "bad_image"),
    (np.zeros((2000, 10, 4), np.uint8), 16, "image_too_large"),
])
def test_bad_input_is_a_clear_error(image, scale, code):
    with pytest.raises(T2IError) as e:
        upscale_rgba(image, scale)
    assert e.value.code == code


def test_learned_beats_lanczos_and_the_baseline_on_a_held_out_drawing():
    """A drawing that is in no training set: the committed model must be closer to the true
    128 px rendering than Lanczos (the old path) and than bicubic + alpha contrast."""
    small, truth = ring(32), ring(128)
    ours = Enhancer().upscale(small, 4)
    lanczos = resize_rgba(small, 128)
    pre = to_premultiplied(torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255)
    base = baseline_upscale(pre, 4, UpscalerConfig().alpha_contrast)[0]
    a = base[3:].clamp_min(1e-4)
    base = torch.cat([(base[:3] / a).clamp(0, 1), base[3:]]).permute(1, 2, 0).numpy()
    base = (base * 255 + 0.5).astype(np.uint8)
    p_ours, p_lz, p_base = (psnr_on_white(x, truth) for x in (ours, lanczos, base))
    assert p_ours > p_lz + 2, (p_ours, p_lz)
    assert p_ours > p_base, (p_ours, p_base)
    soft = lambda x: ((x[..., 3] > 12) & (x[..., 3] < 243)).sum()  # noqa: E731
    assert soft(ours) < 1.5 * soft(truth) < soft(lanczos)  # crisp edges, not Lanczos haze


def test_an_untrained_model_is_exactly_the_baseline():
    torch.manual_seed(0)
    model = Upscaler(UpscalerConfig(channels=8, blocks=1)).eval()
    x = to_premultiplied(torch.rand(2, 4, 12, 12))
    with torch.no_grad():
        assert torch.allclose(model(x), baseline_upscale(x, 4, model.cfg.alpha_contrast),
                              atol=1e-6)


def test_tiles_match_one_pass(monkeypatch):
    import t2i_core.enhance.upscale as up

    rng = np.random.default_rng(0)
    img = np.zeros((64, 64, 4), np.uint8)
    img[8:56, 8:56] = rng.integers(0, 256, (48, 48, 4), dtype=np.uint8)
    enhancer = Enhancer()
    whole = enhancer.upscale(img, 4)
    monkeypatch.setattr(up, "TILE", 20)
    tiled = enhancer.upscale(img, 4)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 2


def test_without_weights_it_resamples_and_says_so(tmp_path):
    enhancer = Enhancer(tmp_path / "absent.safetensors")
    with pytest.warns(UserWarning, match="missing"):
        out = enhancer.upscale(ring(32), 4)
    assert not enhancer.learned and "t2i upscaler train" in enhancer.notice
    pre = to_premultiplied(torch.from_numpy(ring(32)).permute(2, 0, 1)[None].float() / 255)
    base = baseline_upscale(pre, 4, UpscalerConfig().alpha_contrast)[0, 3].numpy()
    assert np.abs(out[..., 3].astype(int) - (base * 255 + 0.5).astype(int)).max() <= 1


def test_damaged_weights_are_a_clear_error(tmp_path):
    bad = tmp_path / "upscaler.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(T2IError) as e:
        Enhancer(bad).upscale(ring(32), 4)
    assert e.value.code == "weights_corrupt"


def fake_pairs(root: Path, n: int = 24) -> Path:
    """Exact 32/128 px pairs of rings of several sizes and colours."""
    lo, hi, meta = [], [], []
    for i in range(n):
        a, b = ring(32), ring(128)
        shift = i % 5
        a, b = np.roll(a, shift, 1), np.roll(b, 4 * shift, 1)
        if i % 2:
            a[..., :3], b[..., :3] = (200, 40, 40), (200, 40, 40)
        lo.append(a)
        hi.append(b)
        meta.append({"kind": "mono" if i % 2 == 0 else "colour", "name": f"ring-{i}"})
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "train32.npy", np.stack(lo))
    np.save(root / "train128.npy", np.stack(hi))
    (root / "train.jsonl").write_text("".join(json.dumps(m) + "\n" for m in meta))
    return root


def test_training_checkpoints_and_resumes(tmp_path):
    from t2i_core.enhance.train import TrainConfig, train_upscaler
    from t2i_core.enhance.weights import load_upscaler

    pairs = fake_pairs(tmp_path / "pairs")
    run, out = tmp_path / "run", tmp_path / "w.safetensors"
    cfg = TrainConfig(steps=6, batch=4, crop=16, save_every=3, val_every=6, val_icons=4)
    model_cfg = UpscalerConfig(channels=8, blocks=1)
    train_upscaler(pairs, run, out, minutes=None, cfg=TrainConfig(**{**cfg.__dict__,
                                                                     "steps": 3}),
                   model_cfg=model_cfg, log=lambda _: None)
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 3
    first, _ = load_upscaler(out)
    # resume: the run continues at step 3 with its own config, up to the new length
    train_upscaler(pairs, run, out, minutes=None, cfg=cfg, log=lambda _: None)
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [3, 6]
    assert "val_psnr_white_ours_baseline" in log[-1]
    model, meta = load_upscaler(out)
    assert meta["step"] == 6 and model.cfg.channels == 8
    changed = any(not torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                         model.state_dict().values(),
                                                         strict=True))
    assert changed


def test_cli_upscale_writes_png_and_keeps_provenance(tmp_path):
    src = tmp_path / "icon.png"
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a ring\nSteps: 20, Seed: 1")
    Image.fromarray(ring(32), "RGBA").save(src, pnginfo=info)
    out = tmp_path / "big.png"
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "worker.commands", "upscale", str(src), "-o", str(out),
           "--scale", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "128x128" in proc.stdout and "learned upscaler" in proc.stdout
    with Image.open(out) as im:
        assert im.size == (128, 128) and im.mode == "RGBA"
        assert im.info["parameters"].startswith("a ring")
        assert json.loads(im.info["t2i-upscale"]) == {"scale": 4, "method": "learned"}
        assert np.array_equal(np.asarray(im), Enhancer().upscale(ring(32), 4))
    same = subprocess.run([*cmd[:4], str(src), "-o", str(src)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)
    assert same.returncode == 2 and "input image" in same.stderr
    (tmp_path / "bad.png").write_bytes(b"nope")
    bad = subprocess.run([*cmd[:4], str(tmp_path / "bad.png"), "-o", str(out)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert bad.returncode == 2 and "cannot read" in bad.stderr


def test_builtin_backend_enlarges_with_the_upscaler(tiny_backend):
    from t2i_core.backends.base import GenerateRequest

    def gen(size: int) -> np.ndarray:
        return tiny_backend.generate(GenerateRequest(prompt="a ring", seed=3, steps=2,
                                                     width=size, height=size)).images[0]

    small, big = gen(32), gen(128)
    assert np.array_equal(big, upscale_rgba(small, 4))


def test_the_slim_committed_checkpoint_resumes(tmp_path):
    """checkpoints/upscaler/ holds a slimmed checkpoint (EMA fp16, Adam bf16): it resumes."""
    import shutil

    from t2i_core.checkpoint import slim_checkpoint
    from t2i_core.enhance.train import TrainConfig, train_upscaler

    pairs = fake_pairs(tmp_path / "pairs")
    run, slim = tmp_path / "run", tmp_path / "slim"
    cfg = TrainConfig(steps=2, batch=2, crop=16, save_every=2, val_every=100, val_icons=4)
    train_upscaler(pairs, run, tmp_path / "a.safetensors", None, cfg,
                   UpscalerConfig(channels=8, blocks=1), log=lambda _: None)
    slim.mkdir()
    slim_checkpoint(run / "upscaler.ckpt.safetensors", slim / "upscaler.ckpt.safetensors")
    shutil.copy(run / "config.json", slim / "config.json")
    assert (slim / "upscaler.ckpt.safetensors").stat().st_size < \
        (run / "upscaler.ckpt.safetensors").stat().st_size
    said: list[str] = []
    train_upscaler(pairs, slim, tmp_path / "b.safetensors", None,
                   TrainConfig(steps=4), log=said.append)
    assert said[0] == "resumed at step 2"
    assert json.loads((slim / "log.jsonl").read_text().splitlines()[-1])["step"] == 4
