"""Reading the parser's items together: counts, areas, negation, open plan, relations, facing.

``parser.scan`` turns tokens into ``Item``s (a room with the number in front of it, an area,
a relation word, a direction, ...); the functions here decide what belongs to what: which
area is a room's size and which the total ("a 15 m² kitchen" vs "…, 70 m²"), which room a
"facing" phrase is about, which two rooms a relation joins, what "no" excludes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from t2i_core.plan.programme import Programme


@dataclass
class Item:
    kind: str  # room, rooms, unit, rel, open, facing, neg, dir, num, area, footprint, ...
    value: str = ""
    start: int = 0  # token span
    end: int = 0
    number: float | None = None
    count: int | None = None  # rooms: the number in front of them
    negated: bool = False
    sizes: list[float] = field(default_factory=list)
    size: float | None = None
    descriptor: bool = False  # "3-bedroom" in front of a unit, or "3BHK"


def read_units(items: list[Item], prog: Programme) -> None:
    for idx, it in enumerate(items):
        if it.kind == "bhk":
            prog.unit = prog.unit or "apartment"
            prev = items[idx - 1] if idx else None
            n = int(prev.number) if prev is not None and prev.kind == "num" else 1
            if prev is not None and prev.kind == "num":
                prev.kind = "used"
            it.kind, it.value, it.count, it.descriptor = "rooms", "bedroom", n, True
            items.insert(idx + 1, Item("room", "living", it.end, it.end, count=None,
                                       descriptor=True))
            items.insert(idx + 2, Item("room", "kitchen", it.end, it.end, count=None,
                                       descriptor=True))
        elif it.kind == "kitchendiner":
            it.kind, it.value = "room", "kitchen"
            items.insert(idx + 1, Item("openpair", "", it.end, it.end))
            items.insert(idx + 2, Item("room", "dining", it.end, it.end))
    first = next((it.value for it in items if it.kind == "unit"), "")
    prog.unit = prog.unit or first


def _skip(items: list[Item], idx: int, step: int, kinds: tuple[str, ...] = ("mod",)) -> int:
    idx += step
    while 0 <= idx < len(items) and items[idx].kind in kinds:
        idx += step
    return idx


def read_bind_counts(items: list[Item]) -> None:
    for idx, it in enumerate(items):
        if it.kind not in ("room", "rooms") or it.count is not None:
            continue
        prev = _skip(items, idx, -1)
        if prev >= 0 and items[prev].kind == "num" and items[prev].number is not None:
            it.count = int(items[prev].number)
            items[prev].kind = "used"
            nxt = _skip(items, idx, 1)
            it.descriptor = nxt < len(items) and items[nxt].kind == "unit"
        if it.value == "room" and it.count is not None:
            it.value = "bedroom"  # "200 rooms": a hotel floor's rooms are bedrooms


def read_negations(items: list[Item], prog: Programme) -> None:
    for idx, it in enumerate(items):
        if it.kind != "neg":
            continue
        nxt = _skip(items, idx, 1)
        if nxt < len(items) and items[nxt].kind in ("room", "rooms"):
            items[nxt].negated = True
            if items[nxt].value not in prog.excluded:
                prog.excluded.append(items[nxt].value)
            # "without a balcony and without a study": each has its own "without"; "no study
            # or garage" shares one.
            more = _skip(items, nxt, 1)
            if more < len(items) and items[more].kind in ("room", "rooms") and items[
                    more].start == items[nxt].end + 1:
                pass


def read_areas(items: list[Item], tokens: list[str], prog: Programme) -> None:
    totals: list[float] = []
    for idx, it in enumerate(items):
        if it.kind == "footprint":
            prog.footprint = (it.sizes[0], it.sizes[1])
            continue
        if it.kind != "area":
            continue
        nxt = _skip(items, idx, 1)
        prv = _skip(items, idx, -1, ("mod", "areaword"))
        between_prev = tokens[items[prv].end:it.start] if prv >= 0 else []
        after = tokens[it.end:it.end + 1]
        room_next = nxt < len(items) and items[nxt].kind in ("room", "rooms") and \
            items[nxt].start == it.end
        each_before = prv >= 0 and items[prv].kind == "each"
        if room_next:
            items[nxt].size = it.number
        elif each_before or (prv >= 0 and items[prv].kind in ("room", "rooms")
                             and not items[prv].descriptor
                             and set(between_prev) <= {"of", "about", "approx", "is"}
                             and (between_prev or after == ["each"]
                                  or items[prv].end == it.start)):
            target = prv
            if each_before:
                target = _skip(items, prv, -1, ("mod", "sep"))
            if target >= 0 and items[target].kind in ("room", "rooms"):
                items[target].size = it.number
            else:
                totals.append(it.number or 0.0)
        else:
            totals.append(it.number or 0.0)
    if totals:
        prog.total_area = round(totals[-1] if len(totals) > 1 else totals[0], 2)


def read_room_counts(items: list[Item], prog: Programme) -> dict[str, int]:
    counts: dict[str, int] = {}
    explicit: dict[str, int] = {}
    descriptor_bedrooms = False
    for idx, it in enumerate(items):
        if it.kind not in ("room", "rooms") or it.negated or it.value == "room":
            continue
        if it.count is not None:
            explicit[it.value] = max(explicit.get(it.value, 0), it.count)
            if it.value == "bedroom":
                descriptor_bedrooms = True
        counts[it.value] = max(counts.get(it.value, 0), 1)
        if it.kind == "room" and it.value == "ensuite":
            prev = _skip(items, idx, -1)
            if prev >= 0 and items[prev].kind == "oneofthem":
                explicit["bathroom"] = max(0, explicit.get("bathroom", 1) - 1)
    counts.update(explicit)
    if counts.get("master") and descriptor_bedrooms and "bedroom" in counts:
        counts["bedroom"] -= counts["master"]
    if any(it.kind == "unit" and it.value == "studio" for it in items):
        counts.pop("bedroom", None) if not explicit.get("bedroom") else None
    return {k: v for k, v in counts.items() if v > 0}


def _list_after(items: list[Item], idx: int, tokens: list[str]) -> list[Item]:
    """Rooms joined by and / , / '/' right after items[idx] (an open-plan list). A comma
    only joins when the list ends in "and" ("kitchen, dining and living")."""
    out: list[Item] = []
    commas = False
    k = idx + 1
    while k < len(items):
        it = items[k]
        if it.kind in ("room", "rooms") and not it.negated:
            if out:
                gap = [t for t in tokens[out[-1].end:it.start] if t not in ("a", "the", "an")]
                if gap not in (["and"], ["/"], [","], ["and", "the"], []):
                    break
                commas = commas or gap == [","]
            out.append(it)
        elif not (it.kind in ("slash", "mod") or (it.kind == "sep" and it.value == ",")):
            break
        k += 1
    if commas and len(out) > 1:
        last_gap = [t for t in tokens[out[-2].end:out[-1].start] if t not in ("a", "the")]
        if last_gap != ["and"]:
            first_comma = next(i for i in range(1, len(out)) if "," in
                               tokens[out[i - 1].end:out[i].start])
            out = out[:first_comma]
    return out


def read_open_plan(items: list[Item], counts: dict[str, int],
               tokens: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for idx, it in enumerate(items):
        if it.kind == "openpair":
            pairs.append(("kitchen", "dining"))
            counts["dining"] = max(counts.get("dining", 0), 1)
        if it.kind != "open":
            continue
        rooms = _list_after(items, idx, tokens)
        kinds = [r.value for r in rooms]
        if len(kinds) == 1:
            kinds.append("living" if kinds[0] != "living" else "kitchen")
        for a, b in zip(kinds, kinds[1:], strict=False):
            if a != b:
                pairs.append((a, b))
                for k in (a, b):
                    counts[k] = max(counts.get(k, 0), 1)
    for idx, it in enumerate(items):
        if it.kind == "rel" and it.value == "open":
            a, b = _neighbour(items, idx, -1), _neighbour(items, idx, 1)
            if a is not None and b is not None and a.value != b.value:
                pairs.append((a.value, b.value))
    return pairs


def _neighbour(items: list[Item], idx: int, step: int, reach: int = 4) -> Item | None:
    k = idx + step
    while 0 <= k < len(items) and abs(k - idx) <= reach:
        it = items[k]
        if it.kind == "sep" and it.value != "/":
            return None
        if it.kind in ("room", "rooms") and not it.negated and not it.descriptor:
            return it
        if it.kind in ("room", "rooms") and it.descriptor and step < 0:
            return it
        k += step
    return None


def read_relations(items: list[Item], counts: dict[str, int]) -> list[tuple[str, str, str]]:
    rels: list[tuple[str, str, str]] = []
    for idx, it in enumerate(items):
        if it.kind == "rel" and it.value != "open":
            a, b = _neighbour(items, idx, -1), _neighbour(items, idx, 1)
            if a is not None and b is not None and a.value != b.value:
                rels.append((it.value, a.value, b.value))
        elif it.kind in ("room", "rooms") and it.value == "balcony" and not it.negated:
            # "living room with a balcony": the balcony opens off the living room.
            prev = idx - 1
            while prev >= 0 and items[prev].kind == "mod":
                prev -= 1
            if prev >= 1 and items[prev].kind == "num":
                prev -= 1
            if prev >= 0 and items[prev].kind == "room" and items[prev].value == "living" \
                    and 0 < it.start - items[prev].end <= 3:
                rels.append(("adjacent", "balcony", "living"))
    if counts.get("ensuite"):
        owner = "master" if counts.get("master") else "bedroom" if counts.get("bedroom") \
            else ""
        if owner:
            rels.append(("ensuite", "ensuite", owner))
    return rels


def read_facing(items: list[Item], tokens: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    seg_start = 0
    for idx, it in enumerate(items):
        if it.kind == "sep" and it.value != "/":
            seg_start = idx + 1
        if it.kind != "dir":
            continue
        prev = idx - 1
        nxt = idx + 1
        if prev >= 0 and items[prev].kind == "facing":
            subject = _subject(items, tokens, seg_start, prev)
            if subject is not None:
                out.setdefault(subject.value, it.value)
            seg_start = idx + 1
        elif nxt < len(items) and items[nxt].kind == "facing":
            room = _skip(items, nxt, 1)
            if room < len(items) and items[room].kind in ("room", "rooms") and \
                    items[room].start - items[nxt].end <= 1:
                out.setdefault(items[room].value, it.value)
            seg_start = idx + 2
    return out


def _subject(items: list[Item], tokens: list[str], start: int, stop: int) -> Item | None:
    """The room a "facing" phrase is about: the nearest room before it, unless that room is
    attached with "with" to the one before ("living room with a balcony facing south")."""
    rooms = [it for it in items[start:stop] if it.kind in ("room", "rooms")
             and not it.negated and not it.descriptor]
    if not rooms:
        return None
    if len(rooms) > 1:
        gap = [t for t in tokens[rooms[-2].end:rooms[-1].start] if t not in ("a", "an", "the")]
        if gap == ["with"]:
            return rooms[-2]
    return rooms[-1]
