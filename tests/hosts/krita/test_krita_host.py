"""The plugin in real Krita (Debian's krita 5.1, PyQt5, under Xvfb), installed from the zip
that ``t2i package krita`` builds, by Krita's own importer, into a fresh profile.

One scripted run (the test driver plugin, ``driver/``) creates a document, types a prompt in
the T2I docker, generates through a worker the plugin starts with the configured Python
(this checkout's, with the committed built-in model), lets the result become a layer,
inpaints a selection, saves the .kra, reopens it. The assertions read the saved .kra
directly (maindoc.xml, the tiled layer pixels, the annotations), not through Krita.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from krita_host import Kra, build_zip, install_plugin, krita_or_fail, run_scenario

pytestmark = pytest.mark.slow  # Krita with a window under Xvfb: ~1.5 min cold

DOC = 256
SIZE = 64
SCENARIO = {"width": DOC, "height": DOC, "prompt": "a red apple", "seed": 7, "steps": 20,
            "size": SIZE, "select": [16, 24, 96, 80], "inpaint_prompt": "a yellow star",
            "live_prompts": ["a blue car", "a green tree"], "timeout": 300}


@pytest.fixture(scope="module")
def krita_run(tmp_path_factory) -> dict:
    krita_or_fail()
    tmp = tmp_path_factory.mktemp("krita")
    home = tmp / "home"
    home.mkdir()
    zip_path = build_zip(tmp)
    # The worker is started with an explicitly configured interpreter: this checkout's.
    install_plugin(home, zip_path, {
        "mode": "start", "python": sys.executable,
        "worker_args": f"--threads 1 --history-dir {tmp / 'history'}"})
    out = tmp / "out"
    report, log = run_scenario(home, {**SCENARIO, "out_dir": str(out),
                                      "kra": str(out / "generated.kra"),
                                      "screenshot": str(out / "krita.png")})
    assert report["ok"], f"{report.get('error')}\n{json.dumps(report)[:3000]}\n{log[-4000:]}"
    return {"report": report, "out": out, "kra": Kra(out / "generated.kra"), "log": log,
            "zip": zip_path}


def crop(rgba: bytes, width: int, x: int, y: int, w: int, h: int) -> bytes:
    return b"".join(rgba[((y + r) * width + x) * 4:((y + r) * width + x + w) * 4]
                    for r in range(h))


def test_the_docker_reached_a_worker_started_with_the_configured_python(krita_run):
    report = krita_run["report"]
    assert report["settings_problem"] == ""
    assert report["status_text"].endswith("Ready")
    assert report["docker_tabs"] == ["Generate", "Train", "Plan"]  # fine-tuning is one tab away
    assert report["train_tab_is_train_panel"]
    pid = report["worker_pid"]
    assert isinstance(pid, int)
    # The worker follows Krita out (--parent-pid): no process is left behind.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived Krita"


def test_the_saved_kra_has_the_generated_layer_with_the_worker_pixels(krita_run):
    kra, out = krita_run["kra"], krita_run["out"]
    layers = kra.layers()
    names = [la["name"] for la in layers]
    # top first: the inpainted layer, the generated one, Krita's white Background
    assert names == ["a yellow star (seed 7)", "a red apple (seed 7)", "Background"], names
    layer = layers[1]
    assert layer["nodetype"] == "paintlayer" and layer["colorspacename"] == "RGBA"
    pixels = kra.layer_rgba(layer)
    result = (out / "result.rgba").read_bytes()  # what the docker received from the worker
    assert len(result) == SIZE * SIZE * 4 and any(result[3::4])
    at = (DOC - SIZE) // 2  # centred in the document
    assert crop(pixels, DOC, at, at, SIZE, SIZE) == result
    outside = bytearray(pixels)
    for r in range(SIZE):
        start = ((at + r) * DOC + at) * 4
        outside[start:start + SIZE * 4] = bytes(SIZE * 4)
    assert not any(outside), "the layer has pixels outside the result's place"


def test_the_layer_matches_a_fresh_generation_by_the_worker(krita_run):
    """The provenance in the .kra regenerates the layer exactly (the same worker code,
    another process): the layer holds the worker's result, not something else."""
    from worker.client import WorkerClient
    from worker.protocol import GenerateParams

    kra = krita_run["kra"]
    layer = kra.layers()[1]
    table = json.loads(kra.annotation("t2i-provenance"))["layers"]
    prov = table[layer["uuid"]]["provenance"]
    params = GenerateParams(prompt=prov["prompt"], negative_prompt=prov["negative_prompt"],
                            seed=prov["seed"], steps=prov["steps"], guidance=prov["guidance"],
                            width=prov["width"], height=prov["height"], model=prov["model"])
    with WorkerClient(python=sys.executable, connection_file=Path(os.devnull),
                      worker_args=["--threads", "1", "--no-history"]) as client:
        fresh = client.generate(params, timeout=300)
    assert fresh.body["provenance"][0]["model_hash"] == prov["model_hash"]
    at = (DOC - SIZE) // 2
    assert crop(kra.layer_rgba(layer), DOC, at, at, SIZE, SIZE) == bytes(fresh.images[0].data)


