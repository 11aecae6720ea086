"""The gateway speaks the worker protocol and runs jobs on the Ray cluster's CPU workers.

One Ray cluster (head + 2 worker nodes on loopback) and one gateway process for the session
(conftest.py); real ZeroMQ clients: the stock ``WorkerClient`` that the panels use, and a raw
DEALER that sees every frame.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from cluster_helpers import wait_nodes_up
from finetune_helpers import make_folder

from worker import protocol as P
from worker.client import WorkerClient


def body(**kw) -> dict:
    return P.GenerateParams(**{"prompt": "a red apple", "width": 32, "height": 32,
                               "steps": 4, **kw}).to_body()


def client_for(gateway) -> WorkerClient:
    return WorkerClient(endpoint=gateway.endpoint, token=gateway.token, spawn=False)


def test_every_ray_node_listens_on_loopback_only(ray_cluster):
    """The test cluster's head and worker nodes run on 127.0.0.1, never on the machine's
    interface address (tests send no traffic off the loopback)."""
    nodes = ray_cluster.list_all_nodes()
    assert len(nodes) >= 3, nodes  # the head and two worker nodes
    assert {n.node_ip_address for n in nodes} == {"127.0.0.1"}
    assert ray_cluster.address.startswith("127.0.0.1:")


def test_a_stock_client_generates_through_the_gateway(gateway, tiny_backend):
    from t2i_core.backends.base import GenerateRequest

    # hello answers as soon as one slot is up; a gateway restarted by an earlier test
    # (test_cluster_failures.py) may still be adopting the second one
    wait_nodes_up(gateway, 2, timeout=240)
    client = client_for(gateway)
    events: list[P.Message] = []
    try:
        hello = client.hello(timeout=60)
        assert [m.id for m in hello.models] == ["builtin"]
        assert hello.cluster is not None and hello.cluster["nodes"] == 2
        assert hello.load_error == ""
        req = client.submit_generate(prompt="a red apple", seed=11, width=64, height=64,
                                     steps=6, on_event=events.append)
        result = req.result(timeout=60)
    finally:
        client.close()
    types = [e.type for e in events]
    assert types[0] == "queued" and types[-1] == "result" and "progress" in types
    previews = [e for e in events if e.type == "progress" and e.images]
    assert previews and previews[0].images[0].name == "preview"
    assert result.body["provenance"][0]["seed"] == 11
    assert result.body["cluster"]["node"].startswith("t2i-node-")
    # the node runs the same model code: the very pixels of an in-process generation
    local = tiny_backend.generate(GenerateRequest("a red apple", seed=11, width=64,
                                                  height=64, steps=6))
    np.testing.assert_array_equal(result.images[0].to_numpy(), local.images[0])


def test_bad_requests_are_answered_at_the_edge_and_never_queued(raw):
    cases = {"model_not_found": body(model="nope"), "bad_size": body(width=48),
             "empty_prompt": body(prompt="  ")}
    for code, b in cases.items():
        events = raw.until_terminal(raw.send("generate", body=b))
        assert [e.type for e in events] == ["error"] and events[0].error_code == code, events
    assert "installed: builtin" in raw.call("generate", body=body(model="nope")).body["message"]
    assert raw.call("shutdown").error_code == "unauthorized"  # shared: not a client's to stop
    assert raw.call("status").body["state"] in ("idle", "busy")


def test_load_8_clients_x_25_jobs_none_lost_none_duplicated(gateway, raw):
    before = raw.call("status").body
    clients = [client_for(gateway) for _ in range(8)]
    results: dict[tuple[int, int], P.Message] = {}
    lock = threading.Lock()

    def submit(c: int) -> None:
        reqs = [(i, clients[c].submit_generate(prompt=f"icon {c} {i}", seed=1000 * c + i,
                                               width=32, height=32, steps=2))
                for i in range(25)]
        for i, req in reqs:
            ev = req.wait(timeout=300)
            with lock:
                assert (c, i) not in results
                results[(c, i)] = ev

    try:
        threads = [threading.Thread(target=submit, args=(c,)) for c in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(400)
        assert len(results) == 200
        assert all(ev.type == "result" for ev in results.values()), \
            [ev.body for ev in results.values() if ev.type != "result"][:3]
        for (c, i), ev in results.items():
            assert ev.body["provenance"][0]["seed"] == 1000 * c + i
            assert ev.body["provenance"][0]["prompt"] == f"icon {c} {i}"
        for client in clients:
            assert client.stray_events == 0 and client.lost_requests == []
    finally:
        for client in clients:
            client.close()
    after = raw.call("status").body
    assert after["jobs_done"] - before["jobs_done"] == 200
    assert after["dispatched"] - before["dispatched"] == 200  # nothing ran twice
    nodes = {ev.body["cluster"]["node"] for ev in results.values()}
    assert len(nodes) == 2  # both nodes did work


def test_one_artists_batch_of_64_does_not_starve_anothers_single_image(gateway):
    from worker_helpers import Raw

    anna, ben = Raw(gateway.endpoint, gateway.token), Raw(gateway.endpoint, gateway.token)
    try:
        batch = [anna.send("generate", body=body(seed=i, steps=8)) for i in range(64)]
        while (ev := anna.recv(30)) is not None and ev.type != "progress":
            pass  # anna's batch is running
        single = ben.send("generate", body=body(seed=99, steps=8))
        ben_events = ben.until_terminal(single, timeout=120)
        anna_events = anna.collect(batch, timeout=300)
    finally:
        anna.close()
        ben.close()
    queued = ben_events[0]
    assert queued.type == "queued" and queued.body["position"] == 0  # next in line
    assert ben_events[-1].type == "result"
    ben_dispatch = ben_events[-1].body["cluster"]["dispatch"]
    anna_dispatches = [evs[-1].body["cluster"]["dispatch"] for evs in anna_events.values()]
    # anna's images that went to a node after ben asked and before ben's image did
    overtook = [d for d in anna_dispatches if queued.body["dispatched"] < d < ben_dispatch]
    assert len(overtook) <= 1, (queued.body, ben_dispatch, sorted(anna_dispatches)[:10])
    assert sum(d > ben_dispatch for d in anna_dispatches) >= 60  # the rest waited for ben
    # the panel's "waiting: n ahead" counts down: queued is sent again as the queue moves
    # (checked every 0.5 s, so the last one before the job starts need not say 0)
    last = [e.body["position"] for e in anna_events[batch[-1]] if e.type == "queued"]
    assert len(last) >= 3 and all(a > b for a, b in zip(last, last[1:], strict=False)), last


def test_cancel_reaches_the_running_job_within_one_step(raw):
    rid = raw.send("generate", body=body(steps=200, count=8, width=64, height=64))
    ev = None
    while ev is None or ev.type != "progress":
        ev = raw.recv(60)
        assert ev is not None and ev.id == rid
    cid = raw.send("cancel", body={"target": rid})
    got = raw.collect([rid, cid])
    ack, final = got[cid][-1], got[rid][-1]
    assert ack.type == "result" and ack.body["was"] == "running"
    assert final.type == "cancelled"
    assert final.body["step"] - ack.body["at_step"] <= 1, (final.body, ack.body)
    assert final.body["step"] < 200


def test_cancel_a_queued_job_and_unknown_ids(raw):
    blockers = [raw.send("generate", body=body(steps=100, count=4)) for _ in range(2)]
    queued = raw.send("generate", body=body())
    cid = raw.send("cancel", body={"target": queued})
    got = raw.collect([queued, cid, *blockers], timeout=120)
    assert got[queued][-1].type == "cancelled" and got[cid][-1].body["was"] == "queued"
    assert raw.call("cancel", body={"target": "never-sent"}).error_code == "unknown_request"
    assert "already finished" in raw.call("cancel", body={"target": queued}).body["message"]


def test_an_adapter_trained_on_one_node_is_used_on_every_node(raw, tmp_path: Path):
    folder = make_folder(tmp_path / "pics")
    train = P.TrainParams(folder=str(folder), name="teal", steps=6, batch=4,
                          checkpoint_every=5, sample_every=0).to_body()
    done = raw.until_terminal(raw.send("train", body=train), timeout=240)[-1]
    assert done.type == "result", done.body
    name = done.body["name"]
    assert name in raw.call("list_models").body["loras"]
    lora = [P.LoraParam(name, 1.0)]
    ids = [raw.send("generate", body=body(steps=60, count=4, loras=lora)) for _ in range(2)]
    got = raw.collect(ids, timeout=120)
    finals = [got[i][-1] for i in ids]
    assert all(f.type == "result" for f in finals), [f.body for f in finals]
    assert {f.body["cluster"]["node"] for f in finals} == {"t2i-node-0", "t2i-node-1"}
    assert all(f.body["provenance"][0]["loras"][0]["name"] == name for f in finals)


def test_t2i_generate_works_unchanged_against_the_gateway(gateway, tmp_path: Path):
    import os
    import subprocess
    import sys

    from cluster_helpers import ENV, REPO
    from PIL import Image

    out = tmp_path / "apple.png"
    proc = subprocess.run(
        [sys.executable, "-m", "worker.commands", "generate", "a red apple", "--seed", "3",
         "--size", "32", "--steps", "3", "--endpoint", gateway.endpoint, "-o", str(out)],
        cwd=REPO, env={**os.environ, **ENV, "T2I_WORKER_TOKEN": gateway.token},
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Image.open(out) as im:
        assert im.size == (32, 32) and "seed: 3" in im.info["parameters"].lower()
