"""Issue 16's cause measurement: the OLD fine-tuning recipe split into its parts.

Run it inside a checkout of the old recipe (commit 41bf552) with this repository's
benchmarks/finetune_eval.py copied next to it, e.g.

    git archive 41bf552 | tar -x -C /tmp/old
    cp benchmarks/finetune_eval.py /tmp/old/benchmarks/
    cd /tmp/old && PYTHONPATH=$PWD python finetune_causes.py FOLDER 150 40 "tango style" o.json

It trains the old adapter, then measures base / weight 1 / weight 0.5 / weight 1 without the
anchor / the LoRA without the style memory / the style memory without the LoRA
(docs/finetune.md, "What caused the collapse").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(Path.cwd() / "benchmarks"))
    from finetune_eval import FolderMeasure, folder_at_32, generate, load_encoder, test_prompts

    from t2i_core.backends.base import LoraRef
    from t2i_core.backends.builtin import BuiltinBackend
    from t2i_core.finetune.job import train
    from t2i_core.finetune.request import TrainRequest

    folder, steps, n, trig = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    out = Path(sys.argv[5])
    lib = out.parent / "adapters-old"
    b = BuiltinBackend(adapters_dir=lib, threads=1)
    t0, load = time.monotonic(), os.getloadavg()
    train(b, TrainRequest(folder=str(folder), name="old", trigger=trig, steps=steps,
                          sample_every=0))
    r: dict = {"train_s": round(time.monotonic() - t0, 1), "steps": steps,
               "load_before": load, "load_after": os.getloadavg()}
    prompts = test_prompts(n)
    meas = FolderMeasure(load_encoder(), folder_at_32(folder))
    no_anchor = BuiltinBackend(adapters_dir=lib, threads=1, sampling={"anchor_strength": 1.0})
    no_anchor._model = b.model
    imgs = {"base": generate(b, prompts, trig, 1, []),
            "old_w1": generate(b, prompts, trig, 1, [LoraRef("old", 1.0)]),
            "old_w05": generate(b, prompts, trig, 1, [LoraRef("old", 0.5)]),
            "old_w1_no_anchor": generate(no_anchor, prompts, trig, 1, [LoraRef("old", 1.0)])}
    ad = b.adapters.load("old")
    mem, ad.memory = ad.memory, None  # the LoRA without its style memory
    imgs["old_lora_only"] = generate(b, prompts, trig, 1, [LoraRef("old", 1.0)])
    ad.memory = mem
    saved, ad.tensors = ad.tensors, {}  # the style memory without the LoRA
    b.adapters._merged.clear()
    imgs["old_memory_only"] = generate(b, prompts, trig, 1, [LoraRef("old", 1.0)])
    ad.tensors = saved
    r["metrics"] = {k: meas.all(v, prompts, 1) for k, v in imgs.items()}
    out.write_text(json.dumps(r, indent=1))
    np.savez_compressed(out.with_suffix(".npz"), **imgs)
    print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
