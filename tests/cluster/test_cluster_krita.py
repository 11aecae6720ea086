"""The Krita plugin in real Krita (Debian's krita 5.1, under Xvfb) generating through a
cluster gateway that requires CURVE keys: the artist's key files in the docker's worker
settings (kritarc, as *Worker settings…* writes them), the image made on a Ray worker slot,
and the new layer's pixels -- read back from Krita and from the saved .kra -- the very
pixels the same request from Python gets through the gateway."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "hosts" / "krita"))
from krita_host import Kra, build_zip, install_plugin, krita_or_fail, run_scenario  # noqa: E402

from worker.client import WorkerClient, curve_options  # noqa: E402

pytestmark = pytest.mark.slow  # Krita with a window under Xvfb: ~1 min cold

DOC, SIZE = 128, 64
SCENARIO = {"kind": "gateway", "width": DOC, "height": DOC, "prompt": "a red apple",
            "seed": 5, "steps": 4, "size": SIZE, "timeout": 300}


def test_krita_generates_through_a_keyed_gateway(keyed_gateway, tmp_path: Path):
    krita_or_fail()
    gp, alice, _ = keyed_gateway
    home = tmp_path / "home"
    home.mkdir()
    install_plugin(home, build_zip(tmp_path), {
        "mode": "endpoint", "endpoint": gp.endpoint,
        "server_key": str(alice / "server.key"),
        "client_key": str(alice / "alice.key_secret")})
    out = tmp_path / "out"
    report, log = run_scenario(home, {**SCENARIO, "out_dir": str(out),
                                      "kra": str(out / "gateway.kra")}, timeout=400)
    assert report["ok"], f"{report.get('error')}\n{json.dumps(report)[:3000]}\n{log[-4000:]}"
    assert report["settings_problem"] == "" and report["curve_in_use"]
    assert not report["worker_started"]  # it connected, it started no worker of its own
    assert report["terminal"]["type"] == "result", report["terminal"]
    assert report["terminal"]["cluster"]["node"].startswith("t2i-node-")
    assert report["queued_events"] >= 1 and report["progress_events"] >= 1
    prov = report["provenance"]
    assert prov["prompt"] == "a red apple" and prov["seed"] == 5 and prov["steps"] == 4
    name = "a red apple (seed 5)"
    assert [n for n, _ in report["layers"]] == ["Background", name]

    # the same request from this process, with the same key: the same pixels
    client = WorkerClient(endpoint=gp.endpoint, spawn=False, curve=curve_options(
        alice / "alice.key_secret", alice / "server.key"))
    try:
        again = client.generate(prompt=prov["prompt"], negative_prompt=prov["negative_prompt"],
                                seed=prov["seed"], steps=prov["steps"],
                                guidance=prov["guidance"], width=SIZE, height=SIZE,
                                model=prov["model"], timeout=240)
    finally:
        client.close()
    expected = again.images[0].to_numpy()
    assert expected.shape == (SIZE, SIZE, 4) and expected[..., :3].std() > 0
    assert (out / "result.rgba").read_bytes() == expected.tobytes()  # what the docker got

    at = (DOC - SIZE) // 2  # the docker centres the result in the document
    assert report["layer_bounds"] == [at, at, SIZE, SIZE]
    bgra = np.frombuffer((out / "layer.bgra").read_bytes(), np.uint8).reshape(DOC, DOC, 4)
    layer = bgra[..., [2, 1, 0, 3]]  # Krita's pixelData is BGRA for RGBA/U8
    assert np.array_equal(layer[at:at + SIZE, at:at + SIZE], expected)
    outside = layer.copy()
    outside[at:at + SIZE, at:at + SIZE] = 0
    assert not outside.any(), "the layer has pixels outside the result's place"

    # and the saved .kra, read without Krita
    kra = Kra(out / "gateway.kra")
    saved = next(la for la in kra.layers() if la["name"] == name)
    pixels = np.frombuffer(kra.layer_rgba(saved), np.uint8).reshape(DOC, DOC, 4)
    assert np.array_equal(pixels[at:at + SIZE, at:at + SIZE], expected)
