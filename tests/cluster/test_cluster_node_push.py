"""A worker slot's progress events over ZeroMQ (node.py, no Ray): with the gateway's event
endpoint in the job, every progress event goes there, tagged with the gateway's token, the
job and the dispatch, and only the terminal event is yielded (the Ray path), saying how many
went before it; without an endpoint every event is yielded, as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zmq

from worker import protocol as P
from worker.cluster.node import EVENT, TERMINAL, NodeWorker

REQUEST = {"prompt": "a red apple", "width": 32, "height": 32, "steps": 4, "seed": 1}


@pytest.fixture(scope="module")
def node(tiny_weights: Path):
    worker = NodeWorker(["builtin"], {"builtin": {"weights_dir": tiny_weights}}, "t2i-node-x",
                        progress_interval=0.0)
    return worker  # its runner thread is a daemon


def spec(uid: str, **more) -> dict:
    return {"uid": uid, "id": f"req-{uid}", "kind": "generate", "body": dict(REQUEST), **more}


def test_progress_goes_to_the_gateway_socket_and_the_terminal_counts_it(node):
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    try:
        events = {"endpoint": f"tcp://127.0.0.1:{port}", "token": "t0ken", "run": 3}
        yielded = list(node.run(spec("u1", events=events)))
        assert [kind for kind, _, _ in yielded] == [TERMINAL]  # nothing else through Ray
        (_, frames, pushed), = yielded
        assert json.loads(frames[0])["type"] == "result"
        assert pushed == 4  # one progress event per step (progress_interval 0)
        got = [pull.recv_multipart() for _ in range(pushed)]
        assert all(f[:3] == [b"t0ken", b"u1", b"3"] for f in got)
        steps = [P.decode(f[3:], requests=False).body["step"] for f in got]
        assert steps == [1, 2, 3, 4]
        assert pull.poll(200) == 0  # and nothing more
    finally:
        pull.close(linger=0)


def test_without_an_endpoint_every_event_comes_through_the_generator(node):
    yielded = list(node.run(spec("u2")))
    kinds = [kind for kind, _, _ in yielded]
    assert kinds == [EVENT] * 4 + [TERMINAL]
    assert all(pushed == 0 for _, _, pushed in yielded)
