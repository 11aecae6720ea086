"""Vector output through the real worker: the ``vector`` request field is checked at the
edge, the built-in model lists vector output, and a vector result carries one SVG per image
with the raster rendered from it at the requested size."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from t2i_core.vector import render_svg
from worker import protocol as P
from worker.client import WorkerClient


def test_vector_is_a_checked_boolean_field():
    params, unknown = P.GenerateParams.from_body({"prompt": "x", "vector": True})
    assert params.vector is True and unknown == []
    assert P.GenerateParams.from_body({"prompt": "x"})[0].vector is False
    assert P.GenerateParams(prompt="x", vector=True).to_body()["vector"] is True
    for bad in (1, "yes", None, [True]):
        with pytest.raises(P.ProtocolError, match="'vector' must be true or false"):
            P.GenerateParams.from_body({"prompt": "x", "vector": bad})


def test_a_result_header_may_carry_svg_text_a_request_may_not():
    svg = "<svg/>" + " " * (200 * 1024)
    result = P.Message("result", "r1", {"svg": [svg]})
    assert P.decode(P.encode(result), requests=False).body["svg"] == [svg]
    with pytest.raises(ValueError, match="limit"):
        P.encode(P.Message("generate", "r2", {"prompt": svg}))


def test_the_builtin_model_offers_vector_output(raw):
    (model,) = raw.call("hello").body["models"]
    assert model["vector"] is True


def test_a_bad_vector_field_is_answered_and_the_worker_keeps_serving(raw):
    rid = raw.send("generate", body={"prompt": "a red apple", "vector": "yes"})
    (err,) = [e for e in raw.until_terminal(rid) if e.type == "error"]
    assert err.error_code == "bad_message" and "vector" in err.body["message"]
    assert raw.call("status").type == "result"


def test_vector_result_has_an_svg_per_image_and_rasters_rendered_from_it(builtin_worker):
    with WorkerClient(endpoint=builtin_worker.endpoint, token=builtin_worker.token,
                      spawn=False) as client:
        ev = client.generate(P.GenerateParams(prompt="a red apple", seed=9, width=128,
                                              height=128, count=2, steps=2, vector=True),
                             timeout=120)
    svgs = ev.body["svg"]
    assert len(svgs) == 2 == len(ev.images)
    for svg, image, prov in zip(svgs, ev.images, ev.body["provenance"], strict=True):
        root = ET.fromstring(svg)
        assert root.get("viewBox") == "0 0 32 32" and root.get("width") == "128"
        assert image.shape == (128, 128, 4)
        assert np.array_equal(image.to_numpy(), render_svg(svg, 128))
        assert prov["vector"] is True and prov["width"] == 128
    assert "Vector: svg" in ev.body["parameters"][0]
    # the worker's history keeps the drawing beside the PNG, named in the sidecar
    assert len(ev.body["history"]) == 2
    for png, svg in zip(ev.body["history"], svgs, strict=True):
        stem = Path(png).with_suffix("")
        assert stem.with_suffix(".svg").read_text() == svg
        assert json.loads(stem.with_suffix(".json").read_text())["svg"] == stem.name + ".svg"


def test_t2i_generate_writes_the_svg_through_the_worker(builtin_worker, tmp_path):
    """The real ``t2i`` command: ``-o icon.svg`` asks the worker for vector output and
    writes the drawing, its provenance inside, nothing else."""
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "icon.svg"
    res = subprocess.run([sys.executable, "-m", "worker.commands", "generate", "a star", "-o",
                          str(out), "--size", "128", "--steps", "2", "--seed", "5",
                          "--endpoint", builtin_worker.endpoint],
                         env={**os.environ, "T2I_WORKER_TOKEN": builtin_worker.token},
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    root = ET.fromstring(out.read_text())
    assert root.get("width") == "128" and root.get("viewBox") == "0 0 32 32"
    meta = next(el for el in root if el.tag.endswith("metadata"))
    prov = json.loads(meta.text)
    assert prov["vector"] is True and prov["seed"] == 5 and prov["width"] == 128
    assert sorted(p.name for p in tmp_path.iterdir()) == ["icon.svg"]
