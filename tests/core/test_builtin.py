"""The built-in backend's behaviour, on a tiny random-weight model (same code paths)."""

import shutil
import threading

import numpy as np
import pytest

from t2i_core.backends.base import GenerateRequest, LoraRef
from t2i_core.backends.builtin import BuiltinBackend
from t2i_core.errors import Cancelled, T2IError


def req(**kw) -> GenerateRequest:
    return GenerateRequest(**{"prompt": "a red apple", "steps": 4, "width": 64, "height": 64,
                              **kw})


def test_txt2img_shapes_count_and_provenance(tiny_backend):
    res = tiny_backend.generate(req(count=3, seed=10))
    assert [im.shape for im in res.images] == [(64, 64, 4)] * 3
    assert [p.seed for p in res.provenance] == [10, 11, 12]
    p = res.provenance[0]
    assert (p.backend, p.model, p.mode, p.width) == ("builtin", "builtin", "txt2img", 64)
    assert len(p.model_hash) == 64
    assert not np.array_equal(res.images[0], res.images[1])  # seeds differ -> images differ


def test_same_seed_same_image_and_batch_independent(tiny_backend):
    a = tiny_backend.generate(req(seed=42, count=2)).images
    again = tiny_backend.generate(req(seed=42, count=2)).images
    c = tiny_backend.generate(req(seed=43)).images
    assert all(np.array_equal(x, y) for x, y in zip(a, again, strict=True))
    # image i of a batch uses seed + i: alone it is the same up to float rounding of the
    # batched matmuls (a level or two of 255)
    assert np.abs(a[1].astype(int) - c[0].astype(int)).max() <= 3


def test_progress_every_step_with_preview(tiny_backend):
    seen = []
    tiny_backend.generate(req(steps=6), progress=lambda s, t, p: seen.append((s, t, p.shape)))
    assert seen == [(i, 6, (32, 32, 4)) for i in range(1, 7)]


def test_cancel_stops_within_one_step(tiny_backend):
    flag = threading.Event()
    steps = []

    def progress(step, total, _):
        steps.append(step)
        if step == 2:
            flag.set()

    with pytest.raises(Cancelled):
        tiny_backend.generate(req(steps=50), progress=progress, cancel=flag)
    assert steps == [1, 2]


def test_img2img_low_strength_is_dominated_by_the_init_image(tiny_backend):
    init = tiny_backend.generate(req(seed=1)).images[0]

    def spread(strength: float) -> float:  # how much the seed still matters
        a, b = (tiny_backend.generate(req(seed=s, init_image=init, strength=strength,
                                          steps=20)) for s in (2, 3))
        assert a.provenance[0].mode == "img2img" and a.provenance[0].strength == strength
        return float(np.abs(a.images[0].astype(int) - b.images[0]).mean())

    assert spread(0.05) < 0.5 * spread(1.0)


def test_inpaint_keeps_unmasked_pixels_exactly(tiny_backend):
    init = tiny_backend.generate(req(seed=3)).images[0]
    mask = np.zeros((64, 64), np.uint8)
    mask[8:32, 8:32] = 255
    out = tiny_backend.generate(req(seed=4, init_image=init, mask=mask, strength=1.0)).images[0]
    keep = mask == 0
    assert np.array_equal(out[keep], init[keep])
    assert not np.array_equal(out[~keep], init[~keep])


def test_negative_prompt_changes_the_image(tiny_backend):
    a = tiny_backend.generate(req(seed=5)).images[0]
    b = tiny_backend.generate(req(seed=5, negative_prompt="green, blurry")).images[0]
    assert not np.array_equal(a, b)


def test_long_prompt_is_truncated_with_a_warning(tiny_backend):
    res = tiny_backend.generate(req(prompt="apple " * 300))  # 300 tokens, under 2000 chars
    assert any("cut off" in w for w in res.warnings)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"width": 100, "height": 100}, "bad_size"),
    ({"width": 64, "height": 128}, "bad_size"),
    ({"model": "sdxl"}, "model_not_found"),
    ({"loras": [LoraRef("ink")]}, "lora_not_found"),
    ({"prompt": " "}, "empty_prompt"),
])
def test_bad_requests(tiny_backend, kwargs, code):
    with pytest.raises(T2IError) as e:
        tiny_backend.generate(req(**kwargs))
    assert e.value.code == code


def test_missing_and_corrupt_weights(tmp_path, tiny_weights):
    with pytest.raises(T2IError) as e:
        BuiltinBackend(tmp_path).models()
    assert e.value.code == "weights_missing" and "t2i train" in e.value.message
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(tiny_weights / "builtin.safetensors", broken / "builtin.safetensors")
    data = (broken / "builtin.safetensors").read_bytes()
    (broken / "builtin.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(T2IError) as e:
        BuiltinBackend(broken).models()
    assert e.value.code == "weights_corrupt"
    (broken / "builtin.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(T2IError):
        BuiltinBackend(broken).models()
