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

from t2i_core.errors import T2IError
from t2i_core.plan import lexicon as L
from t2i_core.plan import reading as R
from t2i_core.plan.programme import MAX_ROOMS, NO_ROOMS_MESSAGE, Programme, Relation, Room, complete
from t2i_core.plan.reading import Item

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
    R.read_units(items, prog)
    R.read_bind_counts(items)
    R.read_negations(items, prog)
    R.read_areas(items, tokens, prog)
    counts = R.read_room_counts(items, prog)
    open_pairs = R.read_open_plan(items, counts, tokens)
    relations = R.read_relations(items, counts)
    facing = R.read_facing(items, tokens)
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
