"""The CP-SAT layout: hard constraints hold on the geometry; bad programmes name the conflict."""

from __future__ import annotations

import pytest

from t2i_core.errors import T2IError
from t2i_core.plan.metrics import evaluate, shared_wall
from t2i_core.plan.parser import programme_from_text
from t2i_core.plan.programme import Programme, Relation, Room
from t2i_core.plan.solver import solve

PROMPTS = [
    "a two-bedroom apartment with an open kitchen, 70 m², living room facing south",
    "3-bedroom house with a master en-suite, a study and a garage, 140 m²",
    "1BHK 50 m2, bathroom next to the bedroom, entrance from the east",
    "house 12 x 9 m with three bedrooms and a utility off the kitchen",
    "studio, 30 m², balcony facing west",
]


@pytest.mark.parametrize("text", PROMPTS)
def test_layouts_meet_every_hard_constraint(text):
    prog = programme_from_text(text)
    layouts = solve(prog, variants=2, time_limit=0.6)
    assert layouts
    for layout in layouts:
        m = evaluate(prog, layout)
        assert m.violations == [], m.violations
        assert m.overlap_m2 < 1e-6 and m.gap_m2 < 1e-6
        assert abs(sum(r.area for r in layout.rooms) - layout.width * layout.depth) < 1e-6
        assert {r.id for r in layout.rooms} == {r.id for r in prog.rooms}
        # every room but the entrance room has a door to a room it may open onto
        entered = {a for a, _ in layout.doors} | {a for a, _ in layout.opens} | \
            {b for _, b in layout.opens}
        assert {r.id for r in prog.rooms} - entered <= {layout.entrance[0]}
    if prog.footprint:
        assert (layouts[0].width, layouts[0].depth) == prog.footprint


def test_orientation_and_relations_are_honoured():
    prog = programme_from_text("two bedrooms, living room facing north, kitchen facing east, "
                               "bathroom next to the master bedroom, 80 m²")
    layout = solve(prog, variants=1, time_limit=0.6)[0]
    living = layout.room("living_1")
    assert "N" in living.sides(layout.width, layout.depth)
    assert "E" in layout.room("kitchen_1").sides(layout.width, layout.depth)
    assert shared_wall(layout.room("bathroom_1"), layout.room("master_1")) >= 1.0


def test_same_request_same_plan():
    prog = programme_from_text("3 bed house, 110 m², study facing north")
    a = solve(prog, variants=1, time_limit=0.3, seed=3)[0]
    b = solve(prog, variants=1, time_limit=0.3, seed=3)[0]
    assert a.to_dict()["rooms"] == b.to_dict()["rooms"]


def test_variants_differ():
    prog = programme_from_text("a two-bedroom apartment, 70 m²")
    layouts = solve(prog, variants=3, time_limit=0.3)
    shapes = {tuple((r.x, r.y, r.w, r.h) for r in lay.rooms) for lay in layouts}
    assert len(shapes) == len(layouts) >= 2


def test_too_small_names_the_conflicting_constraints():
    prog = programme_from_text("five bedrooms in 30 m²")
    with pytest.raises(T2IError) as e:
        solve(prog)
    assert e.value.code == "plan_infeasible"
    msg = e.value.message
    assert "5 bedrooms × 7.5 m²" in msg and "minimum room areas vs. total area" in msg
    assert "at least" in msg  # what would fit


def test_a_conflict_only_the_solver_sees_is_named():
    # Three rooms tile a footprint, so the kitchen must touch one of the other two.
    prog = Programme([Room("living_1", "living"), Room("bedroom_1", "bedroom"),
                      Room("kitchen_1", "kitchen")],
                     [Relation("away", "kitchen_1", "living_1"),
                      Relation("away", "kitchen_1", "bedroom_1")], total_area=40)
    with pytest.raises(T2IError) as e:
        solve(prog, variants=1)
    assert e.value.code == "plan_infeasible"
    assert "Conflicting constraints" in e.value.message
    assert "away from" in e.value.message


def test_bad_programmes_are_refused_clearly():
    with pytest.raises(T2IError, match="unknown kind 'ballroom'"):
        Programme.from_dict({"rooms": [{"id": "b", "kind": "ballroom"}]})
    with pytest.raises(T2IError, match="names no room 'nope'"):
        Programme.from_dict({"rooms": [{"id": "a", "kind": "living"}],
                             "relations": [{"kind": "adjacent", "a": "a", "b": "nope"}]})
    with pytest.raises(T2IError) as e:
        Programme.from_dict({"rooms": []})
    assert e.value.code == "no_rooms"


def test_check_hard_catches_a_broken_layout():
    prog = programme_from_text("one bedroom flat, 45 m², bathroom next to the bedroom")
    layout = solve(prog, variants=1)[0]
    bath = layout.room("bathroom_1")
    bath.x += 100  # move it away: now it is nowhere near the bedroom
    problems = evaluate(prog, layout).violations
    assert any("bathroom_1" in p for p in problems)
