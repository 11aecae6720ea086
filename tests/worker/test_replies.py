"""Typed replies (worker/replies.py): every event body is checked at the client's edge.

Good bodies become dataclasses; a malformed one is an error naming the field. Against a real
worker the client hands out typed replies; against a worker that breaks the contract (a
ROUTER socket in this test) the request ends with ``bad_message`` naming the field, and the
client keeps working.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import zmq

from worker.client import WorkerClient, WorkerError
from worker.fields import ProtocolError
from worker.protocol import Image, Message
from worker.replies import (
    Cancelled,
    CancelResult,
    Capabilities,
    Failure,
    GenerateResult,
    ModelList,
    PlanResult,
    Progress,
    Queued,
    Status,
    TrainResult,
    UpscaleResult,
    read_reply,
)

PROV = {"prompt": "a red apple", "seed": 7, "steps": 20, "guidance": 3.0, "width": 2,
        "height": 2, "model": "builtin"}
RGBA = Image((2, 2, 4), bytes(16), "image")


def test_good_bodies_become_dataclasses():
    ev = read_reply("generate", Message("queued", "g", {"position": 2}))
    assert ev == Queued(position=2)
    p = read_reply("generate", Message("progress", "g", {"step": 1, "total": 3},
                                       [Image((2, 2, 4), bytes(16), "preview")]))
    assert isinstance(p, Progress) and (p.step, p.total) == (1, 3) and p.preview is not None
    t = read_reply("train", Message("progress", "t", {
        "step": 4, "total": 8, "phase": "sampling", "loss": 0.25, "samples": ["a circle"]},
        [Image((2, 2, 4), bytes(16), "sample")]))
    assert (t.phase, t.loss, t.samples, len(t.sample_images)) == ("sampling", 0.25,
                                                                  ["a circle"], 1)
    r = read_reply("generate", Message("result", "g", {
        "provenance": [PROV], "parameters": ["a red apple\nSteps: 20"], "warnings": [],
        "model": "builtin", "future_field": 1}, [RGBA]))
    assert isinstance(r, GenerateResult) and r.images == [RGBA]
    assert r.provenance_of(0)["parameters"].startswith("a red apple")
    e = read_reply("cancel", Message("error", "c", {"code": "unknown_request",
                                                    "message": "no such", "target": "x"}))
    assert e == Failure("unknown_request", "no such", {"target": "x"})
    assert read_reply("generate", Message("cancelled", "g", {"reason": "cancel", "step": 2})) \
        == Cancelled("cancel", 2)
    assert read_reply("cancel", Message("result", "c", {"target": "g", "was": "queued",
                                                        "at_step": 0})) == \
        CancelResult("g", "queued", 0)
    tr = read_reply("train", Message("result", "t", {
        "name": "ink-2", "requested_name": "ink", "steps": 8, "loss": 0.1, "images": 5,
        "skipped": [{"file": "a.gif", "reason": "not an image"}], "skipped_total": 1,
        "loras": ["ink", "ink-2"]}))
    assert isinstance(tr, TrainResult) and tr.skipped[0].file == "a.gif"
    up = read_reply("upscale", Message("result", "u", {"scale": 4, "width": 8, "height": 8,
                                                       "method": "learned"},
                                       [Image((8, 8, 4), bytes(256), "image")]))
    assert isinstance(up, UpscaleResult) and up.image is not None and up.image.width == 8
    plan = read_reply("plan", Message("result", "p", {
        "programme": {"rooms": []}, "variants": [{"index": 0, "frames": ["svg", "geometry"]}]},
        [Image.from_bytes("<svg/>", "svg"), Image.from_bytes("{}", "geometry")]))
    assert isinstance(plan, PlanResult) and plan.files_of(0)["svg"].text() == "<svg/>"
    caps = read_reply("hello", Message("result", "h", {
        "protocol": "1.0", "models": [{
            "id": "sd15", "sizes": [512], "default_size": 512,
            "train_defaults": {"batch": 2, "learning_rate": 1e-4},
            "generate_defaults": {"steps": 25, "guidance": 7, "scheduler": "euler",
                                  "width": 512, "height": 512}}],
        "refused": [{"backend": "diffusers", "file": "old.ckpt", "reason": "a pickle"}]}))
    assert isinstance(caps, Capabilities)
    model = caps.model("sd15")
    assert model is not None and model.defaults.steps == 25 and model.defaults.guidance == 7.0
    assert model.train_defaults is not None and model.train_defaults.given() == {
        "batch": 2, "learning_rate": 1e-4}
    assert caps.refused[0].file == "old.ckpt"
    status = read_reply("status", Message("result", "s", {"state": "idle", "running": None,
                                                          "artists": 3}))
    assert isinstance(status, Status) and status.extra == {"artists": 3}


MALFORMED = [
    ("generate", Message("progress", "g", {"step": "one", "total": 3}), "'step' must be a "
     "whole number, got str"),
    ("generate", Message("progress", "g", {"total": 3}), "'step' is missing"),
    ("generate", Message("progress", "g", {"step": -1, "total": 3}), "'step' and 'total'"),
    ("train", Message("progress", "t", {"step": 1, "total": 2, "samples": ["a"]}),
     "'samples' names 1 prompt(s) but 0 'sample' frame(s)"),
    ("train", Message("progress", "t", {"step": 1, "total": 2, "loss": True}),
     "'loss' must be a finite number, got bool"),
    ("generate", Message("queued", "g", {"position": 1.5}), "'position' must be a whole"),
    ("generate", Message("result", "g", {"warnings": []}, [RGBA]), "'provenance' is missing"),
    ("generate", Message("result", "g", {"provenance": [PROV, PROV]}, [RGBA]),
     "'provenance' has 2 entries for 1 image frame(s)"),
    ("generate", Message("result", "g", {"provenance": ["x"]}, [RGBA]),
     "'provenance[0]' must be an object"),
    ("generate", Message("result", "g", {"provenance": [PROV], "svg": [1]}, [RGBA]),
     "'svg[0]' must be a string"),
    ("generate", Message("error", "g", {"message": "no code"}), "'code' is missing"),
    ("train", Message("result", "t", {"name": "x", "skipped": [{"file": "a"}]}),
     "'skipped[0].reason' is missing"),
    ("upscale", Message("result", "u", {"scale": 4, "width": 8, "height": 8}), "one 'image'"),
    ("plan", Message("result", "p", {"programme": {}, "variants": [{"index": 0,
                                                                      "frames": ["svg"]}]}),
     "the variants name 1 file frame(s) but 0 came"),
    ("hello", Message("result", "h", {"models": [{"id": "x", "sizes": ["512"]}]}),
     "'models[0].sizes[0]' must be a whole number"),
    ("list_models", Message("result", "m", {"models": [{"id": "x", "generate_defaults": {
        "steps": 20, "guidance": 3.0, "width": 128}}]}),
     "'models[0].generate_defaults.height' is missing"),
    ("list_models", Message("result", "m", {"models": [], "refused": [{"file": "a.ckpt"}]}),
     "'refused[0].reason' is missing"),
    ("hello", Message("result", "h", {"models": {"id": "x"}}), "'models' must be a list"),
    ("cancel", Message("result", "c", {"target": "g"}, [RGBA]), "none expected"),
]


@pytest.mark.parametrize(("request_type", "msg", "says"), MALFORMED,
                         ids=[f"{t}-{m.type}-{i}" for i, (t, m, _) in enumerate(MALFORMED)])
def test_malformed_bodies_are_refused_naming_the_field(request_type, msg, says):
    with pytest.raises(ProtocolError) as err:
        read_reply(request_type, msg)
    assert err.value.code == "bad_message" and says in err.value.message, err.value.message
    assert "the worker's" in err.value.message and "malformed" in err.value.message


def test_a_real_worker_answers_in_typed_replies(builtin_worker):
    client = WorkerClient(builtin_worker.endpoint, builtin_worker.token, spawn=False)
    try:
        caps = client.hello(timeout=60)
        assert isinstance(caps, Capabilities) and caps.protocol == "1.0"
        builtin = caps.model("builtin")
        assert builtin is not None and builtin.generate_defaults is not None
        assert (builtin.defaults.steps, builtin.defaults.guidance) == (20, 3.0)
        assert isinstance(client.list_models(timeout=60), ModelList)
        assert client.status(timeout=30).state in ("idle", "busy")
        events: list[Message] = []
        req = client.submit_generate(prompt="a red apple", seed=3, width=32, height=32,
                                     steps=4, on_event=events.append)
        result = req.reply(GenerateResult, timeout=120)
        assert result.provenance[0]["seed"] == 3 and result.images[0].shape == (32, 32, 4)
        assert isinstance(events[0].reply, Queued)
        assert all(isinstance(e.reply, Progress) for e in events[1:-1])
        with pytest.raises(WorkerError, match="expected a TrainResult"):
            client.request("status").reply(TrainResult, timeout=30)
    finally:
        client.close(stop_worker=False)


class ContractBreaker:
    """A worker that speaks the protocol's envelope but breaks its bodies on request."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _send(self, identity: bytes, mtype: str, rid: str, body: dict,
              frames: list[bytes] | None = None, descs: list | None = None) -> None:
        head = {"v": "1.0", "type": mtype, "id": rid, "body": body}
        if descs:
            head["frames"] = descs
        self.sock.send_multipart([identity, json.dumps(head).encode(), *(frames or [])])

    def _serve(self) -> None:
        peers: set[bytes] = set()
        last_beat = 0.0
        while not self.stop.is_set():
            if time.monotonic() - last_beat > 0.2:
                for peer in peers:
                    self._send(peer, "heartbeat", "", {"session": "s1", "state": "idle"})
                last_beat = time.monotonic()
            if not self.sock.poll(50):
                continue
            identity, head, *_ = self.sock.recv_multipart()
            peers.add(identity)
            msg = json.loads(head)
            rid, mtype = msg.get("id", ""), msg["type"]
            if mtype == "hello":  # a model entry without its id
                self._send(identity, "result", rid, {"protocol": "1.0",
                                                     "models": [{"sizes": [64]}]})
            elif mtype == "generate":  # progress fine, then a result short of provenance
                self._send(identity, "queued", rid, {"position": 0})
                self._send(identity, "progress", rid, {"step": 1, "total": 1})
                self._send(identity, "result", rid, {"provenance": []}, [bytes(16)],
                           [{"name": "image", "shape": [2, 2, 4], "dtype": "uint8"}])
            elif mtype == "status":
                self._send(identity, "result", rid, {"state": "idle"})

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close(linger=0)
        self.ctx.term()


def test_a_worker_that_breaks_the_contract_ends_only_that_request():
    breaker = ContractBreaker()
    client = WorkerClient(breaker.endpoint, "", spawn=False)
    try:
        with pytest.raises(WorkerError) as err:
            client.hello(timeout=30)
        assert err.value.code == "bad_message" and "'models[0].id' is missing" in \
            err.value.message, err.value.message
        events: list[Message] = []
        req = client.submit_generate(prompt="a cat", on_event=events.append)
        end = req.wait(30)
        assert end.type == "error" and isinstance(end.reply, Failure)
        assert "'provenance' has 0 entries for 1 image frame(s)" in end.reply.message
        assert [e.type for e in events] == ["queued", "progress", "error"]  # one terminal
        assert client.status(timeout=30).state == "idle"  # the client keeps working
    finally:
        client.close(stop_worker=False)
        breaker.close()
