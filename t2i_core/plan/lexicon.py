"""The words the plan parser understands, as data: rooms, units, relations, directions.

Phrases are written with single spaces, hyphens already turned into spaces (the parser does
the same to the text). Plurals are generated (``bedroom`` -> ``bedrooms``, ``balcony`` ->
``balconies``), so each phrase is listed once.
"""

from __future__ import annotations

ROOM_PHRASES: dict[str, tuple[str, ...]] = {
    "living": ("living room", "living area", "living", "lounge", "sitting room", "family room",
               "front room", "living space", "day room"),
    "kitchen": ("kitchen", "kitchenette", "galley kitchen", "eat in kitchen", "cooking area"),
    "dining": ("dining room", "dining area", "dining", "dining space", "diner"),
    "master": ("master bedroom", "master", "main bedroom", "primary bedroom", "master suite",
               "parents bedroom"),
    "bedroom": ("bedroom", "bed", "guest bedroom", "guest room", "kids room", "kid room",
                "children room", "nursery", "spare room", "sleeping room", "bedrm"),
    "ensuite": ("ensuite", "en suite", "ensuite bathroom", "en suite bathroom",
                "attached bathroom", "ensuite shower", "en suite shower", "attached bath"),
    "bathroom": ("bathroom", "bath", "shower room", "shower", "washroom", "family bathroom",
                 "jack and jill bathroom", "main bathroom"),
    "wc": ("wc", "toilet", "powder room", "cloakroom", "guest wc", "guest toilet", "loo",
           "water closet", "downstairs toilet", "half bath"),
    "study": ("study", "office", "home office", "den", "library", "workroom", "study room",
              "work room"),
    "utility": ("utility", "utility room", "laundry", "laundry room", "washing room"),
    "storage": ("storage", "storage room", "store room", "storeroom", "storage closet",
                "closet", "pantry", "walk in closet", "walk in wardrobe", "dressing room",
                "box room", "wardrobe", "larder", "store"),
    "hall": ("hall", "hallway", "entrance hall", "entry hall", "corridor", "central corridor",
             "foyer", "entrance", "entry", "lobby", "entrance area"),
    "balcony": ("balcony", "terrace", "garden terrace", "loggia", "patio", "veranda",
                "verandah", "roof terrace"),
    "garage": ("garage", "double garage", "single garage", "carport", "car port"),
    # "rooms" with a number (a hotel floor): bedrooms; without one it is not understood.
    "room": ("room",),
}
# Words that only qualify the room after them and change nothing in the plan.
ROOM_MODIFIERS = frozenset({"separate", "second", "third", "other", "own", "private",
                            "extra", "additional", "another", "independent"})

UNIT_PHRASES: dict[str, tuple[str, ...]] = {
    "apartment": ("apartment", "flat", "condo", "condominium", "unit", "penthouse"),
    "house": ("house", "home", "bungalow", "cottage", "villa", "townhouse", "town house",
              "semi detached", "detached house", "family home", "family house", "tiny house",
              "semi detached house", "terraced house", "cabin"),
    "studio": ("studio", "bedsit", "studio apartment", "studio flat", "loft studio",
               "1 room flat", "1 room apartment", "one room flat", "loft"),
}

RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "adjacent": ("next to", "adjacent to", "beside", "by", "near", "close to", "between",
                 "connected to", "next door to", "alongside", "bordering", "adjoining",
                 "joined to", "linked to"),
    "away": ("away from", "far from", "not next to", "not be next to", "must not be next to",
             "should not be next to", "not adjacent to", "separate from", "separated from",
             "apart from", "far away from", "not near"),
    "off": ("off", "opening off", "accessed from", "opens off", "off of", "reached from",
            "opening from"),
    "open": ("open to", "open onto", "opening onto", "opens to", "opens onto",
             "open into", "opening into"),
}
OPEN_PHRASES = ("open plan", "open", "open concept", "open space")
FACING_PHRASES = ("facing", "faces", "face", "facing to", "facing towards", "oriented to",
                  "oriented", "orientated", "orientated to", "looking", "looking to",
                  "pointing", "towards", "toward")
SIDE_PHRASES = ("on the", "along the", "to the", "at the", "on")  # ... <dir> [side|wall]
SIDE_TAILS = ("side", "wall", "facade", "façade", "elevation", "end")
NEGATIONS = ("no", "without", "not", "dont need", "don t need", "do not need", "no need for",
             "not needing", "excluding", "except", "minus", "never")
DIRECTIONS = {"north": "N", "south": "S", "east": "E", "west": "W", "northern": "N",
              "southern": "S", "eastern": "E", "western": "W", "northward": "N",
              "southward": "S", "eastward": "E", "westward": "W"}
AREA_WORDS = ("total", "in total", "overall", "total area", "gross", "floor area", "approx",
              "approximately", "about", "around", "roughly", "footprint", "plot", "of about")
ENTRANCE_WORDS = ("entrance", "entry", "front door", "main door", "main entrance")
# Function words: understood as glue, never reported.
STOPWORDS = frozenset({"a", "all", "also", "an", "and", "any", "are", "as", "at", "be", "both",
                       "but", "each", "for", "from", "has", "have", "having", "here", "i", "in",
                       "into", "is", "it", "its", "like", "m", "me", "meter", "meters", "metre",
                       "metres", "must", "my", "need", "needs", "of", "on", "one", "one's", "or",
                       "our", "please", "plus", "s", "should", "so", "some", "t", "that", "the",
                       "their", "them", "there", "this", "to", "us", "want", "we", "where",
                       "which", "while", "who", "with", "would"})

NUMBER_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "twenty": 20,
                "thirty": 30, "forty": 40, "fifty": 50, "single": 1}
SQFT_TO_M2 = 0.09290304


def plural(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    elif last.endswith(("s", "sh", "ch", "x")):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}".strip()
