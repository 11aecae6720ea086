"""Parser evaluation: slots, precision / recall / F1 per slot, and a keyword-only baseline.

A programme is compared with a gold record slot by slot; each slot is a set of facts
(``("bedroom", 2)`` = a second bedroom exists, ``("adjacent", "bathroom", "master")``, ...),
so counts, relations and orientation are all scored the same way (micro-averaged over the
prompts). The gold format is described in tests/plan/data/README.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from t2i_core.plan import lexicon as L
from t2i_core.plan.programme import Programme

SLOTS = ("rooms", "unit", "area", "footprint", "sizes", "open", "relations", "orientation",
         "negation")
SYMMETRIC = ("adjacent", "away")


def slots_of_gold(gold: dict) -> dict[str, set]:
    rooms = {(k, i + 1) for k, n in gold.get("rooms", {}).items() for i in range(min(n, 500))}
    rels = set()
    for kind, a, b in gold.get("relations", []):
        rels.add((kind, *sorted((a, b))) if kind in SYMMETRIC else (kind, a, b))
    orient = {(k, d) for k, d in gold.get("facing", {}).items()}
    if gold.get("entrance"):
        orient.add(("entrance", gold["entrance"]))
    return {
        "rooms": rooms,
        "unit": {gold["unit"]} if gold.get("unit") else set(),
        "area": {round(gold["area"])} if gold.get("area") is not None else set(),
        "footprint": {tuple(float(x) for x in gold["footprint"])} if gold.get("footprint")
        else set(),
        "sizes": {(k, round(v)) for k, v in gold.get("sizes", {}).items()},
        "open": {tuple(sorted(p)) for p in gold.get("open", [])},
        "relations": rels,
        "orientation": orient,
        "negation": set(gold.get("excluded", [])),
    }


def slots_of_programme(p: Programme) -> dict[str, set]:
    kinds = {r.id: r.kind for r in p.rooms}
    counts = Counter(r.kind for r in p.rooms)
    rels = set()
    opens = set()
    for rel in p.relations:
        a, b = kinds.get(rel.a, rel.a), kinds.get(rel.b, rel.b)
        if rel.kind == "open":
            opens.add(tuple(sorted((a, b))))
        else:
            rels.add((rel.kind, *sorted((a, b))) if rel.kind in SYMMETRIC else (rel.kind, a, b))
    orient = {(r.kind, r.facing) for r in p.rooms if r.facing}
    if p.entrance:
        orient.add(("entrance", p.entrance))
    return {
        "rooms": {(k, i + 1) for k, n in counts.items() for i in range(n)},
        "unit": {p.unit} if p.unit else set(),
        "area": {round(p.total_area)} if p.total_area is not None else set(),
        "footprint": {tuple(float(x) for x in p.footprint)} if p.footprint else set(),
        "sizes": {(r.kind, round(r.area)) for r in p.rooms if r.area is not None},
        "open": opens,
        "relations": rels,
        "orientation": orient,
        "negation": set(p.excluded),
    }


@dataclass
class SlotScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(pairs: list[tuple[dict[str, set], dict[str, set]]]) -> dict[str, SlotScore]:
    """Micro P/R/F1 per slot over (predicted, gold) slot dicts."""
    out = {s: SlotScore() for s in SLOTS}
    for pred, gold in pairs:
        for s in SLOTS:
            out[s].tp += len(pred[s] & gold[s])
            out[s].fp += len(pred[s] - gold[s])
            out[s].fn += len(gold[s] - pred[s])
    return out


def load_gold(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


# --- the keyword-only baseline ----------------------------------------------------------------

_BASE_ROOMS = {"bedroom": "bedroom", "bedrooms": "bedroom", "kitchen": "kitchen",
               "living": "living", "lounge": "living", "dining": "dining", "master": "master",
               "bathroom": "bathroom", "bathrooms": "bathroom", "wc": "wc", "toilet": "wc",
               "study": "study", "office": "study", "utility": "utility", "laundry": "utility",
               "storage": "storage", "pantry": "storage", "hall": "hall", "hallway": "hall",
               "corridor": "hall", "balcony": "balcony", "terrace": "balcony",
               "garage": "garage", "ensuite": "ensuite", "en-suite": "ensuite"}
_BASE_UNITS = {"apartment": "apartment", "flat": "apartment", "house": "house",
               "home": "house", "bungalow": "house", "studio": "studio"}
_BASE_REL = {"next": "adjacent", "adjacent": "adjacent", "beside": "adjacent", "off": "off",
             "away": "away"}


def keyword_baseline(text: str) -> Programme:
    """What keyword spotting gets: room words (count = a digit right before), the first
    number before m²/sqm as the area, a direction with the nearest room word, relation
    words with the room words on either side, "no X". No phrases, no number words."""
    from t2i_core.plan.programme import Relation, Room

    words = re.findall(r"m²|m2|[a-z\-]+|\d+(?:\.\d+)?", text.lower())
    prog = Programme(source=text)
    counts: dict[str, int] = {}
    positions: list[tuple[int, str]] = []
    for i, w in enumerate(words):
        if w in _BASE_UNITS and not prog.unit:
            prog.unit = _BASE_UNITS[w]
        kind = _BASE_ROOMS.get(w)
        if kind is None:
            continue
        if i and words[i - 1] == "no":
            prog.excluded.append(kind)
            continue
        n = int(float(words[i - 1])) if i and re.fullmatch(r"\d+", words[i - 1]) else 1
        counts[kind] = max(counts.get(kind, 0), n)
        positions.append((i, kind))
    for i, w in enumerate(words):
        if re.fullmatch(r"\d+(?:\.\d+)?", w) and i + 1 < len(words) and words[i + 1] in (
                "m²", "m2", "sqm"):
            prog.total_area = float(w)
            break
    for k, n in counts.items():
        for j in range(min(n, 500)):
            prog.rooms.append(Room(f"{k}_{j + 1}", k))
    first = {k: f"{k}_1" for k in counts}
    for i, w in enumerate(words):
        d = L.DIRECTIONS.get(w)
        if d and positions:
            _, kind = min(positions, key=lambda p: abs(p[0] - i))
            prog.room(first[kind]).facing = d
        rel = _BASE_REL.get(w)
        if rel:
            before = [k for p, k in positions if p < i]
            after = [k for p, k in positions if p > i]
            if before and after and before[-1] != after[0]:
                prog.relations.append(Relation(rel, first[before[-1]], first[after[0]]))
        if w == "open" and i + 1 < len(words) and _BASE_ROOMS.get(words[i + 1]) and \
                "living" in first and _BASE_ROOMS[words[i + 1]] != "living":
            prog.relations.append(Relation("open", first[_BASE_ROOMS[words[i + 1]]],
                                           first["living"]))
    return prog
