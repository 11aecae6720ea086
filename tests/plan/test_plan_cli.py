"""`t2i plan` as a user runs it: a real process, through a real worker, and --local."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ezdxf

REPO = Path(__file__).resolve().parents[2]


def _t2i(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "worker.commands", "plan", *args], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                          capture_output=True, text=True, timeout=300)


def test_plan_svg_through_the_worker(plan_worker, tmp_path):
    out = tmp_path / "plan.svg"
    r = _t2i("a two-bedroom apartment with an open kitchen, 70 m², living room facing south",
             "-o", str(out), "--variants", "2", "--endpoint", plan_worker.endpoint,
             "--save-programme", str(tmp_path / "prog.json"),
             env={"T2I_WORKER_TOKEN": plan_worker.token})
    assert r.returncode == 0, r.stderr
    assert out.exists() and (tmp_path / "plan-2.svg").exists()
    assert 'inkscape:label="Walls"' in out.read_text()
    assert "living_1" in r.stderr and "facing" in r.stderr  # the programme table
    prog = json.loads((tmp_path / "prog.json").read_text())
    assert any(room["facing"] == "S" for room in prog["rooms"])


def test_plan_dxf_local_and_re_solve_from_the_svg(tmp_path):
    svg = tmp_path / "a.svg"
    r = _t2i("1BHK 50 m2, kitchen facing east", "-o", str(svg), "--variants", "1", "--local")
    assert r.returncode == 0, r.stderr
    dxf = tmp_path / "b.dxf"
    r = _t2i("--programme", str(svg), "-o", str(dxf), "--variants", "1", "--local")
    assert r.returncode == 0, r.stderr
    doc = ezdxf.readfile(dxf)
    assert doc.header["$INSUNITS"] == 6 and "WALLS" in {la.dxf.name for la in doc.layers}


def test_plan_errors_are_plain_words(tmp_path):
    r = _t2i("five bedrooms in 30 m²", "-o", str(tmp_path / "x.svg"), "--local")
    assert r.returncode == 2 and "cannot fit" in r.stderr and "Traceback" not in r.stderr
    r = _t2i("a plan", "-o", str(tmp_path / "x.png"), "--local")
    assert r.returncode == 2 and ".svg, .dxf or .json" in r.stderr
    r = _t2i("nice and sunny", "-o", str(tmp_path / "x.svg"), "--local")
    assert r.returncode == 2 and "no rooms found" in r.stderr
