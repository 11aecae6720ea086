"""The plan job in a real worker subprocess over real ZeroMQ: result frames, progress,
history, re-solving an edited programme, cancel, and bad input (the worker keeps serving)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import ezdxf

from worker import protocol as P

PROMPT = "a two-bedroom apartment with an open kitchen, 70 m², living room facing south"


def test_plan_result_progress_and_history(raw, plan_worker):
    rid = raw.send("plan", body={"prompt": PROMPT, "variants": 2,
                                 "formats": ["svg", "geometry", "dxf"]})
    events = raw.until_terminal(rid, timeout=180)
    kinds = [e.type for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "result", events[-1].body
    steps = [e.body["step"] for e in events if e.type == "progress"]
    assert steps[-1] == 2 and all(e.body["total"] == 2 for e in events if e.type == "progress")
    res = events[-1]
    body = res.body
    assert [r["kind"] for r in body["programme"]["rooms"]].count("bedroom") == 2
    assert len(body["variants"]) == 2
    assert [im.name for im in res.images] == ["svg", "geometry", "dxf"] * 2
    assert all(len(im.shape) == 1 for im in res.images)  # bytes frames
    svg = res.images[0].text()
    assert ET.fromstring(svg).find("{http://www.w3.org/2000/svg}g") is not None
    geo = json.loads(res.images[1].text())
    assert len(geo["rooms"]) == len(body["programme"]["rooms"])
    doc = ezdxf.read(io.StringIO(res.images[2].text()))
    assert doc.header["$INSUNITS"] == 6
    for v in body["variants"]:
        assert v["metrics"]["violations"] == [] and v["metrics"]["gap_m2"] < 1e-6
    # Everything was written to the history before the reply.
    paths = [Path(p) for p in body["history"]]
    assert all(p.exists() for p in paths) and len(paths) == 1 + 2 * 3
    side = json.loads(paths[0].read_text())
    assert side["provenance"]["programme"] == body["programme"]
    assert paths[1].read_text() == svg


def test_edited_programme_is_re_solved(raw):
    first = raw.call("plan", body={"prompt": PROMPT, "variants": 1}, timeout=120)
    prog = first.body["programme"]
    # The user edits the table: drop the hall, make bedroom_2 a study, ask for 16 m² living.
    prog["rooms"] = [r for r in prog["rooms"] if r["kind"] != "hall"]
    for r in prog["rooms"]:
        if r["id"] == "bedroom_2":
            r["kind"], r["id"] = "study", "study_1"
        if r["id"] == "living_1":
            r["area"] = 16.0
    again = raw.call("plan", body={"programme": prog, "variants": 1}, timeout=120)
    assert again.type == "result", again.body
    rooms = {r["id"]: r for r in again.body["variants"][0]["layout"]["rooms"]}
    assert "hall_1" not in rooms and rooms["study_1"]["kind"] == "study"
    assert abs(rooms["living_1"]["area"] - 16.0) <= 1.6  # the stated size, +-10 %


def test_bad_input_gets_clear_errors_and_the_worker_keeps_serving(raw):
    cases = [({"prompt": "something modern and bright"}, "no_rooms", "two-bedroom"),
             ({"prompt": "hotel floor with 200 rooms"}, "too_many_rooms", "200 rooms"),
             ({"prompt": "five bedrooms in 30 m²"}, "plan_infeasible",
              "Conflicting constraints"),
             ({"prompt": PROMPT, "variants": 40}, "bad_request", "variants must be 1-6"),
             ({"programme": {"rooms": [{"id": "x", "kind": "ballroom"}]}}, "bad_programme",
              "ballroom"),
             ({"programme": "not an object"}, "bad_message", "programme"),
             ({"prompt": PROMPT, "formats": ["png"]}, "bad_message", "formats"),
             ({}, "bad_message", "prompt")]
    for body, code, words in cases:
        ev = raw.call("plan", body=body, timeout=60)
        assert ev.type == "error", (body, ev)
        assert ev.body["code"] == code, (body, ev.body)
        assert words in ev.body["message"], (body, ev.body)
    ok = raw.call("plan", body={"prompt": "studio, 30 m²", "variants": 1}, timeout=120)
    assert ok.type == "result"
    assert raw.call("status").body["state"] in ("idle", "busy")


def test_cancel_a_queued_and_a_running_plan(raw):
    big = {"prompt": "family house 180 m2: 4 bedrooms, master with ensuite, 2 bathrooms, "
                     "study, utility, double garage", "variants": 6, "time_limit": 2.0}
    running = raw.send("plan", body=big)
    queued = raw.send("plan", body={"prompt": PROMPT})
    cq = raw.send("cancel", body={"target": queued})
    cr = raw.send("cancel", body={"target": running})
    events = raw.collect([running, queued, cq, cr], timeout=120)
    assert events[cq][-1].body.get("was") == "queued"
    assert events[cr][-1].type == "result"
    assert events[queued][-1].type == "cancelled"
    assert events[running][-1].type in ("cancelled", "result")  # it may have just finished
    if events[running][-1].type == "cancelled":
        assert events[running][-1].body["reason"] == "cancel"


def test_bytes_frames_are_validated_at_the_edge():
    msg = P.Message("result", "r1", {}, [P.Image.from_bytes("<svg/>", "svg")])
    frames = P.encode(msg)
    back = P.decode(frames, requests=False)
    assert back.images[0].text() == "<svg/>"
    bad = json.loads(frames[0])
    bad["frames"][0]["shape"] = [99]
    try:
        P.decode([json.dumps(bad).encode(), frames[1]], requests=False)
    except P.ProtocolError as e:
        assert e.code == "bad_frames" and "99" in e.message
    else:
        raise AssertionError("a bytes frame of the wrong length was accepted")
