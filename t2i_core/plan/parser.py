"""Text -> room programme: a small rule-based reader of the way people describe dwellings.

Why rules and not a model: the slots are few and precise (counts, m², sides of a compass),
there is no licensed training set (see docs/floorplans.md), and a rule that misreads can be
seen and fixed. The gold set in tests/plan/data measures it.

How: the text is normalised (lower case, m² / sq ft / number words, hyphens), split into
tokens, and scanned left to right for the longest phrase of the lexicon at each position.
That gives a list of items (rooms with counts, areas, footprints, units, relation words,
directions, negations); the items are then read together (which area belongs to which room,
what a "facing" phrase refers to, which two rooms a relation joins). Every token that no item
used and that is not a function word is reported in ``Programme.unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from t2i_core.errors import T2IError
from t2i_core.plan import lexicon as L
from t2i_core.plan.programme import MAX_ROOMS, NO_ROOMS_MESSAGE, Programme, Relation, Room, complete

_PHRASES: dict[tuple[str, ...], tuple[str, str]] = {}


def _add(phrase: str, kind: str, value: str) -> None:
    _PHRASES.setdefault(tuple(phrase.split()), (kind, value))


for _kind, _words in L.ROOM_PHRASES.items():
    for _w in _words:
        _add(_w, "room", _kind)
        _add(L.plural(_w), "rooms", _kind)
for _unit, _words in L.UNIT_PHRASES.items():
    for _w in _words:
        _add(_w, "unit", _unit)
        _add(L.plural(_w), "unit", _unit)
for _rel, _words in L.RELATION_PHRASES.items():
    for _w in _words:
        _add(_w, "rel", _rel)
for _w in L.OPEN_PHRASES:
    _add(_w, "open", "")
for _w in L.FACING_PHRASES:
    _add(_w, "facing", "")
for _w in L.NEGATIONS:
    _add(_w, "neg", "")
for _w, _d in L.DIRECTIONS.items():
    _add(_w, "dir", _d)
for _w in L.AREA_WORDS:
    _add(_w, "areaword", "")
for _w in L.ROOM_MODIFIERS:
    _add(_w, "mod", "")
for _w in ("kitchen diner", "kitchen diners", "kitchen dining", "kitchen dining room"):
    _PHRASES[tuple(_w.split())] = ("kitchendiner", "")
_add("bhk", "bhk", "")
_add("each", "each", "")
_add("1 of them", "oneofthem", "")
_MAX_PHRASE = max(len(p) for p in _PHRASES)


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


def normalise(text: str) -> str:
    t = text.lower()
    for a, b in (("m²", " m2 "), ("㎡", " m2 "), ("×", " x "), ("–", "-"), ("—", "-"),
                 ("’", "'"), ("ft²", " sqft "), ("&", " and ")):
        t = t.replace(a, b)
    t = re.sub(r"\b(\w+)-style\b", r"\1style", t)  # "office-style": an adjective, not a room
    t = re.sub(r"(\d)([a-z])", r"\1 \2", t)
    t = re.sub(r"(\d)x(\d)", r"\1 x \2", t)
    t = re.sub(r"\bsq\.?\s*ft\.?|\bsquare\s+f(?:ee|oo)t\b|\bft\s*2\b|\bsqft\b|\bsf\b",
               " sqft ", t)
    t = re.sub(r"\bsq\.?\s*m(?:trs?)?\b\.?|\bsqm\b|\bsquare\s+met(?:re|er)s?\b|\bm\s*2\b"
               r"|\bm\^2\b|\bsq\.?\s*metres?\b", " m2 ", t)
    t = re.sub(r"\b(a|one|two|three|four|five)\s+hundred\b",
               lambda m: str(100 * {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4,
                                    "five": 5}[m.group(1)]), t)
    t = re.sub(r"\b(" + "|".join(L.NUMBER_WORDS) + r")\b",
               lambda m: str(L.NUMBER_WORDS[m.group(1)]), t)
    t = t.replace("-", " ").replace("'", " ")
    return t


_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-zé][a-zé0-9]*|[,;:/()]|\.(?=\s|$)")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def _num(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None


def scan(tokens: list[str]) -> tuple[list[Item], set[int]]:
    """Items found in the tokens, and the token indices they used."""
    items: list[Item] = []
    used: set[int] = set()
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        num = _num(tok)
        if num is not None:
            # Footprint: 10 x 7 m, 10 m by 7 m, 9 by 11 metres.
            j = i + 1 + (i + 1 < n and tokens[i + 1] in ("m", "metres", "meters"))
            if j + 1 < n and tokens[j] in ("x", "by") and _num(tokens[j + 1]) is not None:
                k = j + 2
                if k < n and tokens[k] in ("m", "metres", "meters", "metre", "meter"):
                    k += 1
                items.append(Item("footprint", "", i, k, number=num,
                                  sizes=[num, float(tokens[j + 1])]))
                used.update(range(i, k))
                i = k
                continue
            if i + 1 < n and tokens[i + 1] in ("m2", "sqft"):
                area = num * (L.SQFT_TO_M2 if tokens[i + 1] == "sqft" else 1.0)
                items.append(Item("area", "", i, i + 2, number=area))
                used.update((i, i + 1))
                i += 2
                continue
            if tok == "1" and tokens[i + 1:i + 3] in (["room", "flat"], ["room", "apartment"]):
                items.append(Item("unit", "studio", i, i + 3))
                used.update(range(i, i + 3))
                i += 3
                continue
            if (i + 2 < n and tokens[i + 1] == "of" and tokens[i + 2] == "them"):
                items.append(Item("oneofthem", "", i, i + 3))
                used.update(range(i, i + 3))
                i += 3
                continue
            items.append(Item("num", tok, i, i + 1, number=num))
            used.add(i)
            i += 1
            continue
        if tok in ",;:()." or tok == "/":
            items.append(Item("sep" if tok != "/" else "slash", tok, i, i + 1))
            used.add(i)
            i += 1
            continue
        # Entrance with a direction: "entrance from the north", "entry on the east side".
        if tok in ("entrance", "entry"):
            k = i + 1
            while k < n and tokens[k] in ("from", "on", "at", "to", "the", "facing", "faces",
                                          "is", "towards"):
                k += 1
            if k < n and tokens[k] in L.DIRECTIONS and k > i + 1:
                end = k + 1 + (k + 1 < n and tokens[k + 1] in L.SIDE_TAILS)
                items.append(Item("entrance", L.DIRECTIONS[tokens[k]], i, end))
                used.update(range(i, end))
                i = end
                continue
        # Side phrases: "on the west side", "along the north wall", "to the south".
        if tok in ("on", "along", "to", "at"):
            k = i + 1 + (i + 1 < n and tokens[i + 1] == "the")
            if k < n and tokens[k] in L.DIRECTIONS and (
                    tok in ("to", "on") or (k + 1 < n and tokens[k + 1] in L.SIDE_TAILS)):
                end = k + 1 + (k + 1 < n and tokens[k + 1] in L.SIDE_TAILS)
                items.append(Item("facing", "", i, k))
                items.append(Item("dir", L.DIRECTIONS[tokens[k]], k, end))
                used.update(range(i, end))
                i = end
                continue
        for size in range(min(_MAX_PHRASE, n - i), 0, -1):
            hit = _PHRASES.get(tuple(tokens[i:i + size]))
            if hit is not None:
                kind, value = hit
                items.append(Item(kind, value, i, i + size))
                used.update(range(i, i + size))
                i += size
                break
        else:
            i += 1
    return items, used


def programme_from_text(text: str) -> Programme:
    """Parse and complete; raises ``no_rooms`` (with examples) when there is nothing."""
    if not text or not text.strip():
        raise T2IError("no_rooms", NO_ROOMS_MESSAGE)
    if len(text) > 2000:
        raise T2IError("bad_request", f"the description is {len(text)} characters; describe "
                       "the plan in at most 2000")
    parsed = parse(text)
    if not parsed.rooms and not parsed.unit:
        words = f" (not understood: {', '.join(parsed.unknown[:12])})" if parsed.unknown else ""
        raise T2IError("no_rooms", NO_ROOMS_MESSAGE + words)
    if len(parsed.rooms) > MAX_ROOMS:
        parsed.validate()  # refuses with the count the text asked for, before adding any
    return complete(parsed)


def parse(text: str) -> Programme:
    """The programme the text asks for (nothing added: see ``programme.complete``)."""
    tokens = tokenize(text)
    items, used = scan(tokens)
    prog = Programme(source=text)
    _units(items, prog)
    _bind_counts(items)
    _negations(items, prog)
    _areas(items, tokens, prog)
    counts = _room_counts(items, prog)
    open_pairs = _open_plan(items, counts, tokens)
    relations = _relations(items, counts)
    facing = _facing(items, tokens)
    # Rooms, in a stable order: kinds in order of first mention.
    order: list[str] = []
    for it in items:
        if it.kind in ("room", "rooms") and not it.negated and it.value in counts \
                and it.value not in order:
            order.append(it.value)
    for kind in counts:
        if kind not in order:
            order.append(kind)
    sizes = {it.value: it.size for it in items
             if it.kind in ("room", "rooms") and it.size is not None and not it.negated}
    for kind in order:
        for k in range(counts[kind]):
            prog.rooms.append(Room(f"{kind}_{k + 1}", kind, sizes.get(kind)))
    plural = {it.value for it in items if it.kind == "rooms"}

    def ids(kind: str, every: bool) -> list[str]:
        rooms = [r.id for r in prog.rooms if r.kind == kind]
        return rooms if every else rooms[:1]

    for kind, a, b in relations:
        for ra in ids(a, a in plural or kind in ("off", "away")):
            for rb in ids(b, False):
                if ra != rb:
                    prog.relations.append(Relation(kind, ra, rb))
    for a, b in open_pairs:
        ra, rb = ids(a, False), ids(b, False)
        if ra and rb:
            prog.relations.append(Relation("open", ra[0], rb[0]))
    for kind, d in facing.items():
        for rid in ids(kind, True):
            prog.room(rid).facing = d
    entrance = [it.value for it in items if it.kind == "entrance"]
    prog.entrance = entrance[0] if entrance else None
    unknown_rooms = {it.start for it in items if it.kind == "room" and it.value == "room"}
    prog.unknown = [t for i, t in enumerate(tokens)
                    if (i not in used or i in unknown_rooms) and t not in L.STOPWORDS
                    and re.fullmatch(r"[a-zé]+", t)]
    return prog


# --- the readings ----------------------------------------------------------------------------

def _units(items: list[Item], prog: Programme) -> None:
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


def _bind_counts(items: list[Item]) -> None:
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


def _negations(items: list[Item], prog: Programme) -> None:
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


def _areas(items: list[Item], tokens: list[str], prog: Programme) -> None:
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


def _room_counts(items: list[Item], prog: Programme) -> dict[str, int]:
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


def _open_plan(items: list[Item], counts: dict[str, int],
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


def _relations(items: list[Item], counts: dict[str, int]) -> list[tuple[str, str, str]]:
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


def _facing(items: list[Item], tokens: list[str]) -> dict[str, str]:
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
