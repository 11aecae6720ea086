"""The real worker (subprocess, real sockets, BuiltinBackend on tiny random weights)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from worker_helpers import Raw

from worker import protocol as P
from worker.client import WorkerClient
from worker.history import zlib_level

FAST = {"width": 32, "height": 32, "steps": 2}


def gen_body(**kw) -> dict:
    return P.GenerateParams(**{"prompt": "a red apple", **FAST, **kw}).to_body()


def test_hello_lists_capabilities(raw):
    caps = raw.call("hello").body
    assert caps["protocol"] == P.PROTOCOL_VERSION and caps["backends"] == ["builtin"]
    (model,) = caps["models"]
    assert model["id"] == "builtin" and len(model["hash"]) == 64 and 128 in model["sizes"]
    assert caps["device"] == "cpu" and caps["load_error"] == ""
    # the session's adapter library (tests/conftest.py) holds what other tests trained
    library = Path(os.environ["T2I_ADAPTER_DIR"])
    assert caps["loras"] == sorted(f.stem for f in library.glob("*.safetensors")
                                   if not f.name.startswith("."))
    assert raw.call("list_models").body["models"] == caps["models"]
    status = raw.call("status").body
    assert status["state"] in ("idle", "busy") and status["session"] == caps["session"]


def test_generate_events_provenance_and_history(raw, builtin_worker):
    rid = raw.send("generate", body=gen_body(negative_prompt="blurry", seed=41, count=2,
                                             steps=3))
    events = raw.until_terminal(rid)
    types = [e.type for e in events]
    assert types[0] == "queued" and types[-1] == "result"
    steps = [e.body["step"] for e in events if e.type == "progress"]
    assert steps[0] == 1 and steps[-1] == 3 and steps == sorted(set(steps))  # rate-limited
    assert all(e.images[0].name == "preview" for e in events if e.type == "progress")
    result = events[-1]
    assert [im.shape for im in result.images] == [(32, 32, 4)] * 2
    provs = result.body["provenance"]
    assert [p["seed"] for p in provs] == [41, 42]
    p0 = provs[0]
    assert (p0["prompt"], p0["negative_prompt"], p0["steps"], p0["guidance"]) == (
        "a red apple", "blurry", 3, 3.0)
    assert (p0["width"], p0["height"], p0["backend"], p0["model"]) == (32, 32, "builtin",
                                                                      "builtin")
    assert len(p0["model_hash"]) == 64 and p0["loras"] == []
    # When the result arrives, the history already holds a whole PNG with the same pixels,
    # the A1111 text chunk, the provenance chunk, and a JSON sidecar.
    paths = result.body["history"]
    assert len(paths) == 2 and all(p.startswith(str(builtin_worker.history)) for p in paths)
    on_arrival = [history_png(p) for p in paths]
    for (text, pixels), img, prov in zip(on_arrival, result.images, provs, strict=True):
        assert np.array_equal(pixels, img.to_numpy())
        assert json.loads(text["t2i-provenance"]) == prov
    params = on_arrival[1][0]["parameters"]
    assert params.startswith("a red apple\nNegative prompt: blurry\n") and "Seed: 42" in params
    sidecar = json.loads(Path(paths[1][:-4] + ".json").read_text())
    assert sidecar["provenance"] == provs[1] and sidecar["request_id"] == rid
    # Then the worker compresses them in the background: same chunks, same pixels.
    # (Poll the files themselves: "pending" drops to 0 while the last file is still being
    # compressed, and "compacted" counts the whole session of this shared worker.)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(zlib_level(p) == 2 for p in paths):
        time.sleep(0.05)
    stats = raw.call("status").body["history"]
    assert stats["failed"] == 0 and stats["compacted"] >= 2
    for path, before in zip(paths, on_arrival, strict=True):
        text, pixels = history_png(path)
        assert zlib_level(path) == 2 and text == before[0] and np.array_equal(pixels, before[1])


def history_png(path: str) -> tuple[dict, np.ndarray]:
    with Image.open(path) as im:
        im.verify()  # complete: every chunk's CRC, IEND present
    with Image.open(path) as im:
        return dict(im.text), np.asarray(im.convert("RGBA"))


def test_img2img_and_inpaint_frames(raw):
    init = np.zeros((32, 32, 4), np.uint8)
    init[..., 0], init[..., 3] = 200, 255
    mask = np.zeros((32, 32), np.uint8)
    mask[:16] = 255
    images = [P.Image.from_numpy(init, "init_image"), P.Image.from_numpy(mask, "mask")]
    res = raw.until_terminal(raw.send("generate", body=gen_body(strength=0.8),
                                      images=images))[-1]
    assert res.type == "result", res.body
    assert res.body["provenance"][0]["mode"] == "inpaint"
    out = res.images[0].to_numpy()
    assert np.array_equal(out[24:], init[24:])  # far from the mask the init pixels stay


def test_errors_are_structured_and_actionable(raw):
    def err(body, **kw):
        ev = raw.call("generate", body=body, **kw)
        assert ev.type == "error", ev
        return ev.body["code"], ev.body["message"]

    assert err(gen_body(model="nope"))[0] == "model_not_found"
    assert "installed: builtin" in err(gen_body(model="nope"))[1]
    assert err(gen_body(prompt="  "))[0] == "empty_prompt"
    assert err(gen_body(width=33, height=33))[0] == "bad_size"
    assert err(gen_body(steps=0))[0] == "bad_steps"
    assert err({"prompt": "x", "seed": "one"})[0] == "bad_message"
    assert err(gen_body(), token="wrong")[0] == "unauthorized"
    mask = P.Image.from_numpy(np.zeros((4, 4), np.uint8), "mask")
    assert err(gen_body(), images=[mask])[0] == "mask_without_image"
    odd = P.Image.from_numpy(np.zeros((4, 4), np.uint8), "depth")
    assert err(gen_body(), images=[odd])[0] == "bad_frames"
    ev = raw.call("hello", token="")
    assert ev.body["code"] == "unauthorized"


def test_duplicate_active_id_is_refused(raw):
    rid = raw.send("generate", body=gen_body(steps=50))
    raw.send("generate", rid=rid, body=gen_body())
    seen = []
    while True:  # every event, whatever its id
        ev = raw.recv(60)
        assert ev is not None, seen
        seen.append(ev)
        if ev.id == rid and ev.is_terminal:
            break
    dup = [e for e in seen if e.type == "error"]
    # The refusal does not carry the active request's id: a client routing by id sees one
    # terminal event for it, the first request's own result.
    assert [(e.id, e.body["code"], e.body["refused_id"]) for e in dup] == [
        ("", "duplicate_id", rid)]
    assert [e.type for e in seen if e.id == rid][-1] == "result"
    assert [e.type for e in seen if e.id == rid].count("queued") == 1


def test_cancel_running_job_within_one_step(raw):
    rid = raw.send("generate", body=gen_body(steps=200, count=8))
    first = None
    while first is None or first.type != "progress":
        first = raw.recv()
        assert first is not None and first.id == rid
    cid = raw.send("cancel", body={"target": rid})
    got = raw.collect([rid, cid])
    events, ack = got[rid], got[cid][-1]
    assert ack.type == "result" and ack.body["was"] == "running"
    final = events[-1]
    assert final.type == "cancelled"
    # The backend checks the flag before every step: at most the step under way finishes.
    assert final.body["step"] - ack.body["at_step"] <= 1, (final.body, ack.body)
    assert final.body["step"] < 200


def test_cancel_queued_and_unknown(raw):
    blocker = raw.send("generate", body=gen_body(steps=200, count=4))
    queued = raw.send("generate", body=gen_body())
    cid = raw.send("cancel", body={"target": queued})
    got = {rid: evs[-1] for rid, evs in raw.collect([blocker, queued, cid]).items()}
    assert got[queued].type == "cancelled" and got[cid].body["was"] == "queued"
    assert got[blocker].type == "result"
    unknown = raw.call("cancel", body={"target": "never-sent"})
    assert unknown.type == "error" and unknown.body["code"] == "unknown_request"
    again = raw.call("cancel", body={"target": blocker})
    assert again.body["code"] == "unknown_request" and "already finished" in again.body[
        "message"]
    assert raw.call("cancel", body={}).body["code"] == "bad_message"


def test_eight_clients_25_jobs_each_exactly_one_terminal(builtin_worker):
    clients, jobs = 8, 25
    seen: dict[int, dict[str, list[str]]] = {}
    errors: list[BaseException] = []

    def run(c: int) -> None:
        try:
            r = Raw(builtin_worker.endpoint, builtin_worker.token)
            ids = [r.send("generate", body=gen_body(steps=1, seed=c * 100 + j))
                   for j in range(jobs)]
            log: dict[str, list[str]] = {rid: [] for rid in ids}
            done = 0
            deadline = time.monotonic() + 240
            while done < jobs and time.monotonic() < deadline:
                ev = r.recv(timeout=5)
                if ev is not None:
                    log.setdefault(ev.id, []).append(ev.type)
                    done += ev.is_terminal
            while (ev := r.recv(timeout=0.5)) is not None:  # anything late is a duplicate
                log.setdefault(ev.id, []).append(ev.type)
            seen[c] = log
            r.close()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert len(seen) == clients
    for log in seen.values():
        assert len(log) == jobs  # no events for ids we did not send
        for rid, types in log.items():
            terminals = [t for t in types if t in P.TERMINAL_TYPES]
            assert terminals == ["result"], (rid, types)
            assert types[0] == "queued" and types[-1] == "result", (rid, types)


def test_client_api_blocking_callbacks_and_iterator(builtin_worker):
    client = WorkerClient(builtin_worker.endpoint, builtin_worker.token, spawn=False)
    try:
        res = client.generate(prompt="a star", **FAST, timeout=60)
        assert res.images[0].to_numpy().shape == (32, 32, 4)
        got: list[str] = []
        req = client.submit_generate(prompt="a star", **FAST, on_event=lambda e: got.append(
            e.type))
        assert req.wait(60).type == "result" and got[0] == "queued" and got[-1] == "result"
        types = [e.type for e in client.submit_generate(prompt="a sun", **FAST).events(60)]
        assert types[0] == "queued" and types[-1] == "result"
        assert client.stray_events == 0 and client.lost_requests == []
    finally:
        client.close(stop_worker=False)


def test_client_crash_loses_nothing(builtin_worker):
    """The client vanishes right after submitting: the image still lands in the history."""
    r = Raw(builtin_worker.endpoint, builtin_worker.token)
    rid = r.send("generate", body=gen_body(prompt="a lost kite", seed=777, steps=20))
    assert r.recv().type == "queued"  # delivered (linger 0 would drop an unsent message)
    r.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(builtin_worker.history.rglob(f"*-{rid}-0-s777.json"))
        if found:
            break
        time.sleep(0.1)
    assert found, "no history entry for the crashed client's request"
    sidecar = json.loads(found[0].read_text())
    assert sidecar["provenance"]["prompt"] == "a lost kite"
    assert found[0].with_suffix(".png").exists()
