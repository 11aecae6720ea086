"""Live in real Blender with a window (Xvfb): five characters typed as real key events into
the add-on's "Type live" operator; one image datablock, replaced in place, ends with the
pixels of the last prompt, equal to what a fresh worker makes for it."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from blender_host import (
    REPO,
    blender_or_fail,
    blender_rgba8,
    build_addon,
    run_blender_window,
    xvfb_run_or_fail,
)

sys.path.insert(0, str(REPO / "tests" / "worker"))
from worker_helpers import start_worker  # noqa: E402

from worker.client import WorkerClient  # noqa: E402

pytestmark = pytest.mark.slow  # a Blender with a window under Xvfb

TYPED = "a cat"  # 5 characters
SEED, SIZE = 5, 64


@pytest.fixture(scope="module")
def live_run(tmp_path_factory) -> dict:
    blender_or_fail()
    xvfb_run_or_fail()
    tmp = tmp_path_factory.mktemp("blender_live")
    zip_path = tmp / "addon.zip"
    build_addon(zip_path)
    out = tmp / "out"
    out.mkdir()
    cfg = {"zip": str(zip_path), "python": sys.executable, "out_dir": str(out),
           "worker_args": f"--history-dir '{tmp / 'history'}' --threads 1",
           "typed": TYPED, "seed": SEED, "size": SIZE, "key_interval": 0.12, "timeout": 200}
    (tmp / "config.json").write_text(json.dumps(cfg))
    report, log = run_blender_window(tmp, "live_in_blender.py", out / "live_run.json",
                                     "--enable-event-simulate")
    return {"report": report, "out": out, "log": log, "tmp": tmp}


def test_typed_keys_reach_the_prompt_and_live_requests(live_run):
    r = live_run["report"]
    assert r["errors"] == [], r["errors"]
    assert r["live_on"] and r["live_timer"] and "live" in r["models"]
    assert r["type_returned"] == ["RUNNING_MODAL"]
    assert [ch for _, ch in r["typed"]] == list(TYPED)
    assert r["prompt"] == TYPED and r["typing_ended"]  # Enter ended typing
    assert r["sent_models"] == ["live"]
    sent = r["sent_prompts"]
    assert sent[-1] == TYPED and 1 <= len(sent) <= len(TYPED)
    assert all(TYPED.startswith(p) for p in sent)  # each one a prefix, in typing order
    assert r["live_error"] == ""
    assert r.get("narrow_draws", 0) >= 1  # the panel drew 300 px wide without errors


def test_one_datablock_updated_in_place_ends_with_the_last_prompt(live_run):
    r = live_run["report"]
    assert r["image_names"] == ["T2I Live"]  # one datablock, never a second one
    assert len(set(r["pointers"])) == 1, r["pointers"]  # the same datablock all along
    assert r["updates_seen"][-1][1] == TYPED
    assert r["provenance"]["prompt"] == TYPED and r["provenance"]["model"] == "live"
    assert r["image_editor_shows"] == "T2I Live"
    assert r["size"] == [SIZE, SIZE]
    assert r["image_after_off"] is False and r["timer_after_off"] is False


def test_live_pixels_equal_a_fresh_worker_generation(live_run):
    wp = start_worker(live_run["tmp"] / "fresh")
    client = WorkerClient(endpoint=wp.endpoint, token=wp.token, spawn=False)
    try:
        ev = client.generate(prompt=TYPED, seed=SEED, width=SIZE, height=SIZE, count=1,
                             steps=1, guidance=0.0, model="live", timeout=180)
    finally:
        client.close(stop_worker=False)
        wp.stop()
    im = ev.images[0]
    fresh = np.frombuffer(bytes(im.data), np.uint8).reshape(SIZE, SIZE, 4).astype(np.int16)
    blender = blender_rgba8(live_run["out"] / "live_pixels.f32", SIZE, SIZE)
    assert np.abs(blender - fresh).max() <= 1
    assert fresh[..., 3].max() > 0  # something was drawn
