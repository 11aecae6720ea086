"""Floor plans in real Krita (Debian's krita 5.1 under Xvfb), the plugin installed from its
zip: the docker's Plan tab plans from text through the worker, and the plan goes into the
document as vector layers, one per element kind (rooms, walls, doors, windows, labels,
dimensions), each with the programme as its provenance; the .kra keeps them. The screenshot
is docs/krita_plan.png."""

from __future__ import annotations

import json

import pytest
from host_tools import refresh_doc_picture
from krita_host import build_zip, checkout_python, install_plugin, krita_or_fail, run_scenario

pytestmark = pytest.mark.slow
KINDS = ["Rooms", "Walls", "Doors", "Windows", "Labels", "Dimensions"]
PROMPT = "a two-bedroom apartment with an open kitchen, 70 m², living room facing south"


@pytest.fixture(scope="module")
def krita_plan(tmp_path_factory) -> dict:
    krita_or_fail()
    tmp = tmp_path_factory.mktemp("krita-plan")
    home = tmp / "home"
    home.mkdir()
    install_plugin(home, build_zip(tmp), {
        "mode": "start", "python": checkout_python(tmp),
        "worker_args": f"--threads 1 --backend synthetic --history-dir {tmp / 'history'}"})
    out = tmp / "out"
    report, log = run_scenario(home, {
        "kind": "plan", "width": 1200, "height": 900, "prompt": PROMPT,
        "out_dir": str(out), "kra": str(out / "plan.kra"),
        "screenshot": str(out / "krita_plan.png"), "timeout": 300})
    assert report["ok"], f"{report.get('error')}\n{json.dumps(report)[:3000]}\n{log[-4000:]}"
    return {"report": report, "out": out}


def test_the_plan_tab_reads_the_text_into_a_table(krita_plan):
    table = krita_plan["report"]["table"]
    assert ["living_1", "living", "", "S"] in table
    assert sum(row[1] == "bedroom" for row in table) == 2
    assert "1 plan(s)" in krita_plan["report"]["message"]


def test_the_plan_is_vector_layers_one_per_element_kind(krita_plan):
    layers = krita_plan["report"]["vector_layers"]
    assert [v["name"].rsplit("– ", 1)[-1] for v in layers] == KINDS
    shapes = {v["name"].rsplit("– ", 1)[-1]: v["shapes"] for v in layers}
    assert all(shapes[k] for k in KINDS), {k: len(v) for k, v in shapes.items()}
    # the layers line up: the walls' outline encloses the rooms'
    walls = [s["box"] for s in shapes["Walls"]]
    rooms = [s["box"] for s in shapes["Rooms"]]
    left, top = min(b[0] for b in walls), min(b[1] for b in walls)
    assert all(b[0] >= left - 1 and b[1] >= top - 1 for b in rooms)
    prov = krita_plan["report"]["provenance"]
    assert "living_1" in prov and '"kind": "plan"' in prov.replace('":"', '": "')


def test_the_kra_keeps_the_plan_and_a_screenshot_shows_it(krita_plan):
    reopened = krita_plan["report"]["reopened"]
    assert [v["name"].rsplit("– ", 1)[-1] for v in reopened] == KINDS
    assert all(v["shapes"] for v in reopened)
    assert "living_1" in krita_plan["report"]["reopened_provenance"]
    # the programme comes back from the .kra into the table and re-solves
    report = krita_plan["report"]
    assert report["loaded"] and report["loaded_rows"] == len(report["table"])
    assert "1 plan(s)" in report["resolved_message"], report["resolved_message"]
    shot = krita_plan["out"] / "krita_plan.png"
    assert shot.exists() and shot.stat().st_size > 20_000
    refresh_doc_picture(shot, "krita_plan.png")  # T2I_UPDATE_DOCS=1
