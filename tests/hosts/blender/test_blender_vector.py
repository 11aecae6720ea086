"""Vector results in a real Blender (Debian's blender 3.4, headless): the add-on turns an
SVG drawing into curve objects with Blender's own importer, and a generation with Vector
on brings curves next to the image datablock; the .blend keeps them."""

from __future__ import annotations

import json

import pytest
from blender_host import (
    SCRIPTS,
    blender_env,
    blender_or_fail,
    build_addon,
    checkout_python,
    run_blender,
)

pytestmark = pytest.mark.slow

DRAWING = ('<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
           '<path fill="#ff0000" fill-rule="evenodd" d="M2 2L30 2L30 30L2 30ZM10 10L10 22'
           'L22 22L22 10Z"/><path fill="#0000ff" d="M14 14C16 12 18 14 18 16C18 18 16 19 14 '
           '18Z"/></svg>')


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    blender_or_fail()
    tmp = tmp_path_factory.mktemp("blender_vector")
    zip_path = tmp / "t2i_studio-blender.zip"
    build_addon(zip_path)
    out = tmp / "out"
    out.mkdir()
    cfg = {"zip": str(zip_path), "python": checkout_python(tmp), "out_dir": str(out),
           "worker_args": "--no-history --threads 1 --log-level WARNING", "svg": DRAWING,
           "prompt": "a red apple", "seed": 7, "steps": 6, "timeout": 180}
    (tmp / "config.json").write_text(json.dumps(cfg))
    run_blender(["--python", str(SCRIPTS / "vector_in_blender.py")],
                blender_env(tmp, T2I_BLENDER_TEST_CONFIG=str(tmp / "config.json")),
                tmp / "run.log")
    return json.loads((out / "vector_run.json").read_text())


def test_an_svg_drawing_becomes_curve_objects_with_its_colours(run):
    drawing = run["drawing"]
    objs = drawing["objects"]
    assert len(objs) == 2 and all(o["type"] == "CURVE" for o in objs), objs
    assert all(o["bezier_points"] >= 3 for o in objs)
    frame = max(objs, key=lambda o: o["splines"])
    assert frame["splines"] == 2  # the outline and its hole
    colours = sorted(tuple(round(c, 2) for c in o["colour"]) for o in objs)
    assert colours == [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0)]  # the fills, as materials
    assert json.loads(drawing["provenance"]) == {"prompt": "a frame"}
    assert all(json.loads(o["provenance"]) == {"prompt": "a frame"} for o in objs)


def test_a_vector_generation_adds_curves_next_to_the_image(run):
    gen = run["generated"]
    assert gen["vector_param"] is True
    assert len(gen["images"]) == 1 and len(gen["curves"]) == 1
    objs = gen["objects"]
    assert objs and all(o["type"] == "CURVE" for o in objs)
    assert all(o["image"] == gen["images"][0] for o in objs)  # they say which image
    prov = json.loads(objs[0]["provenance"])
    assert prov["vector"] is True and prov["prompt"] == "a red apple" and prov["seed"] == 7


def test_the_blend_keeps_the_curves(run):
    reopened = run["reopened"]
    assert reopened[run["drawing"]["collection"]] == 2
    assert reopened[run["generated"]["curves"][0]] == len(run["generated"]["objects"])
    assert run["generated"]["images"][0] in run["reopened_images"]
