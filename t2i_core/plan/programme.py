"""The room programme: what a plan must contain, as plain data the user can read and edit.

A ``Programme`` is what the text parser produces, what the panel shows as a table, what the
solver takes, and what is saved as the plan's provenance (``to_dict`` / ``from_dict`` are
plain JSON). ``complete`` fills what the text left out from ``RULES``, the documented table
of typical sizes (docs/floorplans.md), so the solver only ever sees a complete programme.

Units: metres and square metres. Directions: "N", "E", "S", "W"; y grows to the north.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

from t2i_core.errors import T2IError

DIRECTIONS = ("N", "E", "S", "W")
RELATION_KINDS = ("adjacent", "ensuite", "off", "away", "open")
MAX_ROOMS = 24  # bigger requests are refused (the solver's time grows steeply beyond this)
MAX_VARIANTS = 6  # layouts per request (each is a separate solve)


@dataclass(frozen=True)
class RoomRule:
    """Typical and permitted size of one room kind (m², m), and what it needs."""

    label: str
    area: float  # typical area, used when the text gives none
    min_area: float
    max_area: float
    min_side: float
    max_aspect: float
    habitable: bool  # needs daylight: on an outside wall, with a window
    access: tuple[str, ...]  # kinds its door may open onto, in order of preference


# Sizes follow common small-dwelling guidance (e.g. the English nationally described space
# standard: single bedroom >= 7.5 m², double >= 11.5 m², bedroom width >= 2.15 m) rounded to
# easy numbers; docs/floorplans.md lists them with their reasons.
CIRCULATION = ("hall", "living")
RULES: dict[str, RoomRule] = {
    "living": RoomRule("Living room", 20.0, 12.0, 45.0, 3.0, 2.2, True, ("hall",)),
    "kitchen": RoomRule("Kitchen", 9.0, 5.0, 20.0, 2.0, 2.6, True,
                        ("living", "dining", "hall")),
    "dining": RoomRule("Dining", 10.0, 7.0, 24.0, 2.5, 2.2, True, ("living", "kitchen", "hall")),
    "master": RoomRule("Master bedroom", 14.0, 11.5, 26.0, 2.8, 2.0, True, CIRCULATION),
    "bedroom": RoomRule("Bedroom", 11.0, 7.5, 20.0, 2.4, 2.0, True, CIRCULATION),
    "ensuite": RoomRule("En-suite", 4.0, 2.5, 8.0, 1.5, 2.5, False, ("master", "bedroom")),
    "bathroom": RoomRule("Bathroom", 5.0, 3.5, 10.0, 1.7, 2.5, False, CIRCULATION),
    "wc": RoomRule("WC", 1.8, 1.2, 3.5, 0.9, 2.6, False, CIRCULATION),
    "study": RoomRule("Study", 8.0, 5.0, 16.0, 2.1, 2.2, True, CIRCULATION),
    "utility": RoomRule("Utility", 4.0, 2.0, 9.0, 1.4, 2.6, False, ("kitchen", "hall")),
    "storage": RoomRule("Storage", 2.5, 1.0, 7.0, 0.9, 3.0, False, ("hall", "living",
                                                                     "bedroom")),
    "hall": RoomRule("Hall", 6.0, 2.5, 16.0, 1.1, 6.0, False, ("living",)),
    "balcony": RoomRule("Balcony", 5.0, 3.0, 14.0, 1.2, 4.0, False, ("living", "master",
                                                                      "bedroom", "kitchen")),
    "garage": RoomRule("Garage", 18.0, 14.0, 40.0, 3.0, 2.2, False, ("hall", "utility",
                                                                     "kitchen")),
}
KINDS = tuple(RULES)
# Rooms that need a window, and rooms that want one (bathrooms, WCs: soft).
WANT_WINDOW = ("bathroom", "ensuite", "wc", "utility")
# Rooms that must touch the outside wall (a balcony, a garage) whether habitable or not.
ON_OUTSIDE = ("balcony", "garage")


@dataclass
class Room:
    """One room of the programme. ``area`` None: the rule table's typical area."""

    id: str  # unique within the programme, e.g. "bedroom_2"
    kind: str
    area: float | None = None
    facing: str | None = None  # "N" | "E" | "S" | "W": on that outside wall
    label: str = ""

    @property
    def rule(self) -> RoomRule:
        return RULES[self.kind]

    def display(self) -> str:
        return self.label or self.rule.label


