"""The wire format in-process: round trips, every validation rule, and a decode fuzz."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worker_helpers import REPO

from worker import protocol as P
from worker.jobs import FairQueue, Job


def header(**kw) -> bytes:
    base = {"v": P.PROTOCOL_VERSION, "type": "status", "id": "r1", "token": "t"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def test_round_trip_with_images_is_zero_copy():
    img = np.arange(8 * 6 * 4, dtype=np.uint8).reshape(8, 6, 4)
    mask = np.full((8, 6), 255, np.uint8)
    msg = P.Message("generate", "g-1", P.GenerateParams("a cat", seed=3).to_body(),
                    [P.Image.from_numpy(img, "init_image"), P.Image.from_numpy(mask, "mask")],
                    token="tok")
    frames = P.encode(msg)
    assert len(frames) == 3 and frames[1].obj is img  # the numpy buffer itself, not a copy
    back = P.decode(frames)
    assert (back.type, back.id, back.token) == ("generate", "g-1", "tok")
    assert np.array_equal(back.images[0].to_numpy(), img)
    assert back.images[1].shape == (8, 6) and back.images[1].name == "mask"
    params, unknown = P.GenerateParams.from_body(back.body)
    assert params == P.GenerateParams("a cat", seed=3) and unknown == []


def test_generate_params_mirror_the_backend_request():
    # The client cannot import t2i_core, so the field list is duplicated: keep them in step.
    from t2i_core.backends.base import GenerateRequest

    core = {f.name for f in dataclasses.fields(GenerateRequest)} - {"init_image", "mask"}
    assert {f.name for f in dataclasses.fields(P.GenerateParams)} == core
    # Left out on the wire (None): the worker fills the model's own; the built-in model's
    # are the core request's defaults, at its default size (128).
    builtin = {**P.GENERATE_DEFAULTS, "width": 128, "height": 128}
    for f in dataclasses.fields(P.GenerateParams):
        if f.name == "loras" or f.default is dataclasses.MISSING:
            continue
        core_default = GenerateRequest.__dataclass_fields__[f.name].default
        if f.name in P.MODEL_DEPENDENT:
            assert f.default is None and builtin[f.name] == core_default, f.name
        else:
            assert f.default == core_default, f.name
    assert P.GenerateParams("a cat").to_body().keys().isdisjoint(P.MODEL_DEPENDENT)
    params, _ = P.GenerateParams.from_body({"prompt": "a cat", "steps": None})
    assert params.steps is None and params.filled({"steps": 25}).steps == 25
    assert P.GenerateParams("a", steps=3).filled({"steps": 25}).steps == 3


def test_train_params_mirror_the_core_train_request():
    # TrainParams is the wire copy of t2i_core's TrainRequest (the client cannot import the
    # core): same fields, same defaults; the model-dependent ones are None on the wire and
    # P.TRAIN_DEFAULTS holds the core's values for them.
    from t2i_core.finetune.request import TrainRequest

    core = {f.name: f for f in dataclasses.fields(TrainRequest)}
    wire = {f.name: f for f in dataclasses.fields(P.TrainParams)}
    assert wire.keys() == core.keys()
    for name, f in wire.items():
        c = core[name]
        if name in P.TRAIN_DEFAULTS:
            assert f.default is None and P.TRAIN_DEFAULTS[name] == c.default, name
        elif f.default_factory is not dataclasses.MISSING:
            assert f.default_factory() == c.default_factory(), name
        else:
            assert f.default == c.default, name


@pytest.mark.parametrize("frames, code", [
    ([], "bad_message"),
    ([b"\xff\xfe"], "bad_message"),
    ([b"[1, 2]"], "bad_message"),
    ([b'{"v": "1.0", "type": "status", "id": "x", "n": NaN}'], "bad_message"),
    ([b"[" * 100_000], "bad_message"),  # deep nesting: RecursionError inside json
    ([b" " * (P.MAX_HEADER_BYTES + 1)], "bad_message"),
    ([header(v="2.0")], "version_mismatch"),
    ([header(v=1.0)], "bad_message"),
    ([header(type="rm -rf")], "unknown_type"),
    ([header(type="result")], "unknown_type"),  # events are not requests
    ([header(id="")], "bad_message"),
    ([header(id="a b")], "bad_message"),
    ([header(id="x" * 65)], "bad_message"),
    ([header(token=5)], "bad_message"),
    ([header(body=[])], "bad_message"),
    ([header(frames=[{"name": "mask", "shape": [2, 2], "dtype": "uint8"}])], "bad_frames"),
    ([header(), b"abc"], "bad_frames"),
    ([header(frames=[{"name": "mask", "shape": [2, 2], "dtype": "uint8"}]), b"abc"],
     "bad_frames"),
    ([header(frames=[{"name": "mask", "shape": [2, 2], "dtype": "float32"}]), b"a" * 16],
     "bad_frames"),
    ([header(frames=[{"name": "m", "shape": [0, 2], "dtype": "uint8"}]), b""], "bad_frames"),
    ([header(frames=[{"name": "m", "shape": [5000, 1], "dtype": "uint8"}]), b"a" * 5000],
     "bad_frames"),
    ([header(frames=[{"name": "m", "shape": [2, True], "dtype": "uint8"}]), b"a" * 2],
     "bad_frames"),
    ([header(frames=[{"name": "Bad Name", "shape": [1, 1], "dtype": "uint8"}]), b"a"],
     "bad_frames"),
    ([header(frames=["x"] * 5), *[b"a"] * 5], "bad_frames"),
])
def test_decode_rejects(frames, code):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frames)
    assert e.value.code == code
    assert e.value.code in P.ERROR_CODES and e.value.message


def test_error_keeps_the_request_id_when_readable():
    with pytest.raises(P.ProtocolError) as e:
        P.decode([header(v="9.1", id="keep-me")])
    assert e.value.request_id == "keep-me"
    assert P.peek_id(b'{"id": "abc", "v": 3}') == "abc"
    assert P.peek_id(b"garbage") == ""


def test_minor_versions_are_compatible_and_unknown_fields_reported():
    msg = P.decode([header(v="1.7", type="generate", body={"prompt": "x", "future": 1})])
    params, unknown = P.GenerateParams.from_body(msg.body)
    assert params.prompt == "x" and unknown == ["future"]


@pytest.mark.parametrize("body", [
    {}, {"prompt": 3}, {"prompt": "x", "seed": "1"}, {"prompt": "x", "seed": True},
    {"prompt": "x", "seed": 1.5}, {"prompt": "x", "guidance": "big"},
    {"prompt": "x", "loras": {"a": 1}}, {"prompt": "x", "loras": [{"weight": 1}]},
    {"prompt": "x", "loras": [{"name": "a", "weight": None}]},
    {"prompt": "x", "loras": [{"name": "a"}] * 33},
])
def test_generate_body_types(body):
    with pytest.raises(P.ProtocolError) as e:
        P.GenerateParams.from_body(body)
    assert e.value.code == "bad_message"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
header_dicts = st.fixed_dictionaries({}, optional={
    "v": st.sampled_from(["1.0", "1.3", "2.0", "x", 1]) | json_values,
    "type": st.sampled_from(sorted(P.REQUEST_TYPES)) | json_values,
    "id": st.sampled_from(["a", "b-2"]) | json_values,
    "token": st.just("t") | json_values,
    "body": json_values,
    "frames": st.lists(st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["init_image", "mask"]) | json_values,
        "shape": st.lists(st.integers(-2, 9), max_size=4) | json_values,
        "dtype": st.just("uint8") | json_values}), max_size=3) | json_values,
})


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header_dicts, st.lists(st.binary(max_size=300), max_size=4), st.booleans())
def test_decode_fuzz_only_raises_protocol_errors(hdr, payloads, requests):
    frames = [json.dumps(hdr).encode(), *payloads]
    try:
        msg = P.decode(frames, requests=requests)
    except P.ProtocolError as e:
        assert e.code in P.ERROR_CODES
        return
    if msg.type == "generate":
        try:
            P.GenerateParams.from_body(msg.body)
        except P.ProtocolError as e:
            assert e.code == "bad_message"


def test_client_side_modules_import_without_numpy_or_t2i_core():
    code = ("import sys, worker.client, worker.protocol; "
            "bad = [m for m in ('numpy', 'torch', 't2i_core', 'PIL') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def job(client: bytes, i: int) -> Job:
    return Job(client, f"{client.decode()}{i}", None, {})


def test_fair_queue_takes_turns_and_reports_positions():
    q = FairQueue()
    positions = [q.put(job(b"a", i)) for i in range(4)]
    assert positions == [0, 1, 2, 3]
    assert q.put(job(b"b", 0)) == 1  # one of a's jobs goes first, then b's
    assert q.put(job(b"c", 0)) == 2
    order = [q.get(timeout=0).id for _ in range(6)]
    assert order == ["a0", "b0", "c0", "a1", "a2", "a3"]
    assert q.get(timeout=0) is None


def test_fair_queue_remove_and_limit():
    q = FairQueue(per_client_limit=2)
    q.put(job(b"a", 0))
    q.put(job(b"a", 1))
    assert q.put(job(b"a", 2)) is None
    assert q.remove((b"a", "a0")).id == "a0"
    assert q.remove((b"a", "a0")) is None and q.remove((b"z", "a0")) is None
    assert len(q) == 1 and [j.id for j in q.drain()] == ["a1"] and len(q) == 0


def test_model_cache_builds_each_backend_once_and_names_models():
    from worker_helpers import BUILT

    from worker.models import ModelCache, ModelNotFound

    BUILT.clear()
    cache = ModelCache(["worker_helpers:counting_backend"],
                       {"worker_helpers:counting_backend": {"step_time": 0.0}})
    cache.load()
    for _ in range(3):
        backend, info = cache.resolve("synthetic")
        assert info.id == "synthetic" and backend.name == "synthetic"
    assert BUILT == [{"step_time": 0.0}]
    with pytest.raises(ModelNotFound, match="installed: synthetic"):
        cache.resolve("sdxl")
    assert cache.model_dicts()[0]["sizes"][0] == 32 and cache.device() == "cpu"


def test_history_writes_png_chunks_and_sidecars(tmp_path):
    from PIL import Image

    from t2i_core.backends.base import Provenance
    from worker.history import History

    imgs = [np.full((8, 8, 4), i * 40, np.uint8) for i in range(3)]
    provs = [Provenance("a cat", "dog", 5 + i, 20, 3.0, 8, 8, "builtin", "builtin", "ab" * 32)
             for i in range(3)]
    paths = History(tmp_path).save("req.1", imgs, provs, {"worker_session": "s"})
    again = History(tmp_path).save("req.1", imgs[:1], provs[:1])  # same second, same id
    assert len(set(paths + again)) == 4
    for path, img, prov in zip(paths, imgs, provs, strict=True):
        with Image.open(path) as im:
            assert np.array_equal(np.asarray(im), img)
            assert im.info["parameters"] == prov.a1111_parameters()
            assert json.loads(im.info["t2i-provenance"]) == prov.to_dict()
        side = json.loads(Path(path[:-4] + ".json").read_text(encoding="utf-8"))
        assert side["provenance"] == prov.to_dict() and side["worker_session"] == "s"
    assert not list(tmp_path.rglob("*.tmp"))
