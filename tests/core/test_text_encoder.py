"""The native MiniLM (tokenizers + plain PyTorch) must equal transformers' BertModel."""

from __future__ import annotations

import subprocess
import sys

import torch

from t2i_core.prompt import prepare
from t2i_core.text_encoder import TextEncoder

PROMPTS = ["a red apple", "", "smiling face with heart-eyes emoji",
           "an (umbrella:1.4) in the rain, line icon", "naïve café 🍎 über-long " * 20]


def test_native_encoder_matches_transformers(text_encoder: TextEncoder) -> None:
    assert text_encoder.impl == "native"
    reference = TextEncoder(impl="transformers")
    a = text_encoder.encode(PROMPTS)
    b = reference.encode(PROMPTS)
    assert a.truncated == b.truncated
    torch.testing.assert_close(a.embeddings, b.embeddings, atol=2e-5, rtol=1e-4)
    # weighted prompts go through the same per-token pooling in both
    segs = [prepare(p).positive for p in PROMPTS[2:4]]
    torch.testing.assert_close(text_encoder.encode_weighted(segs).embeddings,
                               reference.encode_weighted(segs).embeddings, atol=2e-5, rtol=1e-4)


def test_runtime_encoder_does_not_import_transformers() -> None:
    code = ("import sys; from t2i_core.text_encoder import TextEncoder; "
            "e = TextEncoder(); e.encode(['a house']); "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
