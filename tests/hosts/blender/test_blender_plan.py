"""Floor plans in a real Blender (Debian's blender 3.4, headless): the add-on extrudes the
walls (openings cut for doors and windows), makes a floor per room in a collection named
after the plan, plans from text through its worker, re-solves an edited programme in place,
renders, and the .blend keeps the plan and its programme."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from blender_host import (
    SCRIPTS,
    blender_env,
    blender_or_fail,
    build_addon,
    checkout_python,
    run_blender,
)
from host_tools import refresh_doc_picture

pytestmark = pytest.mark.slow
PROMPT = "a two-bedroom apartment with an open kitchen, 70 m², living room facing south"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    blender_or_fail()
    tmp = tmp_path_factory.mktemp("blender_plan")
    zip_path = tmp / "t2i_studio-blender.zip"
    build_addon(zip_path)
    from t2i_core.plan.api import plan_from_text

    result = plan_from_text("1BHK 50 m2, bathroom next to the bedroom", variants=1)
    geometry = {**result.variants[0].geometry, "programme": result.programme.to_dict()}
    (tmp / "geometry.json").write_text(json.dumps(geometry))
    out = tmp / "out"
    out.mkdir()
    cfg = {"zip": str(zip_path), "python": checkout_python(tmp), "out_dir": str(out),
           "worker_args": "--no-history --threads 1 --log-level WARNING --backend synthetic",
           "geometry": str(tmp / "geometry.json"), "prompt": PROMPT, "timeout": 240,
           "samples": 16}
    (tmp / "config.json").write_text(json.dumps(cfg))
    run_blender(["--python", str(SCRIPTS / "plan_in_blender.py")],
                blender_env(tmp, T2I_BLENDER_TEST_CONFIG=str(tmp / "config.json")),
                tmp / "run.log", timeout=600)
    report = json.loads((out / "plan_run.json").read_text())
    report["out"] = str(out)
    report["geometry"] = geometry
    return report


def test_walls_are_extruded_with_openings(run):
    known = run["known"]["objects"]
    walls = next(o for o in known.values() if o["part"] == "walls")
    assert walls["min"][2] == pytest.approx(0.0) and walls["max"][2] == pytest.approx(2.7)
    hits = run["known_hits"]
    assert hits == {"door_low": False, "door_high": True, "window_mid": False,
                    "window_low": True, "wall_mid": True}
    floors = [o for o in known.values() if o["part"] == "floor"]
    assert len(floors) == len(run["geometry"]["rooms"]) and all(f["faces"] == 1 for f in floors)
    assert {f["room"] for f in floors} == {r["id"] for r in run["geometry"]["rooms"]}


def test_plan_from_text_through_the_worker(run):
    planned = run["planned"]
    assert planned["name"].startswith("Plan a two-bedroom")
    parts = [o["part"] for o in planned["objects"].values()]
    assert parts.count("walls") == 1 and parts.count("glazing") == 1
    kinds = sorted(o["kind"] for o in planned["objects"].values() if o["part"] == "floor")
    assert kinds.count("bedroom") == 2 and "living" in kinds
    walls = next(o for o in planned["objects"].values() if o["part"] == "walls")
    assert walls["max"][2] == pytest.approx(3.0)  # the panel's wall height
    prog = planned["data"]["provenance"]["programme"]
    assert any(r["kind"] == "living" and r["facing"] == "S" for r in prog["rooms"])


def test_edited_programme_re_solves_in_place(run):
    resolved = run["resolved"]
    assert run["collections_after_resolve"] == [run["planned"]["name"]]
    kinds = [o["kind"] for o in resolved["objects"].values() if o["part"] == "floor"]
    assert "hall" not in kinds
    living = next(r for r in resolved["data"]["layout"]["rooms"] if r["kind"] == "living")
    assert abs(living["area"] - 18.0) <= 1.8 + 1e-6


def test_the_blend_keeps_the_plan_and_a_render_shows_it(run):
    reopened = run["reopened"]
    assert len(reopened) == 1 and reopened[0]["name"] == run["planned"]["name"]
    assert reopened[0]["data"]["provenance"]["programme"]["rooms"]
    assert any(t.endswith("programme") for t in run["reopened_texts"])
    render = Path(run["out"]) / "plan_render.png"
    from PIL import Image

    im = Image.open(render).convert("RGB")
    assert im.size == (960, 640)
    colours = len({im.getpixel((x, y)) for x in range(0, 960, 10) for y in range(0, 640, 10)})
    assert colours > 50  # a lit scene, not an empty frame
    refresh_doc_picture(render, "blender_plan.png")  # T2I_UPDATE_DOCS=1
