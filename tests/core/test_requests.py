"""Bad input gets a clear error naming the problem and the accepted range."""

import numpy as np
import pytest

from t2i_core.backends.base import GenerateRequest, LoraRef, Provenance
from t2i_core.errors import T2IError

SIZES = (32, 64, 128)


@pytest.mark.parametrize(("kwargs", "code", "words"), [
    ({"prompt": ""}, "empty_prompt", "empty"),
    ({"prompt": "   \n"}, "empty_prompt", "empty"),
    ({"steps": 0}, "bad_steps", "1 to 200"),
    ({"steps": -3}, "bad_steps", "1 to 200"),
    ({"count": 0}, "bad_count", "1 to 16"),
    ({"guidance": 100.0}, "bad_guidance", "0 to 30"),
    ({"guidance": float("nan")}, "bad_guidance", "0 to 30"),
    ({"width": 100, "height": 100}, "bad_size", "32, 64, 128"),
    ({"strength": 1.5}, "bad_strength", "0"),
    ({"seed": -1}, "bad_seed", "0 to"),
    ({"loras": [LoraRef("x", 99.0)]}, "bad_lora", "-4 to 4"),
    ({"init_image": np.zeros((8, 8, 3), np.uint8)}, "bad_image", "RGBA"),
    ({"mask": np.zeros((8, 8), np.uint8)}, "mask_without_image", "init image"),
    ({"init_image": np.zeros((8, 8, 4), np.uint8), "mask": np.zeros((4, 4), np.uint8)},
     "bad_mask", "same size"),
])
def test_validation_errors(kwargs, code, words):
    req = GenerateRequest(**{"prompt": "a house", **kwargs})
    with pytest.raises(T2IError) as e:
        req.validate(sizes=SIZES)
    assert e.value.code == code
    assert words in e.value.message


def test_valid_request_passes_and_mode():
    req = GenerateRequest(prompt="a house", width=64, height=64)
    req.validate(sizes=SIZES)
    assert req.mode == "txt2img"
    req.init_image = np.zeros((64, 64, 4), np.uint8)
    assert req.mode == "img2img"
    req.mask = np.zeros((64, 64), np.uint8)
    assert req.mode == "inpaint"


def test_provenance_round_trip_and_a1111_text():
    p = Provenance(prompt="a house", negative_prompt="blurry", seed=5, steps=20, guidance=3.0,
                   width=128, height=128, backend="builtin", model="builtin",
                   model_hash="ab" * 32, loras=[LoraRef("ink", 0.8)])
    assert Provenance.from_dict(p.to_dict()) == p
    text = p.a1111_parameters()
    assert text.splitlines()[0] == "a house"
    assert text.splitlines()[1] == "Negative prompt: blurry"
    assert "Seed: 5" in text and "Size: 128x128" in text and "ink: 0.8" in text