@dataclass
class Relation:
    """A requested relation between two rooms (by id).

    adjacent: share a wall with a door; ensuite: ``a`` is entered only from ``b``;
    off: ``a`` opens off ``b`` (a hall); open: no wall, a wide opening (open plan);
    away: no shared wall at all.
    """

    kind: str
    a: str
    b: str


@dataclass
class Programme:
    rooms: list[Room] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    total_area: float | None = None  # m²; None: the sum of the rooms
    footprint: tuple[float, float] | None = None  # (width E-W, depth N-S) in m
    entrance: str | None = None  # the side of the entrance door; None: the solver chooses
    unit: str = ""  # apartment | house | studio; "" when the text does not say
    excluded: list[str] = field(default_factory=list)  # kinds the text said "no" to
    unknown: list[str] = field(default_factory=list)  # words the parser did not understand
    notes: list[str] = field(default_factory=list)  # what was assumed, in words
    source: str = ""  # the text it came from

    # --- plain data ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d = asdict(self)
        d["footprint"] = list(self.footprint) if self.footprint else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Programme:
        """A programme from plain data (an edited table, a saved layer); checked."""
        if not isinstance(d, dict):
            raise T2IError("bad_programme", "a programme must be an object with 'rooms'")
        try:
            rooms = [Room(str(r["id"]), str(r["kind"]), _opt_float(r.get("area")),
                          r.get("facing") or None, str(r.get("label", "")))
                     for r in d.get("rooms", [])]
            rels = [Relation(str(r["kind"]), str(r["a"]), str(r["b"]))
                    for r in d.get("relations", [])]
            fp = d.get("footprint")
            prog = cls(rooms, rels, _opt_float(d.get("total_area")),
                       (float(fp[0]), float(fp[1])) if fp else None,
                       d.get("entrance") or None, str(d.get("unit") or ""),
                       [str(k) for k in d.get("excluded", [])],
                       [str(w) for w in d.get("unknown", [])],
                       [str(n) for n in d.get("notes", [])], str(d.get("source", "")))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise T2IError("bad_programme", f"the programme is not readable ({e!r}); each "
                           "room needs 'id' and 'kind', each relation 'kind', 'a', 'b'") from e
        prog.validate()
        return prog

    # --- checks ----------------------------------------------------------------------------

    def validate(self) -> None:
        if not self.rooms:
            raise T2IError("no_rooms", NO_ROOMS_MESSAGE)
        if len(self.rooms) > MAX_ROOMS:
            raise T2IError("too_many_rooms", f"{len(self.rooms)} rooms is more than this "
                           f"planner lays out ({MAX_ROOMS} at most, answered within seconds); "
                           "split the building into floors or wings and plan each one")
        ids = [r.id for r in self.rooms]
        if len(set(ids)) != len(ids):
            raise T2IError("bad_programme", f"room ids must be unique: {sorted(ids)}")
        for r in self.rooms:
            if r.kind not in RULES:
                raise T2IError("bad_programme", f"room '{r.id}' has unknown kind '{r.kind}'; "
                               f"known kinds: {', '.join(KINDS)}")
            if r.facing is not None and r.facing not in DIRECTIONS:
                raise T2IError("bad_programme", f"room '{r.id}' faces '{r.facing}'; use one "
                               "of N, E, S, W")
            if r.area is not None and not (0.5 <= r.area <= 500):
                raise T2IError("bad_programme", f"room '{r.id}' area {r.area} m² is outside "
                               "0.5-500 m²")
        for rel in self.relations:
            if rel.kind not in RELATION_KINDS:
                raise T2IError("bad_programme", f"relation kind '{rel.kind}' is not one of "
                               f"{', '.join(RELATION_KINDS)}")
            for end in (rel.a, rel.b):
                if end not in ids:
                    raise T2IError("bad_programme", f"relation {rel.kind} {rel.a}-{rel.b} "
                                   f"names no room '{end}'; rooms: {', '.join(ids)}")
            if rel.a == rel.b:
                raise T2IError("bad_programme", f"relation {rel.kind} joins '{rel.a}' to "
                               "itself")
        if self.total_area is not None and not (4 <= self.total_area <= 5000):
            raise T2IError("bad_programme", f"total area {self.total_area} m² is outside "
                           "4-5000 m²")
        if self.footprint is not None and not all(1 <= s <= 200 for s in self.footprint):
            raise T2IError("bad_programme", f"footprint {self.footprint} m: each side must be "
                           "1-200 m")
        if self.entrance is not None and self.entrance not in DIRECTIONS:
            raise T2IError("bad_programme", f"entrance '{self.entrance}' is not N, E, S or W")

    # --- helpers ---------------------------------------------------------------------------

    def room(self, room_id: str) -> Room:
        return next(r for r in self.rooms if r.id == room_id)

    def of_kind(self, kind: str) -> list[Room]:
        return [r for r in self.rooms if r.kind == kind]

    def target_areas(self) -> dict[str, float]:
        """Each room's wanted area, scaled so they add up to the plan's area when that is
        given (rooms with a stated size keep it; the others share what is left)."""
        stated = {r.id: r.area for r in self.rooms if r.area is not None}
        typical = {r.id: r.rule.area for r in self.rooms if r.area is None}
        area = self.plan_area()
        free = area - sum(stated.values())
        scale = free / sum(typical.values()) if typical and free > 0 else 1.0
        out = {**stated, **{k: v * scale for k, v in typical.items()}}
        return {r.id: out[r.id] for r in self.rooms}

    def plan_area(self) -> float:
        if self.footprint is not None:
            return self.footprint[0] * self.footprint[1]
        if self.total_area is not None:
            return self.total_area
        return sum(r.area if r.area is not None else r.rule.area for r in self.rooms)


