"""Upscale in a real Blender (Debian's blender 3.4, headless): the add-on's Upscale button
sends the image to the worker it started and puts the enlarged pixels in a new packed image
datablock next to the source (the source untouched, provenance kept, the .blend keeps it);
an impossible size is refused with a message that says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from blender_host import (
    SCRIPTS,
    blender_env,
    blender_or_fail,
    blender_rgba8,
    build_addon,
    checkout_python,
    run_blender,
)

pytestmark = pytest.mark.slow
SIDE = 32


def badge() -> np.ndarray:
    """A red disc with a blue centre on transparency, anti-aliased (top-down RGBA8)."""
    yy, xx = np.mgrid[:SIDE, :SIDE] + 0.5
    r = np.hypot(yy - 16, xx - 16)
    a = np.clip(12.5 - r, 0, 1)
    rgb = np.where((r < 6)[..., None], [30, 60, 220], [220, 30, 30])
    return np.concatenate([rgb, (a * 255 + 0.5)[..., None]], -1).astype(np.uint8)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    blender_or_fail()
    tmp = tmp_path_factory.mktemp("blender_upscale")
    zip_path = build_addon(tmp / "t2i_studio-blender.zip")
    out = tmp / "out"
    out.mkdir()
    floats = (badge()[::-1].astype(np.float32) / 255).ravel().tolist()  # bottom-up
    (out / "source.json").write_text(json.dumps(floats))
    cfg = {"zip": str(zip_path), "python": checkout_python(tmp), "out_dir": str(out),
           "worker_args": "--no-history --threads 1 --log-level WARNING", "width": SIDE,
           "height": SIDE, "timeout": 180}
    (tmp / "config.json").write_text(json.dumps(cfg))
    run_blender(["--python", str(SCRIPTS / "upscale_in_blender.py")],
                blender_env(tmp, T2I_BLENDER_TEST_CONFIG=str(tmp / "config.json")),
                tmp / "run.log")
    return json.loads((out / "upscale_run.json").read_text()), out


def test_upscale_makes_a_new_image_with_the_workers_pixels(run):
    report, out = run
    up = report["upscaled"]
    assert up["name"] == "drawn icon 4x" and up["size"] == [4 * SIDE, 4 * SIDE]
    assert up["packed"] and up["last_result"] == up["name"] and up["from"] == "drawn icon"
    prov = json.loads(up["provenance"])
    assert prov["prompt"] == "a red badge" and prov["seed"] == 3  # the source's, kept
    assert prov["upscale"]["scale"] == 4 and prov["upscale"]["method"] == "learned"
    assert "learned" in up["message"]
    # exactly what the built-in upscaler makes of the same pixels (this checkout's weights)
    from t2i_core.enhance import upscale_rgba

    want = upscale_rgba(badge(), 4).astype(np.int16)
    got = blender_rgba8(out / "upscaled.f32", 4 * SIDE, 4 * SIDE)
    assert np.abs(got - want).max() <= 1
    assert report["source_unchanged"]


def test_a_size_over_the_limit_is_refused_with_what_to_do(run):
    report, _ = run
    bad = report["too_large"]
    assert "FINISHED" not in bad["result"]
    assert "16384" in bad["message"] and "smaller scale" in bad["message"]
    assert not any(n.startswith("wide ") for n in bad["images"])  # nothing was made


def test_the_blend_keeps_the_upscaled_image(run):
    report, _ = run
    again = report["reopened"]
    assert again["size"] == [4 * SIDE, 4 * SIDE]
    assert json.loads(again["provenance"])["upscale"]["scale"] == 4
