import random

import pytest

from t2i_core.prompt import Segment, apply_template, normalize, parse_weights, prepare
from t2i_core.text_augment import augment, drop_style, tag_shuffle, word_delete, word_insert


def test_normalize_collapses_whitespace():
    assert normalize("  a \n red\tapple  ") == "a red apple"


@pytest.mark.parametrize(("prompt", "expected"), [
    ("a (red:1.3) apple", [Segment("a ", 1.0), Segment("red", 1.3), Segment(" apple", 1.0)]),
    ("((house))", [Segment("house", 1.21)]),
    ("[tree] in snow", [Segment("tree", 0.9091), Segment(" in snow", 1.0)]),
    (r"a \(literal\) thing", [Segment("a (literal) thing", 1.0)]),
    ("(a (b:1.5) c:0.5)", [Segment("a ", 0.5), Segment("b", 0.75), Segment(" c", 0.5)]),
    ("(huge:99)", [Segment("huge", 3.0)]),  # clamped to the accepted range
])
def test_parse_weights(prompt, expected):
    assert parse_weights(prompt) == expected


def test_unbalanced_brackets_never_raise():
    for p in ["(((", ")))", "(a:", "a:1.2)", "[[x", "(:1.5)"]:
        segs = parse_weights(p)
        assert all(isinstance(s.weight, float) for s in segs)


def test_templates_and_prepare():
    assert apply_template("house", "icon") == "house icon"
    with pytest.raises(ValueError, match="unknown template"):
        apply_template("x", "nope")
    p = prepare("  a (red:1.2) apple ", negative="blurry", template="emoji")
    assert p.text == "a red apple emoji"
    assert p.negative == [Segment("blurry", 1.0)]


def test_augmentations_keep_content_and_are_seeded():
    rng = random.Random(0)
    assert word_delete(["one"], rng) == ["one"]
    assert len(word_insert(["a", "b"], rng)) >= 3
    assert drop_style("house emoji") == "house"
    assert drop_style("pen tool color icon") == "pen tool"
    shuffled = tag_shuffle("house emoji", ["home", "building"], random.Random(1))
    assert "house emoji" in shuffled
    outs = [augment("house emoji", ["house", "home", "building"], random.Random(s))
            for s in range(50)]
    assert all(o.strip() for o in outs)
    assert len(set(outs)) > 10  # real variety
    assert outs == [augment("house emoji", ["house", "home", "building"], random.Random(s))
                    for s in range(50)]


def test_weighting_moves_the_embedding(text_encoder):
    plain = text_encoder.encode(["a red apple"]).embeddings[0]
    red = text_encoder.encode(["red"]).embeddings[0]
    heavy = text_encoder.encode_weighted([parse_weights("a (red:2.5) apple")]).embeddings[0]
    assert float(heavy @ red) > float(plain @ red) + 0.02


def test_truncation_is_reported(text_encoder):
    enc = text_encoder.encode(["word " * 600, "short"])
    assert enc.truncated == [True, False]


def test_encoder_matches_transformers_automodel(text_encoder):
    """Our direct BertModel load gives the same embeddings as AutoModel.from_pretrained."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from t2i_core.text_encoder import minilm_path

    path = str(minilm_path())
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    ref = AutoModel.from_pretrained(path, local_files_only=True).eval()
    texts = ["a red apple", "smiling face with sunglasses"]
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = ref(**batch).last_hidden_state
    m = batch["attention_mask"][..., None].float()
    want = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    got = text_encoder.encode(texts).embeddings
    assert torch.allclose(got, want, atol=1e-5)
