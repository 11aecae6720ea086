"""A models folder of tiny random models (every family, both layouts), built once per session,
and a real worker (``python -m worker --backend diffusers``) serving it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "worker"))  # worker_helpers: real worker subprocesses
sys.path.insert(0, str(HERE))

from diffusers_helpers import FAMILIES, PROMPT, Zoo, reference_image  # noqa: E402


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    import tiny_models as tm
    from lora_training import train_tiny_lora

    from t2i_core.backends.diffusers_backend.families import FAMILIES as FAMS
    from t2i_core.backends.diffusers_backend.lora import save_kohya_adapter

    root = tmp_path_factory.mktemp("diffusers-zoo")
    z = Zoo(models=root / "models", cache=root / "cache", work=root / "work")
    (z.models / "loras").mkdir(parents=True)
    for fam in FAMILIES:
        pipe = tm.build(fam, z.work / "tokenizers")
        tm.save_folder(pipe, z.models / f"tiny-{fam}")
        tm.save_single_file(pipe, z.models / f"tiny-{fam}-file.safetensors")
        if fam == "sd3":  # single-file SD3 with T5 needs a T5 tokenizer beside the models
            tm.tiny_t5_tokenizer(z.models / "tokenizers" / "t5")
        if fam == "sd1":
            z.lora_loss = train_tiny_lora(pipe)
            save_kohya_adapter(z.models / "loras" / "squares.safetensors", pipe.unet,
                               FAMS["sd1"], text_encoders={"text_encoder": pipe.text_encoder},
                               title="squares", resolution=64, base_model_hash="0" * 64)
            from peft.utils import get_peft_model_state_dict

            type(pipe).save_lora_weights(  # the diffusers/peft naming, same adapter
                str(z.work / "peft"), unet_lora_layers=get_peft_model_state_dict(pipe.unet),
                text_encoder_lora_layers=get_peft_model_state_dict(pipe.text_encoder),
                unet_lora_adapter_metadata=pipe.unet.peft_config["default"].to_dict(),
                text_encoder_lora_adapter_metadata=pipe.text_encoder.peft_config[
                    "default"].to_dict(), safe_serialization=True)
            (z.work / "peft" / "pytorch_lora_weights.safetensors").rename(
                z.models / "loras" / "squares-peft.safetensors")
            z.lora_reference["lora"] = reference_image(pipe, PROMPT, 5, 4, 5.0, 64)
            pipe.disable_lora()
            z.lora_reference["base"] = reference_image(pipe, PROMPT, 5, 4, 5.0, 64)
    (z.models / "old-model.ckpt").write_bytes(b"\x80\x02not really a pickle")  # never opened
    (z.models / "loras" / "old-adapter.pt").write_bytes(b"\x80\x02")
    return z


@pytest.fixture(scope="session")
def diffusers_worker(tmp_path_factory: pytest.TempPathFactory, zoo: Zoo):
    from worker_helpers import Raw, start_worker

    wp = start_worker(tmp_path_factory.mktemp("diffusers-worker"), "--backend", "diffusers",
                      "--backend-option", f"diffusers.models_dir={zoo.models}",
                      "--backend-option", f"diffusers.cache_dir={zoo.cache}",
                      "--backend-option", "diffusers.device=cpu",
                      "--progress-interval", "0")
    raw = Raw(wp.endpoint, wp.token)
    try:
        hello = raw.call("hello", timeout=180)
        assert hello.type == "result", (hello, wp.log_tail())
    finally:
        raw.close()
    yield wp
    wp.stop()


@pytest.fixture
def raw(diffusers_worker):
    from worker_helpers import Raw

    r = Raw(diffusers_worker.endpoint, diffusers_worker.token)
    yield r
    r.close()