NO_ROOMS_MESSAGE = ("no rooms found in the text; name the rooms or the unit, e.g. "
                    "\"a two-bedroom apartment with an open kitchen, 70 m²\", "
                    "\"studio, 30 m2, bathroom next to the entrance\" or "
                    "\"3-bed house with a garage and a study facing north, 10 x 12 m\"")


def _opt_float(v: object) -> float | None:
    if v is None or v == "":
        return None
    f = float(v)  # type: ignore[arg-type]
    if not math.isfinite(f):
        raise ValueError(f"{v!r} is not a finite number")
    return f


def complete(prog: Programme) -> Programme:
    """The programme with what a dwelling needs added (living, kitchen, bathroom, a hall for
    four or more rooms, access for en-suites) unless the text excluded it. Adds a note for
    each assumption so the table shows it. Returns a new programme."""
    p = copy.deepcopy(prog)
    if not p.rooms and not p.unit:
        raise T2IError("no_rooms", NO_ROOMS_MESSAGE)
    kinds = {r.kind for r in p.rooms}
    sleeping = kinds & {"bedroom", "master"}
    studio = p.unit == "studio"

    def add(kind: str, why: str) -> None:
        if kind in p.excluded or kind in {r.kind for r in p.rooms}:
            return
        p.rooms.append(Room(_new_id(p, kind), kind))
        p.notes.append(f"added a {RULES[kind].label.lower()}: {why}")

    dwelling = sleeping or studio or kinds & {"living", "kitchen"} or p.unit in (
        "apartment", "house", "flat", "bungalow", "cottage")
    if dwelling:
        add("living", "every dwelling has one")
        add("kitchen", "every dwelling has one")
        if not kinds & {"bathroom", "ensuite"} or (kinds == {"ensuite"}):
            add("bathroom", "every dwelling has one")
        elif "bathroom" not in kinds and "ensuite" in kinds and len(sleeping) and sum(
                r.kind in ("bedroom",) for r in p.rooms):
            add("bathroom", "the other bedrooms need one besides the en-suite")
    if studio and p.of_kind("living") and p.of_kind("kitchen"):
        living, kitchen = p.of_kind("living")[0], p.of_kind("kitchen")[0]
        if not any(rel.kind == "open" and {rel.a, rel.b} == {living.id, kitchen.id}
                   for rel in p.relations):
            p.relations.append(Relation("open", kitchen.id, living.id))
            p.notes.append("a studio's kitchen is open to its main room")
    if len(p.rooms) >= 5 and not studio:
        add("hall", "five rooms or more are reached from a hall")
    # An en-suite needs a bedroom to belong to.
    for r in p.of_kind("ensuite"):
        if not any(rel.a == r.id and rel.kind == "ensuite" for rel in p.relations):
            owner = (p.of_kind("master") or p.of_kind("bedroom") or [None])[0]
            if owner is None:
                r.kind = "bathroom"
                p.notes.append(f"{r.id}: an en-suite with no bedroom became a bathroom")
            else:
                p.relations.append(Relation("ensuite", r.id, owner.id))
    p.validate()
    return p


def _new_id(p: Programme, kind: str) -> str:
    n = 1
    ids = {r.id for r in p.rooms}
    while f"{kind}_{n}" in ids:
        n += 1
    return f"{kind}_{n}"
