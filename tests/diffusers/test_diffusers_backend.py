"""The backend in-process: running out of memory is a clear error (not a hang) and the backend
keeps working; options are checked at start-up."""

from __future__ import annotations

import pytest
from diffusers_helpers import Zoo

from t2i_core.backends.base import GenerateRequest
from t2i_core.errors import T2IError


@pytest.fixture(scope="module")
def backend(zoo: Zoo):
    from t2i_core.backends.diffusers_backend import DiffusersBackend

    return DiffusersBackend(models_dir=zoo.models, cache_dir=zoo.cache, device="cpu")


def test_running_out_of_memory_is_a_clear_error_and_the_backend_recovers(backend):
    req = GenerateRequest(prompt="a cat", model="tiny-sd1", width=64, height=64, steps=2)
    backend.generate(req)  # loaded
    unet = backend._loaded["tiny-sd1"].pipe.unet

    def too_big(module, args):  # what a too-large batch does: the allocator refuses
        import torch

        torch.empty(2**60, dtype=torch.uint8)

    hook = unet.register_forward_pre_hook(too_big)
    try:
        with pytest.raises(T2IError) as e:
            backend.generate(req)
    finally:
        hook.remove()
    assert e.value.code == "out_of_memory"
    assert "fewer images" in e.value.message and "attention_slicing=true" in e.value.message
    assert "cpu_offload" not in e.value.message  # a CPU has nowhere to offload to
    assert len(backend.generate(req).images) == 1


def test_running_out_of_memory_while_training_is_a_clear_error(backend, tmp_path):
    """The same allocator failure in a training step: out_of_memory naming the batch and
    the resolution option; the base model then generates as before."""
    from PIL import Image

    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    for i in range(2):
        Image.new("RGB", (32, 32), (200, 40 * i, 0)).save(tmp_path / f"red_{i}.png")
    req = GenerateRequest(prompt="a cat", model="tiny-sd1", width=64, height=64, steps=2)
    before = backend.generate(req).images[0]
    unet = backend._loaded["tiny-sd1"].pipe.unet
    calls = []

    def too_big(module, args):  # the third training step's forward asks for too much
        import torch

        if not module.training:  # the prior-preservation images drawn before training
            return
        if len(calls) == 2:
            torch.empty(2**60, dtype=torch.uint8)
        calls.append(module.training)

    hook = unet.register_forward_pre_hook(too_big)
    try:
        with pytest.raises(T2IError) as e:
            train(backend, TrainRequest(folder=str(tmp_path), name="oom", model="tiny-sd1",
                                        steps=5, batch=2, sample_every=0))
    finally:
        hook.remove()
    assert e.value.code == "out_of_memory", e.value.message
    assert "step 3" in e.value.message and "batch 2" in e.value.message
    assert "smaller batch" in e.value.message and "attention_slicing" in e.value.message
    assert (backend.generate(req).images[0] == before).all()


def test_bad_options_are_refused_at_start(zoo: Zoo):
    from t2i_core.backends.diffusers_backend import DiffusersBackend

    for kwargs, code in (({"dtype": "fp8"}, "bad_option"), ({"cpu_offload": "all"}, "bad_option"),
                         ({"device": "cpu", "dtype": "fp16"}, "bad_option")):
        with pytest.raises(T2IError) as e:
            DiffusersBackend(models_dir=zoo.models, cache_dir=zoo.cache, **kwargs)
        assert e.value.code == code, kwargs
    with pytest.raises(T2IError) as e:
        DiffusersBackend(models_dir=None, cache_dir=zoo.cache)
    assert "models_dir" in e.value.message


