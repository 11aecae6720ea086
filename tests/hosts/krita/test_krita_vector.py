"""Vector layers in real Krita (Debian's krita 5.1 under Xvfb), the plugin installed from
its zip: the host adapter turns an SVG drawing into a Krita vector layer of editable shapes
(``VectorLayer.addShapesFromSvg``) at the requested place and size; the docker's Vector
option generates one through the worker; the saved .kra keeps the shapes."""

from __future__ import annotations

import json

import pytest
from krita_host import Kra, build_zip, checkout_python, install_plugin, krita_or_fail, run_scenario

pytestmark = pytest.mark.slow

DRAWING = ('<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
           '<path fill="#ff0000" fill-rule="evenodd" d="M2 2L30 2L30 30L2 30ZM10 10L10 22'
           'L22 22L22 10Z"/><path fill="#0000ff" d="M14 14C16 12 18 14 18 16C18 18 16 19 14 '
           '18Z"/></svg>')
AT = [64, 32, 128, 128]


@pytest.fixture(scope="module")
def krita_vector(tmp_path_factory) -> dict:
    krita_or_fail()
    tmp = tmp_path_factory.mktemp("krita-vector")
    home = tmp / "home"
    home.mkdir()
    install_plugin(home, build_zip(tmp), {
        "mode": "start", "python": checkout_python(tmp),
        "worker_args": f"--threads 1 --history-dir {tmp / 'history'}"})
    out = tmp / "out"
    report, log = run_scenario(home, {
        "kind": "vector", "width": 256, "height": 256, "svg": DRAWING, "at": AT,
        "panel_vector": True, "prompt": "a red apple", "seed": 7, "steps": 8, "size": 128,
        "out_dir": str(out), "kra": str(out / "vector.kra"),
        "screenshot": str(out / "krita_vector.png"), "timeout": 300})
    assert report["ok"], f"{report.get('error')}\n{json.dumps(report)[:3000]}\n{log[-4000:]}"
    return {"report": report, "out": out, "kra": Kra(out / "vector.kra")}


def test_the_adapter_inserts_a_vector_layer_with_the_drawings_shapes(krita_vector):
    inserted = krita_vector["report"]["inserted"]
    assert [v["name"] for v in inserted] == ["drawing"]
    shapes = inserted[0]["shapes"]
    assert len(shapes) >= 2, shapes  # the red frame and the blue dot, editable
    text = " ".join(s["svg"] for s in shapes).lower()
    assert "#ff0000" in text and "#0000ff" in text
    # the frame spans the drawing's 2..30 of 32 units, scaled into AT (72 dpi: pt = px)
    x, y, w, h = AT
    frame = max(shapes, key=lambda s: s["box"][2] * s["box"][3])["box"]
    assert frame[0] == pytest.approx(x + 2 * w / 32, abs=1.5)
    assert frame[1] == pytest.approx(y + 2 * h / 32, abs=1.5)
    assert frame[2] == pytest.approx(28 * w / 32, abs=2.5)
    assert frame[3] == pytest.approx(28 * h / 32, abs=2.5)


def test_the_vector_option_generates_a_vector_layer(krita_vector):
    report = krita_vector["report"]
    assert report["vector_option_enabled"], "the built-in model offers vector output"
    assert report["result_svg"].startswith("<svg")
    assert report["result_provenance"]["vector"] is True
    names = [v["name"] for v in report["vector_layers"]]
    assert len(names) == 2 and "drawing" in names, report["layers"]
    generated = [v for v in report["vector_layers"] if v["name"] != "drawing"][0]
    assert generated["shapes"], "the generated vector layer has no shapes"


def test_the_saved_kra_keeps_the_vector_layers_and_shapes(krita_vector):
    kra = krita_vector["kra"]
    kinds = [(la["name"], la["nodetype"]) for la in kra.layers()]
    assert ("drawing", "shapelayer") in kinds, kinds
    reopened = krita_vector["report"]["reopened"]
    assert len(reopened) == 2
    by_name = {v["name"]: len(v["shapes"]) for v in reopened}
    inserted = krita_vector["report"]["inserted"][0]
    assert by_name["drawing"] == len(inserted["shapes"])
    assert all(by_name.values())
