"""The Blender add-on in a real Blender (Debian's blender 3.4, headless) generating through a
cluster gateway that requires CURVE keys: the artist's key files in the add-on's preferences,
the image made on a Ray worker slot, the very pixels the gateway sent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "hosts" / "blender"))
from blender_host import (  # noqa: E402
    blender_env,
    blender_or_fail,
    blender_rgba8,
    build_addon,
    run_blender,
)

from worker.client import WorkerClient, curve_options  # noqa: E402


def test_blender_generates_through_a_keyed_gateway(keyed_gateway, tmp_path: Path):
    blender_or_fail()
    gp, alice, _ = keyed_gateway
    zip_path = build_addon(tmp_path / "t2i_studio-blender.zip")
    out = tmp_path / "out"
    out.mkdir()
    cfg = {"zip": str(zip_path), "out_dir": str(out), "endpoint": gp.endpoint,
           "server_key": str(alice / "server.key"),
           "client_key": str(alice / "alice.key_secret"), "prompt": "a red apple",
           "seed": 5, "steps": 4, "timeout": 240}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    env = blender_env(tmp_path, T2I_BLENDER_TEST_CONFIG=str(tmp_path / "config.json"))
    run_blender(["--python", str(HERE / "scripts" / "blender_through_gateway.py")], env,
                tmp_path / "blender.log", timeout=400)
    seen = json.loads((out / "gateway_run.json").read_text())
    assert seen["cluster"]["node"].startswith("t2i-node-")
    assert seen["client"] == "t2i_studio._vendor.t2i_worker.client"
    assert seen["size"] == [64, 64] and seen["provenance"]["seed"] == 5
    # the same request again from this process, with the same key: the same pixels
    client = WorkerClient(endpoint=gp.endpoint, spawn=False, curve=curve_options(
        alice / "alice.key_secret", alice / "server.key"))
    try:
        prov = seen["provenance"]
        again = client.generate(prompt="a red apple", seed=5, steps=4, width=64, height=64,
                                guidance=prov["guidance"], timeout=240)
    finally:
        client.close()
    expected = again.images[0].to_numpy().astype(np.int16)
    got = blender_rgba8(out / "pixels.f32", 64, 64)
    assert np.abs(got - expected).max() <= 1  # Blender keeps pixels as floats