def test_sdxl_lora_in_kohya_naming_with_both_text_encoders(zoo: Zoo, tmp_path):
    """Trained with peft on the tiny SDXL, saved in the kohya naming (lora_te1_/lora_te2_),
    loaded by the backend: at weight 1 it reproduces the trained pipeline."""
    import numpy as np
    import tiny_models as tm
    from diffusers_helpers import reference_image
    from lora_training import train_tiny_lora
    from safetensors import safe_open

    from t2i_core.backends.base import LoraRef
    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.backends.diffusers_backend.families import FAMILIES as FAMS
    from t2i_core.backends.diffusers_backend.lora import save_kohya_adapter

    pipe = tm.build("sdxl", zoo.work / "tokenizers")  # same seed: the zoo's tiny-sdxl
    train_tiny_lora(pipe, steps=4)
    path = save_kohya_adapter(tmp_path / "loras" / "xl.safetensors", pipe.unet, FAMS["sdxl"],
                              text_encoders={"text_encoder": pipe.text_encoder,
                                             "text_encoder_2": pipe.text_encoder_2})
    with safe_open(str(path), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    assert any(k.startswith("lora_te1_text_model_encoder_layers_0_") for k in keys)
    assert any(k.startswith("lora_te2_text_model_encoder_layers_0_") for k in keys)
    assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    want = reference_image(pipe, "a red square", 9, 3, 5.0, 64)
    xl = DiffusersBackend(models_dir=zoo.models, loras_dir=tmp_path / "loras",
                          cache_dir=zoo.cache, device="cpu")
    req = GenerateRequest(prompt="a red square", model="tiny-sdxl-file", width=64, height=64,
                          steps=3, guidance=5.0, seed=9, loras=[LoraRef("xl", 1.0)])
    got = xl.generate(req).images[0][..., :3]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 2
    req.loras = []
    base = xl.generate(req).images[0][..., :3]
    assert np.abs(base.astype(int) - want.astype(int)).max() > 4


def test_attention_slicing_saves_memory_without_changing_the_image(backend, zoo: Zoo):
    import numpy as np

    from t2i_core.backends.diffusers_backend import DiffusersBackend

    sliced = DiffusersBackend(models_dir=zoo.models, cache_dir=zoo.cache, device="cpu",
                              attention_slicing=True)
    req = GenerateRequest(prompt="a cat", model="tiny-sd2", width=64, height=64, steps=2,
                          seed=4)
    a, b = backend.generate(req).images[0], sliced.generate(req).images[0]
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    unet = sliced._loaded["tiny-sd2"].pipe.unet
    assert any(type(p).__name__ == "SlicedAttnProcessor" for p in unet.attn_processors.values())


def test_sd3_adapter_round_trip_in_the_peft_naming(zoo: Zoo, tmp_path):
    """SD3 adapters are written in the peft naming (transformer.*.lora_A/B) and load back."""
    import numpy as np
    import tiny_models as tm
    import torch
    from peft import LoraConfig
    from safetensors import safe_open

    from t2i_core.backends.base import LoraRef
    from t2i_core.backends.diffusers_backend import DiffusersBackend
    from t2i_core.backends.diffusers_backend.families import FAMILIES as FAMS
    from t2i_core.backends.diffusers_backend.lora import lora_target_modules, save_kohya_adapter

    pipe = tm.build("sd3", zoo.work / "tokenizers")  # the zoo's tiny-sd3
    torch.manual_seed(1)
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=2, init_lora_weights=False,
                                            target_modules=lora_target_modules(FAMS["sd3"])))
    with torch.no_grad():  # a strong adapter: its effect must show
        for name, p in pipe.transformer.named_parameters():
            if "lora_B" in name:
                p.mul_(30.0)
    path = save_kohya_adapter(tmp_path / "loras" / "flow.safetensors", pipe.transformer,
                              FAMS["sd3"])
    with safe_open(str(path), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    assert all(k.startswith("transformer.transformer_blocks.") and ".lora_" in k for k in keys)
    assert meta["modelspec.architecture"] == "stable-diffusion-3-medium/lora"
    pipe.set_progress_bar_config(disable=True)
    want = pipe(prompt="a red square", num_inference_steps=2, guidance_scale=5.0, width=64,
                height=64, generator=[torch.Generator("cpu").manual_seed(2)],
                output_type="np").images[0]
    want = (np.clip(want, 0, 1) * 255 + 0.5).astype(np.uint8)
    sd3 = DiffusersBackend(models_dir=zoo.models, loras_dir=tmp_path / "loras",
                           cache_dir=zoo.cache, device="cpu")
    req = GenerateRequest(prompt="a red square", model="tiny-sd3", width=64, height=64,
                          steps=2, guidance=5.0, seed=2, loras=[LoraRef("flow", 1.0)])
    got = sd3.generate(req).images[0][..., :3]
    req.loras = []
    base = sd3.generate(req).images[0][..., :3]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 2
    assert np.abs(base.astype(int) - want.astype(int)).mean() > 8
