"""Limits the user meets, through the real worker: a prompt longer than CLIP's 77 tokens comes
back with a warning naming the dropped words; running out of memory (a real allocator failure
under an address-space limit set on the worker process) is an ``out_of_memory`` error and the
worker keeps serving."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from worker import protocol as P

LONG = ("a watercolor painting of a lighthouse on a cliff above a stormy sea at dusk, "
        "dramatic clouds, crashing waves, seagulls, warm light in the window, " * 3
        + "zebra giraffe pelican")


def generate(raw, timeout: float = 120, **kw) -> P.Message:
    body = P.GenerateParams(**{"prompt": "a red apple", "model": "tiny-sd1", "width": 64,
                               "height": 64, "steps": 2, **kw}).to_body()
    return raw.until_terminal(raw.send("generate", body=body), timeout)[-1]


@pytest.mark.parametrize("model", ["tiny-sd1", "tiny-sdxl-file", "tiny-sd3"])
def test_a_prompt_over_77_tokens_is_cut_with_a_warning_naming_the_dropped_words(raw, model):
    res = generate(raw, model=model, prompt=LONG, negative_prompt="blurry")
    assert res.type == "result", res.body
    cut = [w for w in res.body["warnings"] if "77 tokens" in w]
    assert len(cut) == 1, res.body["warnings"]
    assert cut[0].startswith("the prompt was cut at 77 tokens")
    assert "zebra giraffe pelican" in cut[0] and "lighthouse on a cliff" not in cut[0]
    assert ("T5" in cut[0]) == (model == "tiny-sd3")
    short = generate(raw, model=model, prompt="a lighthouse", negative_prompt=LONG)
    notes = [w for w in short.body["warnings"] if "77 tokens" in w]
    assert len(notes) == 1 and notes[0].startswith("the negative prompt was cut")
    plain = generate(raw, model=model, prompt="a lighthouse")
    assert not [w for w in plain.body["warnings"] if "tokens" in w]


def test_dropped_text_matches_what_the_pipeline_keeps(zoo):
    """The words named are exactly the ones the tokenizer's 77-token truncation removes."""
    from transformers import CLIPTokenizer

    from t2i_core.backends.diffusers_backend.prompt_tokens import dropped_text

    tok = CLIPTokenizer.from_pretrained(str(zoo.models / "tiny-sd1" / "tokenizer"),
                                        local_files_only=True)
    dropped, limit = dropped_text(tok, LONG)
    kept = tok.decode(tok(LONG, truncation=True, max_length=77).input_ids,
                      skip_special_tokens=True)
    assert limit == 77 and dropped.endswith("zebra giraffe pelican")
    whole = tok.decode(tok(LONG).input_ids, skip_special_tokens=True)
    assert whole.startswith(kept)
    assert whole[len(kept):].replace(" ", "").lstrip(",") == dropped.replace(" ", "")
    assert not dropped.startswith(",") and " , " not in dropped  # readable punctuation
    assert dropped_text(tok, "a lighthouse") == ("", 77)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prlimit is Linux's")
def test_running_out_of_memory_in_the_worker_is_an_error_and_it_keeps_serving(
        tmp_path, zoo):
    """A worker of its own (a failure here must not stall the shared one) is held to its
    current address space + 128 MiB (``prlimit`` on its pid): 16 images of 2048 px then really
    fail to allocate (the UNet's first activation alone is 16 x 2 x 32 x 256 x 256 floats,
    268 MB), as on a machine without the RAM."""
    from worker_helpers import Raw, start_worker

    wp = start_worker(tmp_path / "oom-worker", "--backend", "diffusers",
                      "--backend-option", f"diffusers.models_dir={zoo.models}",
                      "--backend-option", f"diffusers.cache_dir={zoo.cache}",
                      "--backend-option", "diffusers.device=cpu")
    raw = Raw(wp.endpoint, wp.token)
    try:
        assert generate(raw, timeout=180).type == "result"  # loaded before the limit
        with open(f"/proc/{wp.pid}/status") as f:
            size_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
        old = resource.prlimit(wp.pid, resource.RLIMIT_AS)
        resource.prlimit(wp.pid, resource.RLIMIT_AS, (size_kb * 1024 + (128 << 20), old[1]))
        res = generate(raw, width=2048, height=2048, count=16, steps=1, timeout=180)
        assert res.type == "error", res.body
        assert res.body["code"] == "out_of_memory", res.body
        msg = res.body["message"]
        assert "16 image(s) of 2048x2048" in msg and "fewer images or a smaller size" in msg
        assert "attention_slicing=true" in msg
        again = generate(raw)  # memory was given back: the next request runs, still limited
        assert again.type == "result", (again.body, wp.log_tail())
        assert np.asarray(again.images[0].to_numpy()).shape == (64, 64, 4)
        assert raw.call("hello").type == "result"
    finally:
        raw.close()
        wp.stop()
