"""``plan`` and ``upscale`` through the gateway: they run on the Ray worker slots like
``generate`` (queued, progress, cancel, one terminal event), with the answers a desktop
worker gives (the same bytes as the library in this process), and bad ones are refused at
the gateway's edge with the worker's own codes (worker/accept.py) before anything is queued.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from worker import protocol as P
from worker.client import WorkerClient

PROMPT = "a two-bedroom apartment with an open kitchen, 70 m², living room facing south"
BIG = ("family house 180 m2: 4 bedrooms, master with ensuite, 2 bathrooms, study, utility, "
       "double garage")


def ring_icon(size: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] + 0.5
    r = np.hypot(yy - size / 2, xx - size / 2)
    alpha = np.clip(np.minimum(r - size * 0.22, size * 0.38 - r) + 0.5, 0, 1)
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 3] = (alpha * 255 + 0.5).astype(np.uint8)
    return img


def test_a_plan_runs_on_a_node_with_progress_and_a_valid_layout(raw):
    from t2i_core.plan.parser import programme_from_text

    rid = raw.send("plan", body={"prompt": PROMPT, "variants": 1, "seed": 3,
                                 "formats": ["svg", "geometry"]})
    events = raw.until_terminal(rid, timeout=240)
    kinds = [e.type for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "result", events[-1].body
    assert [e.body["step"] for e in events if e.type == "progress"][-1] == 1
    res = events[-1]
    assert res.body["cluster"]["node"].startswith("t2i-node-")
    assert [im.name for im in res.images] == ["svg", "geometry"]
    assert "<svg" in res.images[0].text()[:300]
    assert res.body["programme"] == programme_from_text(PROMPT).to_dict()  # as parsed here
    # (the solver's layout is not bit-reproducible across processes: check it, not compare)
    (variant,) = res.body["variants"]
    assert variant["metrics"]["violations"] == [] and variant["metrics"]["gap_m2"] < 1e-6
    geometry = json.loads(res.images[1].text())
    assert len(geometry["rooms"]) == len(res.body["programme"]["rooms"])


def test_a_running_plan_is_cancelled_through_the_gateway(raw):
    rid = raw.send("plan", body={"prompt": BIG, "variants": 6, "time_limit": 0.5})
    events = []
    while not any(e.type == "progress" for e in events):
        ev = raw.recv(120)
        assert ev is not None and ev.id == rid and not ev.is_terminal, ev
        events.append(ev)
    answer = raw.call("cancel", body={"target": rid}, timeout=60)
    assert answer.type == "result" and answer.body["was"] == "running", answer.body
    final = raw.until_terminal(rid, timeout=180)[-1]
    assert final.type == "cancelled" and final.body["reason"] == "cancel", final.body
    assert raw.call("status").body["state"] in ("idle", "busy")


def test_an_upscale_runs_on_a_node_and_matches_the_library(gateway):
    from t2i_core.enhance.upscale import Enhancer

    client = WorkerClient(endpoint=gateway.endpoint, token=gateway.token, spawn=False)
    try:
        hello = client.hello(timeout=60)
        assert [u.id for u in hello.upscalers] == ["builtin"]
        events: list[P.Message] = []
        res = client.submit_upscale(ring_icon(), 4, on_event=events.append).result(120)
    finally:
        client.close()
    assert events[0].type == "queued"
    (out,) = res.images
    assert out.name == "image" and out.shape == (64, 64, 4)
    assert res.body["method"] == hello.upscalers[0].kind
    assert res.body["cluster"]["node"].startswith("t2i-node-")
    assert np.array_equal(out.to_numpy(), Enhancer().upscale(ring_icon(), 4))


@pytest.mark.parametrize("kind, body, frames, code", [
    ("plan", {"prompt": "a nice picture of a cat"}, [], "no_rooms"),
    ("plan", {"prompt": PROMPT, "variants": 99}, [], "bad_request"),
    ("upscale", {"scale": 3}, [P.Image.from_numpy(ring_icon(), "image")], "bad_scale"),
    ("upscale", {"scale": 16}, [P.Image.from_numpy(np.zeros((300, 300, 4), np.uint8),
                                                   "image")], "image_too_large"),
    ("upscale", {"scale": 4, "model": "nope"}, [P.Image.from_numpy(ring_icon(), "image")],
     "model_not_found"),
    ("upscale", {"scale": 4}, [], "bad_frames"),
    ("plan", {"prompt": PROMPT}, [P.Image.from_numpy(ring_icon(), "mask")], "bad_frames"),
])
def test_bad_plans_and_upscales_are_refused_at_the_edge(raw, kind, body, frames, code):
    events = raw.until_terminal(raw.send(kind, body=body, images=frames), timeout=60)
    assert [e.type for e in events] == ["error"], events  # never queued
    assert events[0].error_code == code, events[0].body
