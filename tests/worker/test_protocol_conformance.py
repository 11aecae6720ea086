"""docs/protocol.md is the contract: play its own examples against a real worker.

The exchanges (```exchange blocks: ``→`` sent, ``←`` expected) and the JSON examples of the
capabilities and the result are parsed out of the doc, so the doc and the worker cannot drift
apart. The client side is a bare pyzmq DEALER with ``json``: no code of ours encodes or
decodes these messages, as for a client written by someone else from the doc alone.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
from worker_helpers import REPO, WorkerProc, start_worker

from worker import protocol as P

DOC = (REPO / "docs" / "protocol.md").read_text()
TERMINAL = {"result", "error", "cancelled"}
UNSHOWN_OK = {"heartbeat", "progress"}  # what an exchange may leave out between its lines
ANY = "…"


def exchanges() -> list[list[tuple[str, dict]]]:
    blocks = re.findall(r"```exchange\n(.*?)```", DOC, re.S)
    out = []
    for block in blocks:
        lines = []
        for line in block.strip().splitlines():
            arrow, _, text = line.partition(" ")
            assert arrow in ("→", "←"), f"an exchange line starts with → or ←: {line!r}"
            lines.append(("send" if arrow == "→" else "expect", json.loads(text)))
        out.append(lines)
    return out


def json_example(after_heading: str, index: int = 0) -> dict:
    """The ``index``-th ```json block after a heading of the doc."""
    start = DOC.index(after_heading)
    return json.loads(re.findall(r"```json\n(.*?)```", DOC[start:], re.S)[index])


EXCHANGES = exchanges()


def _title(lines: list[tuple[str, dict]]) -> str:
    first = lines[0][1]
    return f"{first['type']}-{first.get('id', '')}"


def matches(expected: Any, got: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and matches(v, got[k])
                                             for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(got, list) and len(got) == len(expected)
                and all(matches(e, g) for e, g in zip(expected, got, strict=True)))
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    return expected == got


def _with_token(obj: Any, token: str) -> Any:
    if obj == "<token>":
        return token
    if isinstance(obj, dict):
        return {k: _with_token(v, token) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_with_token(v, token) for v in obj]
    return obj


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path):
    """A real worker: the built-in backend on tiny random weights, sampling like the shipped
    model (anchor_strength 0.6: the doc's step totals)."""
    wp = start_worker(tmp_path_factory.mktemp("conformance"), "--backend", "builtin",
                      "--weights-dir", str(tiny_weights), "--backend-option",
                      'builtin.sampling={"anchor_strength": 0.6}')
    sock = _dealer(wp)
    try:
        _send(sock, {"v": "1.0", "type": "status", "id": "ready", "token": wp.token})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the model loads on the runner thread
            head, _ = _recv(sock, deadline)
            if head.get("id") == "ready" and head["body"].get("state") == "idle":
                break
            if head.get("id") == "ready":
                time.sleep(0.2)
                _send(sock, {"v": "1.0", "type": "status", "id": "ready", "token": wp.token})
    finally:
        sock.close(linger=0)
    yield wp
    wp.stop()


def _dealer(wp: WorkerProc) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(wp.endpoint)
    return sock


def _send(sock: zmq.Socket, header: dict) -> None:
    payloads = [bytes(math.prod(d["shape"])) for d in header.get("frames", [])]
    sock.send_multipart([json.dumps(header).encode(), *payloads])


def _recv(sock: zmq.Socket, deadline: float) -> tuple[dict, list[bytes]]:
    left = deadline - time.monotonic()
    if left <= 0 or not sock.poll(int(left * 1000) + 1):
        raise TimeoutError
    head, *payloads = sock.recv_multipart()
    return json.loads(head), payloads


def _check_frames(head: dict, payloads: list[bytes]) -> None:
    descs = head.get("frames", [])
    assert len(descs) == len(payloads), head
    for d, data in zip(descs, payloads, strict=True):
        # image frames are raw uint8 pixels; the worker's bytes frames (plan files) are text
        assert d["dtype"] in ("uint8", "bytes") and len(data) == math.prod(d["shape"]), (
            d, len(data))


@pytest.mark.parametrize("lines", EXCHANGES, ids=[_title(x) for x in EXCHANGES])
def test_the_docs_exchange_happens_as_written(worker: WorkerProc, lines):
    sock = _dealer(worker)
    received: list[dict] = []
    sent_ids: set[str] = set()
    try:
        for kind, obj in lines:
            if kind == "send":
                _send(sock, _with_token(obj, worker.token))
                if obj["type"] != "heartbeat":
                    sent_ids.add(obj["id"])
                continue
            deadline = time.monotonic() + 60
            while True:
                try:
                    head, payloads = _recv(sock, deadline)
                except TimeoutError:
                    pytest.fail(f"never received {json.dumps(obj)}\nreceived instead: "
                                + "\n".join(json.dumps(r)[:300] for r in received))
                _check_frames(head, payloads)
                received.append(head)
                if matches(obj, head):
                    break
                assert head["type"] in UNSHOWN_OK, (
                    f"an event the doc does not show, while waiting for {json.dumps(obj)}: "
                    f"{json.dumps(head)[:500]}")
        settle = time.monotonic() + 0.6  # anything late would break "one terminal event"
        while True:
            try:
                head, payloads = _recv(sock, settle)
            except TimeoutError:
                break
            received.append(head)
    finally:
        sock.close(linger=0)
    for rid in sent_ids:
        events = [r["type"] for r in received if r.get("id") == rid]
        terminals = [i for i, t in enumerate(events) if t in TERMINAL]
        assert len(terminals) == 1 and terminals[0] == len(events) - 1, (rid, events)


def test_the_docs_capabilities_and_result_examples_have_the_workers_fields(worker):
    sock = _dealer(worker)
    try:
        got = {}
        for rid, header in (("cap", {"type": "hello"}), ("models", {"type": "list_models"}),
                            ("gen", {"type": "generate", "body": {"prompt": "a red apple",
                                                                  "seed": 7, "steps": 2}})):
            _send(sock, {"v": "1.0", "id": rid, "token": worker.token, **header})
            deadline = time.monotonic() + 60
            while True:
                head, _ = _recv(sock, deadline)
                if head.get("id") == rid and head["type"] in TERMINAL:
                    assert head["type"] == "result", head
                    got[rid] = head["body"]
                    break
    finally:
        sock.close(linger=0)
    caps = json_example("### Capabilities (`hello`)")
    assert set(caps) == set(got["cap"])
    assert set(caps["limits"]) == set(got["cap"]["limits"])
    assert set(caps["models"][0]) == set(got["cap"]["models"][0])
    assert set(caps["models"][0]["generate_defaults"]) == set(
        got["cap"]["models"][0]["generate_defaults"])
    assert set(got["models"]) == {"models", "loras", "refused"}
    result = json_example("- `result` — frames `image`")
    assert set(result) == set(got["gen"])
    assert set(result["provenance"][0]) == set(got["gen"]["provenance"][0])
    assert set(result["timing"]) == set(got["gen"]["timing"])


def test_every_error_code_of_the_worker_is_in_the_docs_error_table():
    table = DOC[DOC.index("## Errors"):DOC.index("## Liveness")]
    documented = set(re.findall(r"^\| `(\w+)`", table, re.M))
    assert set(P.ERROR_CODES) <= documented, set(P.ERROR_CODES) - documented


def test_the_exchanges_cover_every_request_type_and_event_type():
    sent = {obj["type"] for lines in EXCHANGES for kind, obj in lines if kind == "send"}
    seen = {obj["type"] for lines in EXCHANGES for kind, obj in lines if kind == "expect"}
    # train is covered by tests/finetune (a folder of images); shutdown ends the worker
    assert P.REQUEST_TYPES - sent == {"train", "shutdown"}
    assert seen == P.EVENT_TYPES
