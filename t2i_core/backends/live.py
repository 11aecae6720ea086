"""The live backend: model id ``live``, one forward pass per image, for as-you-type previews.

It reads ``t2i_core/weights/live.safetensors`` (the one-step generator and its decoder,
t2i_core/live/weights.py) and, from the built-in model's file, only the retrieval memory the
anchors come from and the autoencoder (to check the decoder still matches). A request costs a
MiniLM encode, a cosine search over the memory, the generator and the decoder: milliseconds.

One step means no sampler: ``steps`` and ``guidance`` are ignored (provenance records 1 step
and guidance 0), the negative prompt is ignored with a warning, and img2img, inpainting and
LoRAs are refused with an error that names the model that can do them (``builtin``).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from t2i_core.backends.base import (
    CancelFlag,
    GenerateRequest,
    GenerateResult,
    ModelInfo,
    ProgressCallback,
    Provenance,
)
from t2i_core.backends.builtin import SIZES, WEIGHTS_FILE
from t2i_core.colour_words import find_colours, honour_colours, without_colours
from t2i_core.content_hash import file_sha256
from t2i_core.errors import Cancelled, T2IError
from t2i_core.imaging import enlarge_rgba
from t2i_core.live.weights import check_decoder, load_live
from t2i_core.models.autoencoder import Autoencoder, AutoencoderConfig, Decoder, to_pixels
from t2i_core.prompt import prepare
from t2i_core.retrieval import STYLES, RetrievalIndex, detect_style
from t2i_core.text_encoder import TextEncoder, shared_text_encoder

LIVE_FILE = "live.safetensors"
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
ANCHOR_DEFAULTS = {"top_k": 16, "temperature": 0.05}
# A prompt with a colour word and no style of its own ("a red apple") draws its anchor among
# glyphs: a glyph takes the colour whole as its ink, while a colour emoji turned to a hue it
# does not have loses what makes it recognisable (validation prompts, 161 x 8 seeds, adopted
# evaluator: R-precision -0.023 against the plain prompts with the usual style mix, +0.011
# with glyph anchors; docs/MODEL_CARD.md "Colour words"). The built-in model keeps its
# styles: the same rule cost it 0.016 there.
COLOUR_WORD_STYLE = "icon"


def anchor_style(prompt: str, text_style: str | None) -> str | None:
    """The style the live model draws its anchors in: the one the prompt names
    (``text_style``), else glyphs when the prompt names a colour, else any."""
    if text_style is None and find_colours(prompt):
        return COLOUR_WORD_STYLE
    return text_style


class LiveModel:
    """The loaded generator, decoder, memory and text encoder (inference only)."""

    def __init__(self, live_path: Path, builtin_path: Path, quantize: bool = False,
                 text_encoder: TextEncoder | None = None) -> None:
        self.generator, decoder_state, self.meta = load_live(live_path)
        if not builtin_path.is_file():
            raise T2IError("weights_missing", f"built-in weights not found at {builtin_path}; "
                           "the live model retrieves its anchors from them: reinstall "
                           "t2i-studio")
        with safe_open(str(builtin_path), framework="pt") as f:
            bmeta = json.loads((f.metadata() or {})["builtin"])
            tensors = {k: f.get_tensor(k) for k in f.keys()  # noqa: SIM118
                       if k.startswith(("retrieval.", "ae.decoder."))}
        ae_cfg = AutoencoderConfig.from_dict(bmeta["autoencoder"])
        with torch.device("meta"):
            ae = Autoencoder(ae_cfg)
        ae.decoder.load_state_dict({k[11:]: v.float() for k, v in tensors.items()
                                    if k.startswith("ae.decoder.")}, assign=True)
        check_decoder(decoder_state, ae)
        self.decoder = Decoder(ae_cfg)
        self.decoder.load_state_dict(decoder_state)
        self.decoder.eval().requires_grad_(False)
        self.latent_mean = torch.tensor(ae_cfg.latent_mean).view(1, -1, 1, 1)
        self.latent_std = torch.tensor(ae_cfg.latent_std).view(1, -1, 1, 1)
        self.index = RetrievalIndex.from_tensors(tensors)
        self.quantized = quantize
        own_encoder = text_encoder is None and quantize  # never quantize the shared one
        self.encoder = text_encoder or (TextEncoder() if own_encoder else shared_text_encoder())
        if quantize:
            # int8 weights for the Linear layers (torch.ao dynamic quantization): the MiniLM
            # encoder is all Linear layers and the largest cost of a live request; the
            # generator's convolutions are not covered by dynamic quantization.
            # Measured in docs/PERFORMANCE.md (speed) and docs/MODEL_CARD.md (quality).
            import warnings

            from torch.ao.quantization import quantize_dynamic

            with warnings.catch_warnings():  # torch.ao's deprecation notice, once per load
                warnings.simplefilter("ignore")
                self.generator = quantize_dynamic(self.generator, {torch.nn.Linear},
                                                  dtype=torch.qint8)
                if own_encoder:
                    self.encoder.model = quantize_dynamic(self.encoder.model,
                                                          {torch.nn.Linear},
                                                          dtype=torch.qint8)
                    self.encoder._forward = self.encoder.model
        self.path = live_path
        self.hash = file_sha256(live_path)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z * self.latent_std + self.latent_mean)


class LiveBackend:
    name = "live"
    device = "cpu"

    def __init__(self, weights_dir: Path | None = None, threads: int | None = None,
                 quantize: bool = False, anchors: dict | None = None,
                 anchor_only: bool = False) -> None:
        """``weights_dir`` holds both live.safetensors and builtin.safetensors; ``quantize``
        serves int8 dynamic-quantized Linear layers (measured in docs/PERFORMANCE.md);
        ``anchors`` overrides the anchor retrieval's ``top_k``/``temperature``;
        ``anchor_only`` (an ablation for the evaluation) returns the retrieved anchor decoded,
        without the generator: what retrieval alone would show."""
        d = Path(weights_dir) if weights_dir else DEFAULT_WEIGHTS_DIR
        self.live_path, self.builtin_path = d / LIVE_FILE, d / WEIGHTS_FILE
        self.quantize = quantize
        self.anchor_only = anchor_only
        self.anchor_opts = {**ANCHOR_DEFAULTS, **(anchors or {})}
        self._model: LiveModel | None = None
        self._lock = threading.Lock()
        if threads:
            torch.set_num_threads(threads)

    @property
    def model(self) -> LiveModel:
        with self._lock:
            if self._model is None:  # the MiniLM is the process's shared one (unquantized)
                self._model = LiveModel(self.live_path, self.builtin_path, self.quantize)
            return self._model

    def models(self) -> list[ModelInfo]:
        step = self.model.meta.get("step", 0)
        return [self._info(self.model.hash, step)]

    def describe(self) -> list[ModelInfo]:
        """What ``models()`` returns, without loading anything (the file's hash and
        metadata, milliseconds): the worker lists ``live`` at start-up and loads the model
        on its first request. A damaged file is reported by that request."""
        if not self.live_path.is_file():
            load_live(self.live_path)  # raises weights_missing with what to do
        try:
            with safe_open(str(self.live_path), framework="pt") as f:
                step = json.loads((f.metadata() or {})["live"]).get("step", 0)
        except Exception:  # noqa: BLE001 - a damaged header: the full load says why
            step = 0
        return [self._info(file_sha256(self.live_path), step)]

    def _info(self, hash_: str, step: int) -> ModelInfo:
        return ModelInfo(id="live", backend=self.name, hash=hash_, sizes=SIZES,
                         default_size=128, description=f"one-step live previews, 32 px "
                         f"native, CPU (trained {step} steps)",
                         generate_defaults={"steps": 1, "guidance": 0.0,
                                            "scheduler": "one-step"},
                         vector=True)

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None,
                 cancel: CancelFlag | None = None) -> GenerateResult:
        request.validate(sizes=SIZES, square_only=True)
        if request.model != "live":
            raise T2IError("model_not_found", f"model '{request.model}' not found; installed: "
                           "live")
        if request.init_image is not None or request.mask is not None:
            raise T2IError("unsupported", "the live model only does txt2img; use model "
                           "'builtin' for img2img and inpainting")
        if request.loras:
            raise T2IError("unsupported", "the live model takes no LoRA adapters; use model "
                           "'builtin' with adapters")
        m = self.model
        warnings = []
        if request.negative_prompt.strip():
            warnings.append("the live model ignores the negative prompt apart from colour "
                            "words (one step, no guidance)")
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        with torch.inference_mode():
            pixels, truncated = self._run(m, request)
        if truncated:
            warnings.append(f"the prompt is longer than {m.encoder.max_tokens} tokens; the "
                            "end was cut off")
        if progress is not None:
            progress(1, 1, None)
        prov = [Provenance(
            prompt=request.prompt, negative_prompt=request.negative_prompt,
            seed=request.seed + i, steps=1, guidance=0.0, width=request.width,
            height=request.height, backend=self.name, model="live", model_hash=m.hash,
            mode="txt2img", scheduler="one-step") for i in range(len(pixels))]
        return GenerateResult(images=pixels, provenance=prov, warnings=warnings)

    def _run(self, m: LiveModel, req: GenerateRequest) -> tuple[list[np.ndarray], bool]:
        prepared = prepare(without_colours(req.prompt), req.negative_prompt)  # recoloured below
        enc = m.encoder.encode_weighted([prepared.positive])
        query = enc.embeddings[0]
        style = anchor_style(req.prompt, detect_style(prepared.text))
        if style is not None and not bool((m.index.style_ids == STYLES.index(style)).any()):
            style = None  # an index without that style: draw among all
        cfg = m.generator.cfg
        anchors, noises = [], []
        if cfg.anchor:  # one anchor per image: the built-in model's draw, scored once
            scores = m.index.scores(query)
            allowed = (torch.ones_like(scores, dtype=torch.bool) if style is None
                       else m.index.style_ids == STYLES.index(style))
        for i in range(req.count):
            seed = req.seed + i
            if cfg.anchor:
                pick = m.index._draw(scores, allowed, 1, np.random.default_rng(seed),
                                     int(self.anchor_opts["top_k"]),
                                     float(self.anchor_opts["temperature"]))
                anchors.append(m.index.latent(pick)[0])
            gen = torch.Generator().manual_seed(seed)
            noises.append(torch.randn(cfg.latent_channels, cfg.latent_size, cfg.latent_size,
                                      generator=gen))
        text = query.expand(req.count, -1)
        if self.anchor_only and anchors:
            z = torch.stack(anchors)
        else:
            z = m.generator(torch.stack(noises), text,
                            torch.stack(anchors) if anchors else None)
        pixels = to_pixels(m.decode(z)).numpy()
        pixels = honour_colours(list(pixels), req.prompt, req.negative_prompt)  # "a red apple"
        # sharp edges within the live budget: the upscaler's no-learning resampler
        return [enlarge_rgba(p, req.width, learned=False) for p in pixels], enc.truncated[0]
