"""Adapters at generation time: load, check, merge, cache (used by ``backends/builtin.py``).

A request names adapters with weights (``[LoraRef("ink", 0.8), LoraRef("snow", 0.5)]``).
Files are read when first used and re-read when they change on disk (mtime + size), so an
adapter trained a moment ago, or replaced, is used by the next request without a restart.
The merged weights of the last few adapter combinations are cached (merging costs ~10 ms per
adapter for the 10M-parameter denoiser; the cache makes repeated requests free).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from t2i_core.errors import T2IError
from t2i_core.finetune import lora
from t2i_core.finetune.library import AdapterLibrary, read_metadata
from t2i_core.retrieval import STYLES

FORMAT = "t2i-studio-lora-1"
MERGED_CACHE = 2


@dataclass
class StyleRef:
    """What an active adapter asks of generation. An adapter with a ``look`` (the folder's
    colour statistics, ``look.py``) paints the base model's picture after decoding and leaves
    retrieval as it is; an older one without asks retrieval for the folder's kind of picture
    (``retrieval_style``: emoji / color / icon) unless the prompt names one. Either way the
    trigger phrase is not read as a style request."""

    retrieval_style: str | None
    trigger: str
    weight: float
    centroid: torch.Tensor | None = None  # the folder's mean look (unit latent), if known
    look: dict[str, torch.Tensor] | None = None  # ``look.*`` tensors, if the adapter has them


@dataclass
class LoadedAdapter:
    name: str
    path: Path
    stamp: tuple[int, int]
    meta: dict
    tensors: dict[str, torch.Tensor]
    scale: float  # alpha / rank
    centroid: torch.Tensor | None = None
    look: dict[str, torch.Tensor] | None = None

    def style_ref(self, weight: float) -> StyleRef:
        style = self.meta.get("retrieval_style")
        if self.look or style not in STYLES:  # a look keeps the base model's retrieval
            style = None
        return StyleRef(style, str(self.meta.get("trigger", "")), weight, self.centroid,
                        self.look)


@dataclass
class Applied:
    params: dict[str, torch.Tensor]  # merged denoiser weights (empty: none adapted)
    styles: list[StyleRef]  # the adapters with a weight above 0
    warnings: list[str]


class AdapterCache:
    def __init__(self, library: AdapterLibrary, base_hash: str = "") -> None:
        self.library = library
        self.base_hash = base_hash
        self._files: dict[str, LoadedAdapter] = {}
        self._merged: OrderedDict[tuple, dict[str, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, name: str) -> LoadedAdapter:
        path = self.library.path_of(name)  # bad_name for anything that is not a plain name
        if not path.is_file():
            self.library.info(name)  # raises lora_not_found, listing what is installed
        try:
            st = path.stat()
        except OSError as e:
            raise T2IError("lora_not_found", f"adapter '{name}' cannot be read ({e.strerror})"
                           ) from e
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._files.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached
        meta = read_metadata(path)
        if meta.get("format") != FORMAT:
            raise T2IError("lora_incompatible", f"adapter '{name}' was not made for the "
                           f"built-in model (format {meta.get('format')!r}); use it with the "
                           "model it was trained for")
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        rank = max(1, int(meta.get("rank", 1)))
        # an older adapter's "memory.*" (the folder's own latents) is ignored on purpose: as
        # neighbours and start they made the model re-draw the folder (docs/finetune.md)
        centroid = tensors.get("style.centroid")
        look = {k: v.float() for k, v in tensors.items() if k.startswith("look.")}
        loaded = LoadedAdapter(name, path, stamp, meta,
                               {k: v for k, v in tensors.items() if ".lora_" in k},
                               float(meta.get("alpha", rank)) / rank,
                               None if centroid is None else centroid.float().flatten(),
                               look or None)
        self._files[name] = loaded
        return loaded

    def apply(self, refs: list, denoiser: torch.nn.Module) -> Applied:
        """Merged weights and retrieval styles for ``refs`` (objects with name and weight)."""
        with self._lock:
            loaded = [(self.load(r.name), float(r.weight)) for r in refs]
            warnings = [f"adapter '{a.name}' was trained on another version of the built-in "
                        "model; results may differ from its previews"
                        for a, _ in loaded
                        if self.base_hash and a.meta.get("base_hash") not in ("", None,
                                                                              self.base_hash)]
            key = tuple((a.name, a.stamp, w) for a, w in loaded)
            params = self._merged.get(key)
            if params is None:
                delta = lora.deltas([(a.tensors, a.scale, w) for a, w in loaded])
                params = lora.merged_parameters(denoiser, delta)
                self._merged[key] = params
                while len(self._merged) > MERGED_CACHE:
                    self._merged.popitem(last=False)
            else:
                self._merged.move_to_end(key)
            return Applied(params, [a.style_ref(w) for a, w in loaded if w > 0], warnings)
