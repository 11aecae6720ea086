"""The data builder: licence policy, captions, concept split, and a real small build."""

import json

import numpy as np

from t2i_core.data.build import SKIN_TONE, build_dataset, concept_words, split_of
from t2i_core.data.sources import allowed_icon_sets


def collection(spdx: str, category: str = "UI 24px", palette: bool = False) -> dict:
    return {"name": "x", "author": {"name": "a", "url": "u"}, "category": category,
            "license": {"spdx": spdx, "url": "l"}, "palette": palette}


def test_licence_policy(tmp_path):
    cols = {
        "mit-set": collection("MIT"), "cc0-set": collection("CC0-1.0"),
        "ccby-set": collection("CC-BY-4.0"), "ofl-set": collection("OFL-1.1"),
        "gpl-set": collection("GPL-3.0"), "sa-set": collection("CC-BY-SA-4.0"),
        "nc-set": collection("CC-BY-NC-4.0"), "logos": collection("CC0-1.0", "Logos"),
        "my-brands": collection("MIT"), "devicon": collection("MIT", "Programming"),
        "openmoji": collection("CC-BY-SA-4.0", "Emoji"), "twemoji": collection("CC-BY-4.0",
                                                                               "Emoji", True),
        "some-emoji": collection("MIT", "Emoji", True),
    }
    (tmp_path / "collections.json").write_text(json.dumps(cols))
    allowed = {s.prefix for s in allowed_icon_sets(tmp_path)}
    assert allowed == {"mit-set", "cc0-set", "ccby-set", "ofl-set", "twemoji"}


def test_concept_words_and_skin_tones():
    assert concept_words("home-variant-outline") == ["home"]
    assert concept_words("account-arrow-left") == ["account", "arrow", "left"]
    assert concept_words("outline") == ["outline"]  # never empty
    assert SKIN_TONE.search("waving-hand-medium-dark-skin-tone")
    assert SKIN_TONE.search("artist-medium-light")  # fluent naming
    assert not SKIN_TONE.search("waving-hand")


def test_split_is_by_concept_and_stable():
    assert split_of("mdi:home") == split_of("mdi:home")
    splits = [split_of(f"set:{i}") for i in range(4000)]
    assert 0.03 < splits.count("test") / 4000 < 0.07
    assert 0.03 < splits.count("val") / 4000 < 0.07


def test_real_build_of_a_few_sets(tmp_path):
    """Fetch the pinned npm packages and build from the first sets: real SVGs, real resvg."""
    out = tmp_path / "data"
    summary = build_dataset(out, size=32, limit_sets=4, workers=1)
    images = np.load(out / "images32.npy")
    meta = [json.loads(line) for line in (out / "meta.jsonl").read_text().splitlines()]
    assert summary["images"] == len(images) == len(meta) > 100
    assert images.shape[1:] == (32, 32, 4) and images[..., 3].max() == 255
    assert all(m["caption"].endswith(("icon", "emoji")) for m in meta)
    groups: dict[str, set] = {}
    for m in meta:
        groups.setdefault(f"{m['set']}:{m['concept']}", set()).add(m["split"])
    assert all(len(s) == 1 for s in groups.values())  # a concept never spans splits
    text = (out / "ATTRIBUTION.md").read_text()
    assert all(f"`{s}`" in text for s in {m["set"] for m in meta})