def test_live_mode_keeps_one_preview_layer_that_follows_the_prompt(krita_run):
    """Live on in the docker: one "Live preview" layer on top, its pixels exactly a fresh
    live generation of the prompt (seed, size); a new prompt replaces them in place; Live
    off removes it, and the saved .kra has no trace of it."""
    from worker.client import WorkerClient
    from worker.protocol import GenerateParams

    live, out = krita_run["report"]["live"], krita_run["out"]
    assert live["available"], "the default worker should offer the live model"
    first, second = live["updates"]
    for update in live["updates"]:
        assert update["preview_layers"] == 1, update
        assert update["layers"][-1] == "Live preview"  # on top of the stack
        assert update["layers"].count("Live preview") == 1 and len(update["layers"]) == 4
        assert update["active"] == live["active_before"]  # the user's layer stays active
        assert update["pixels_are_result"] and update["model"] == "live"
        assert update["size"] == [SIZE, SIZE] and update["seed"] == SCENARIO["seed"]
    pixels = [(out / f"live{n}.rgba").read_bytes() for n in range(2)]
    assert pixels[0] != pixels[1]  # replaced in place by the second prompt's image
    with WorkerClient(python=sys.executable, connection_file=Path(os.devnull),
                      worker_args=["--threads", "1", "--no-history"]) as client:
        for update, got in zip((first, second), pixels, strict=True):
            fresh = client.generate(GenerateParams(
                prompt=update["prompt"], seed=update["seed"], width=SIZE, height=SIZE,
                model="live", steps=1, guidance=0.0), timeout=300)
            assert got == bytes(fresh.images[0].data), update["prompt"]
    assert "Live preview" not in live["layers_after_off"]
    assert len(live["layers_after_off"]) == 3


def test_the_provenance_annotation_is_saved_in_the_kra(krita_run):
    kra = krita_run["kra"]
    assert {"t2i-provenance", "t2i-history"} <= set(kra.annotation_types())
    table = json.loads(kra.annotation("t2i-provenance"))
    layers = kra.layers()
    by_uuid = table["layers"]
    assert set(by_uuid) == {layers[0]["uuid"], layers[1]["uuid"]}
    first = by_uuid[layers[1]["uuid"]]
    assert first["name"] == layers[1]["name"]
    prov = first["provenance"]
    assert (prov["prompt"], prov["seed"], prov["steps"], prov["width"], prov["mode"]) == (
        "a red apple", 7, 20, SIZE, "txt2img")
    assert prov["model"] == "builtin" and len(prov["model_hash"]) == 64
    assert prov["parameters"].startswith("a red apple\nSteps: 20")
    history = json.loads(kra.annotation("t2i-history"))
    assert [h["params"]["prompt"] for h in history] == ["a yellow star", "a red apple"]


def test_the_selection_became_the_inpaint_mask_and_place(krita_run):
    kra, report = krita_run["kra"], krita_run["report"]
    x, y, w, h = SCENARIO["select"]
    assert report["host_selection"] == [x, y, w, h]
    assert report["source_image_is_result"], (
        f"the active layer did not read back as RGBA: {report.get('source_image_differs')}")
    layer = kra.layers()[0]
    prov = json.loads(kra.annotation("t2i-provenance"))["layers"][layer["uuid"]]["provenance"]
    assert prov["mode"] == "inpaint" and prov["prompt"] == "a yellow star"
    pixels = kra.layer_rgba(layer)
    inside = crop(pixels, DOC, x, y, w, h)
    assert any(inside[3::4]), "the inpainted layer is empty"
    assert sum(pixels[3::4]) == sum(inside[3::4]), "pixels outside the selection"


def test_provenance_and_history_survive_reopening_the_kra(krita_run):
    kra, reopened = krita_run["kra"], krita_run["report"]["reopened"]
    assert {"t2i-provenance", "t2i-history"} <= set(reopened["annotation_types"])
    assert json.loads(reopened["provenance_annotation"]) == json.loads(
        kra.annotation("t2i-provenance"))
    assert [uuid for _, _, uuid in reopened["layers"]][::-1] == [
        la["uuid"] for la in kra.layers()]
    assert json.loads(reopened["history"]) == json.loads(kra.annotation("t2i-history"))
    assert reopened["panel_history_entries"] == 2  # the docker shows the reopened history


def test_the_screenshot_shows_krita_with_the_docker(krita_run):
    from PIL import Image

    with Image.open(krita_run["out"] / "krita.png") as im:
        assert im.width >= 800 and im.height >= 600
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # a window with a picture, not blank


def test_a_result_inserted_with_no_document_open_makes_one(krita_run):
    made = krita_run["report"]["without_document"]
    x, y, w, h = SCENARIO["select"]  # the strip's last result is the inpaint: its place
    assert made["size"] == [x + w, y + h]
    assert made["layers"][-1] == "a yellow star (seed 7)" and len(made["layers"]) == 2
    assert "t2i-provenance" in made["annotation_types"]
