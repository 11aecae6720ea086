"""Hostile input against the real worker: it answers or drops every message, and keeps serving.

Thousands of malformed, truncated, oversized and wrong-typed multipart messages go through a
real DEALER socket to the real worker process. After every batch a ``status`` probe must be
answered, every reply must itself be a valid protocol event, and at the end a real generate
request must succeed.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worker_helpers import Raw

from worker import protocol as P

json_scalar = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
               | st.text(max_size=30))
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                          max_leaves=20)
# A valid shutdown would (correctly) stop the worker; test_worker_security covers it.
REQUESTS = sorted(P.REQUEST_TYPES - {"shutdown"})
VALID_BODY = {"prompt": "a cat", "width": 32, "height": 32, "steps": 1}


@st.composite
def mutated_request(draw) -> list[bytes]:
    """A valid-looking message with one part broken: a field retyped, removed or bogus."""
    token = draw(st.sampled_from(["TOKEN", "", "wrong"]))
    hdr = {"v": P.PROTOCOL_VERSION, "type": draw(st.sampled_from(REQUESTS)),
           "id": f"fz-{draw(st.integers(0, 10**6))}", "token": token,
           "body": dict(VALID_BODY)}
    payloads: list[bytes] = []
    if draw(st.booleans()):
        h, w, c = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.sampled_from(
            [4, 3, 1, 2]))
        hdr["frames"] = [{"name": draw(st.sampled_from(["init_image", "mask", "x"])),
                          "shape": [h, w, c], "dtype": "uint8"}]
        size = h * w * c + draw(st.sampled_from([0, 0, -1, 1, -h * w * c]))  # truncated too
        payloads.append(b"\x7f" * max(0, size))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(["v", "type", "id", "token", "body", "frames", "extra"]))
        action = draw(st.sampled_from(["retype", "delete", "body_field"]))
        if action == "delete":
            hdr.pop(key, None)
        elif action == "retype":
            hdr[key] = draw(json_value)
        elif isinstance(hdr.get("body"), dict):
            field = draw(st.sampled_from([*VALID_BODY, "seed", "count", "loras", "guidance",
                                          "strength", "model", "target", "zzz"]))
            hdr["body"][field] = draw(json_value)
    raw_header = json.dumps(hdr, allow_nan=True).encode()
    if draw(st.integers(0, 9)) == 0:
        raw_header = raw_header[: draw(st.integers(0, len(raw_header)))]  # truncated JSON
    extra = draw(st.lists(st.binary(max_size=64), max_size=2))
    return [raw_header, *payloads, *extra]


garbage_message = st.lists(st.binary(max_size=200), min_size=1, max_size=5)
oversized_header = st.integers(P.MAX_HEADER_BYTES - 10, P.MAX_HEADER_BYTES + 50).map(
    lambda n: [b'{"v":"1.0","type":"status","id":"big","pad":"' + b"x" * n + b'"}'])
any_message = st.one_of(mutated_request(), mutated_request(), garbage_message,
                        oversized_header)


def check_replies(raw: Raw, probe: str, queued: set[str], timeout: float = 20.0) -> None:
    """Read until the probe's answer; every reply on the way must be a valid event."""
    deadline = time.monotonic() + timeout
    while True:
        msg = raw.recv(deadline - time.monotonic())  # decode() raises on an invalid event
        assert msg is not None, "the worker stopped answering"
        assert msg.type in P.EVENT_TYPES
        if msg.type == "error":
            assert isinstance(msg.body.get("code"), str) and msg.body.get("message")
            _codes[msg.body["code"]] = _codes.get(msg.body["code"], 0) + 1
        elif msg.id != probe:
            _codes[msg.type] = _codes.get(msg.type, 0) + 1
        if msg.type == "queued":
            queued.add(msg.id)
        elif msg.is_terminal:
            queued.discard(msg.id)
        if msg.id == probe:
            assert msg.type == "result" and msg.body["state"] in ("idle", "busy")
            return


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # 64 KiB reprs
@settings(max_examples=800, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(batch=st.lists(any_message, min_size=1, max_size=8))
def test_fuzz_worker_survives_hostile_messages(builtin_worker, batch):
    raw = _shared_raw(builtin_worker)
    for frames in batch:
        frames = [f.replace(b'"TOKEN"', json.dumps(builtin_worker.token).encode())
                  for f in frames]
        raw.sock.send_multipart(frames)
        _stats["messages"] += 1
        _stats["frames"] += len(frames)
    check_replies(raw, raw.send("status"), _queued)


_stats = {"messages": 0, "frames": 0}
_queued: set[str] = set()
_codes: dict[str, int] = {}  # replies seen, by error code or event type (printed with -s)
_raws: dict[str, Raw] = {}


def _shared_raw(wp) -> Raw:
    if wp.endpoint not in _raws:
        _raws[wp.endpoint] = Raw(wp.endpoint, wp.token)
    return _raws[wp.endpoint]


def test_fuzz_then_real_request_succeeds(builtin_worker):
    """Runs after the fuzz (file order): clean up its jobs, then a normal request works."""
    if not _stats["messages"]:
        pytest.skip("checks the state the fuzz test above leaves; run the whole file")
    raw = _shared_raw(builtin_worker)
    assert _stats["messages"] >= 1000, _stats  # thousands of hostile frames went in
    for rid in list(_queued):  # fuzzed generate requests that were valid: stop them
        raw.send("cancel", body={"target": rid})
    deadline = time.monotonic() + 120
    while _queued and time.monotonic() < deadline:
        check_replies(raw, raw.send("status"), _queued)
    assert not _queued
    res = raw.call("generate", body={**VALID_BODY, "prompt": "a house"})
    assert res.type == "result" and res.images[0].shape == (32, 32, 4)
    raw.close()
    _raws.clear()
    print(f"fuzz: {_stats['messages']} messages, {_stats['frames']} frames; replies {_codes}")


def test_oversized_frames_are_dropped_and_worker_keeps_serving(builtin_worker):
    raw = Raw(builtin_worker.endpoint, builtin_worker.token)
    try:
        huge = b"\0" * (P.MAX_FRAME_BYTES + P.MAX_HEADER_BYTES + 1)  # over MAXMSGSIZE
        hdr = {"v": "1.0", "type": "generate", "id": "huge", "token": builtin_worker.token,
               "body": VALID_BODY, "frames": [{"name": "init_image", "shape": [4096, 4096, 4],
                                               "dtype": "uint8"}]}
        raw.sock.send_multipart([json.dumps(hdr).encode(), huge])
        del huge
        # ZeroMQ drops the connection of a peer over MAXMSGSIZE; the DEALER reconnects.
        deadline = time.monotonic() + 30
        answered = False
        while not answered and time.monotonic() < deadline:
            rid = raw.send("status")
            while (msg := raw.recv(timeout=1.0)) is not None:
                answered |= msg.id == rid
                assert msg.id != "huge" or msg.type == "error"
        assert answered
    finally:
        raw.close()


def test_raw_tcp_garbage_does_not_hurt(builtin_worker, raw):
    host, port = builtin_worker.endpoint.removeprefix("tcp://").rsplit(":", 1)
    for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\xff" * 10_000, b"\x00" * 64):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(junk)
    assert raw.call("status").type == "result"
