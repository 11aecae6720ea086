"""A synthetic backend: numpy only, deterministic, no model. For benchmarks and fast tests.

It implements the same Backend protocol as ``builtin`` (progress per step, cancel between
steps, provenance), so it measures the worker's own cost: ``step_time`` seconds of "model"
per step, images filled from the seed. Select it with ``--backend synthetic`` and tune it with
``--backend-option synthetic.step_time=0.01``; ``synthetic.generate_defaults={"steps": 7}``
gives its model generation defaults of its own (tests of clients that leave them out).
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from t2i_core.backends.base import GenerateRequest, GenerateResult, ModelInfo, Provenance
from t2i_core.errors import Cancelled


class SyntheticBackend:
    name = "synthetic"

    def __init__(self, step_time: float = 0.0, sizes: tuple[int, ...] = (32, 64, 128, 256, 512,
                                                                          1024),
                 generate_defaults: dict | None = None) -> None:
        self.step_time = float(step_time)
        self.sizes = tuple(sizes)
        self.generate_defaults = dict(generate_defaults) if generate_defaults else None
        self.hash = hashlib.sha256(b"synthetic-1").hexdigest()

    def models(self) -> list[ModelInfo]:
        return [ModelInfo("synthetic", self.name, self.hash, self.sizes, 128,
                          "deterministic test pattern, no model",
                          generate_defaults=self.generate_defaults)]

    def generate(self, request: GenerateRequest, progress=None, cancel=None) -> GenerateResult:
        request.validate(sizes=self.sizes)
        for step in range(1, request.steps + 1):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if self.step_time:
                time.sleep(self.step_time)
            if progress is not None:
                progress(step, request.steps, None)
        images, prov = [], []
        for i in range(request.count):
            img = np.empty((request.height, request.width, 4), np.uint8)
            img[..., :3] = (request.seed + i) % 251
            img[..., 3] = 255
            images.append(img)
            prov.append(Provenance(
                prompt=request.prompt, negative_prompt=request.negative_prompt,
                seed=request.seed + i, steps=request.steps, guidance=request.guidance,
                width=request.width, height=request.height, backend=self.name,
                model="synthetic", model_hash=self.hash, mode=request.mode,
                strength=request.strength if request.init_image is not None else None,
                loras=list(request.loras), scheduler=request.scheduler))
        return GenerateResult(images, prov)
