"""The built-in backend: MiniLM text encoder + retrieval-augmented latent flow model.

Everything it needs is in one safetensors file (``t2i_core/weights/builtin.safetensors``):
the autoencoder (``ae.*``), the denoiser (``denoiser.*``), the retrieval memory
(``retrieval.*``), the embedding of the empty prompt, and JSON metadata with the configs and
sampling defaults. The model id is ``builtin``; its hash is the file's SHA-256.

The native resolution is 32x32 RGBA (icon size); larger sizes are enlarged by the learned
icon upscaler (t2i_core/enhance, docs/upscale.md), so edges stay crisp over transparency.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open

from t2i_core.abilities import WantsPreview
from t2i_core.backends.base import (
    CancelFlag,
    GenerateRequest,
    GenerateResult,
    ModelInfo,
    ProgressCallback,
    Provenance,
)
from t2i_core.backends.builtin_trainer import STYLE_BIAS
from t2i_core.colour_words import honour_colours, without_colours
from t2i_core.content_hash import file_sha256
from t2i_core.errors import T2IError
from t2i_core.finetune.adapters import AdapterCache
from t2i_core.finetune.library import AdapterLibrary
from t2i_core.finetune.paint import apply as apply_looks
from t2i_core.imaging import enlarge_rgba
from t2i_core.imaging import resize_rgba as _resize_rgba
from t2i_core.models.autoencoder import Autoencoder, AutoencoderConfig, to_model_space, to_pixels
from t2i_core.models.denoiser import DenoiserConfig, RetrievalDenoiser
from t2i_core.prompt import Segment, prepare
from t2i_core.retrieval import STYLE_NOUNS, RetrievalIndex, detect_style
from t2i_core.sampling import sample
from t2i_core.text_encoder import TextEncoder, shared_text_encoder

WEIGHTS_FILE = "builtin.safetensors"
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
SIZES = (32, 64, 128, 256, 512)
NATIVE = 32
SAMPLING_DEFAULTS = {"top_k": 16, "temperature": 0.05, "anchor_strength": 1.0,
                     "style_bias": STYLE_BIAS}


class BuiltinModel:
    """The loaded networks; shared by every request (inference only, thread-safe reads)."""

    def __init__(self, path: Path, text_encoder: TextEncoder | None = None) -> None:
        if not path.is_file():
            raise T2IError("weights_missing", f"built-in weights not found at {path}; "
                           "reinstall t2i-studio or run `t2i train` to make them")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            self.meta = json.loads(meta["builtin"])
        except Exception as e:  # safetensors raises several types for a damaged file
            raise T2IError("weights_corrupt", f"the built-in weights file {path} is damaged "
                           f"({type(e).__name__}); reinstall t2i-studio or run `t2i train`") from e
        self.path = path
        self.ae = Autoencoder(AutoencoderConfig.from_dict(self.meta["autoencoder"]))
        self.ae.load_state_dict(_prefixed(tensors, "ae."))
        self.denoiser = RetrievalDenoiser(DenoiserConfig.from_dict(self.meta["denoiser"]))
        self.denoiser.load_state_dict(_prefixed(tensors, "denoiser."))
        for m in (self.ae, self.denoiser):
            m.float().eval().requires_grad_(False)
        self.index = RetrievalIndex.from_tensors(tensors)
        self.empty_text = tensors["empty_text"].float()
        self.encoder = text_encoder or shared_text_encoder()
        self._hash: str | None = None

    @property
    def hash(self) -> str:
        if self._hash is None:
            self._hash = file_sha256(self.path)
        return self._hash


class BuiltinBackend:
    name = "builtin"
    device = "cpu"

    def __init__(self, weights_dir: Path | None = None, threads: int | None = None,
                 sampling: dict | None = None, adapters_dir: Path | None = None) -> None:
        """``sampling`` overrides the sampling defaults stored with the weights:
        ``top_k``/``temperature`` of neighbour retrieval, and ``anchor_strength``: below 1,
        txt2img starts from the anchor neighbour's latent noised to that level (SDEdit from a
        retrieved example) instead of from pure noise; 1 disables it. ``adapters_dir`` is the
        LoRA adapter library (default ``$T2I_ADAPTER_DIR`` or ~/.local/share/t2i-studio/
        adapters); ``t2i train`` and the worker's ``train`` request write there."""
        self.path = (weights_dir or DEFAULT_WEIGHTS_DIR) / WEIGHTS_FILE
        self.sampling_overrides = dict(sampling or {})
        self.adapter_library = AdapterLibrary(Path(adapters_dir) if adapters_dir else None)
        self._adapters: AdapterCache | None = None
        self._model: BuiltinModel | None = None
        self._lock = threading.Lock()
        if threads:
            torch.set_num_threads(threads)

    @property
    def model(self) -> BuiltinModel:
        with self._lock:  # loaded once, on first use
            if self._model is None:
                self._model = BuiltinModel(self.path)
            return self._model

    def loras(self) -> list[str]:
        return self.adapter_library.names()  # listed from disk: new adapters show at once

    def check_trainable(self, model_id: str) -> None:
        """Every built-in model can be fine-tuned (``SupportsTraining``)."""

    def trainer(self, request):
        """The fine-tuning seam (t2i_core/finetune/job.py): this model's ``Trainable``."""
        from t2i_core.backends.builtin_trainer import BuiltinTrainable

        return BuiltinTrainable(self, request)

    @property
    def adapters(self) -> AdapterCache:
        if self._adapters is None:
            self._adapters = AdapterCache(self.adapter_library, self.model.hash)
        return self._adapters

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(id="builtin", backend=self.name, hash=self.model.hash, sizes=SIZES,
                          default_size=128, description="icons and emoji, 32 px native, CPU",
                          train_defaults={}, vector=True, train_look=True)]

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None,
                 cancel: CancelFlag | None = None) -> GenerateResult:
        request.validate(sizes=SIZES, square_only=True)
        if request.model not in ("builtin", ""):
            raise T2IError("model_not_found", f"model '{request.model}' not found; installed: "
                           "builtin")
        m = self.model
        applied = self.adapters.apply(request.loras, m.denoiser) if request.loras else None
        net = m.denoiser
        if applied is not None and applied.params:  # merged weights, the shared model intact
            net = functools.partial(_call_with, m.denoiser, applied.params)
        return self.generate_with(request, net, applied.styles if applied else [], progress,
                                  cancel, applied.warnings if applied else [])

    def generate_with(self, request: GenerateRequest, net, styles: list,
                      progress: ProgressCallback | None = None, cancel: CancelFlag | None = None,
                      warnings: list[str] | None = None) -> GenerateResult:
        """Generate with a given denoiser callable and the active adapters' retrieval styles
        (``finetune.adapters.StyleRef``; adapters applied, or a model being fine-tuned for
        its previews)."""
        m = self.model
        with torch.inference_mode():
            images, run_warnings = self._run(m, request, progress, cancel, net, styles)
        prov = [Provenance(
            prompt=request.prompt, negative_prompt=request.negative_prompt,
            seed=request.seed + i, steps=request.steps, guidance=request.guidance,
            width=request.width, height=request.height, backend=self.name, model="builtin",
            model_hash=m.hash, mode=request.mode,
            strength=request.strength if request.init_image is not None else None,
            loras=list(request.loras), scheduler="euler-flow") for i in range(len(images))]
        return GenerateResult(images=images, provenance=prov,
                              warnings=[*(warnings or []), *run_warnings])

    # -- the pipeline ---------------------------------------------------------------------
    def _run(self, m: BuiltinModel, req: GenerateRequest, progress: ProgressCallback | None,
             cancel: CancelFlag | None, net, styles: list
             ) -> tuple[list[np.ndarray], list[str]]:
        opts = {**SAMPLING_DEFAULTS, **m.meta.get("sampling", {}), **self.sampling_overrides}
        styles = [s for s in styles if s.weight > 0]  # weight 0 is the base model, exactly
        # Colour words are drawn by honour_colours below, not by the encoder, with or without
        # adapters: the text the encoder reads must not change with an adapter's weight, or
        # weight 0 would not be the base model and the weight would not be a smooth dial.
        prepared = prepare(without_colours(req.prompt), req.negative_prompt)
        base_explicit = detect_style(prepared.text)
        explicit, wanted = retrieval_style(prepared.text, styles)
        strength = min(1.0, sum(s.weight for s in styles))
        bias = look_bias(m.index, styles, float(opts["style_bias"]))
        warnings: list[str] = []
        query = m.encoder.encode_weighted([prepared.positive])
        if query.truncated[0]:
            warnings.append(f"the prompt is longer than {m.encoder.max_tokens} tokens; the "
                            "end was cut off")
        text_by_style: dict[str | None, torch.Tensor] = {None: query.embeddings[0]}
        k = m.denoiser.cfg.neighbours
        texts, neighbours, noises = [], [], []
        for i in range(req.count):
            seed = req.seed + i
            rng = np.random.default_rng(seed)
            # The adapter's kind of picture is used for this image when its own draw falls
            # below the adapters' weight: the share of images grows with the weight, and one
            # seed keeps its base retrieval up to some weight, then switches for good.
            # An adapter with a look (finetune/look.py) keeps the base model's retrieval.
            switched = any(s.retrieval_style for s in styles) and _draw_below(seed, strength)
            nb = m.index.query(query.embeddings[0], k, rng,
                               wanted if switched else base_explicit,
                               top_k=int(opts["top_k"]), temperature=float(opts["temperature"]),
                               bias=bias if switched else None)
            # switched to a style adapter's kind: the prompt is not re-styled as an emoji or
            # an icon; otherwise exactly as without adapters
            key = None if switched or base_explicit else nb.style
            if key not in text_by_style:  # "a house" drawn as an emoji is "a house emoji"
                seg = [*prepared.positive, Segment(f" {STYLE_NOUNS[key]}", 1.0)]
                text_by_style[key] = m.encoder.encode_weighted([seg]).embeddings[0]
            texts.append(text_by_style[key])
            neighbours.append(nb.latents)  # the anchor is always a base-memory example
            gen = torch.Generator().manual_seed(seed)
            noises.append(torch.randn(m.denoiser.cfg.latent_channels, m.denoiser.cfg.latent_size,
                                      m.denoiser.cfg.latent_size, generator=gen))
        text = torch.stack(texts)
        nbs = torch.stack(neighbours)
        noise = torch.stack(noises)
        if req.negative_prompt.strip():
            uncond_text = m.encoder.encode_weighted([prepared.negative]).embeddings[0]
        else:
            uncond_text = m.empty_text
        uncond = uncond_text.expand_as(text)
        zero_nb = torch.zeros_like(nbs)
        g = float(req.guidance)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if g == 1.0:
                return net(x, t, text, nbs)
            v = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([text, uncond]),
                    torch.cat([nbs, zero_nb]))
            v_c, v_u = v.chunk(2)
            return v_u + g * (v_c - v_u)

        init = keep = None
        strength = req.strength
        if req.init_image is None and float(opts["anchor_strength"]) < 1.0:
            init, strength = nbs[:, 0], float(opts["anchor_strength"])
        if req.init_image is not None:
            init = m.ae.encode(to_model_space(torch.from_numpy(
                _resize_rgba(req.init_image, NATIVE))[None])).expand_as(noise)
            if req.mask is not None:
                keep = 1.0 - _latent_mask(req.mask, m.denoiser.cfg.latent_size)
        on_step = None
        if progress is not None:
            # A caller may throttle previews (the worker sends ~10/s): decoding one costs
            # about as much as a sampling step, so only decode when it will be used.
            wants = progress.wants_preview if isinstance(progress, WantsPreview) \
                else (lambda step, total: True)

            def on_step(step: int, total: int, x0: torch.Tensor) -> None:
                preview = (to_pixels(m.ae.decode(x0[:1]))[0].numpy() if wants(step, total)
                           else None)
                progress(step, total, preview)
        z = sample(velocity, noise, req.steps, init=init, strength=strength,
                   keep_mask=keep, on_step=on_step,
                   is_cancelled=cancel.is_set if cancel is not None else None,
                   shift=float(m.meta.get("shift", 1.0)))
        pixels = to_pixels(m.ae.decode(z)).numpy()
        looks = [(s.look, s.weight) for s in styles if s.look]
        if looks:  # the folders' colour and shading on the base model's shapes (the dial)
            pixels = np.stack(apply_looks(
                list(pixels), [req.seed + i for i in range(len(pixels))], looks,
                prompt=query.embeddings[0],  # the guard judges the colour words' result too
                finish=lambda p: honour_colours([p], req.prompt, req.negative_prompt)[0]))
        pixels = honour_colours(list(pixels), req.prompt, req.negative_prompt)  # "a red apple"
        out = [enlarge_rgba(p, req.width) for p in pixels]  # sharp: the learned upscaler
        if req.mask is not None and req.init_image is not None:  # exact pixels outside the mask
            base = _resize_rgba(req.init_image, req.width).astype(np.float32)
            mask = np.asarray(Image.fromarray(req.mask).resize((req.width, req.width),
                                                               Image.BILINEAR), np.float32)
            a = (mask / 255.0)[..., None]
            out = [(a * o + (1 - a) * base + 0.5).astype(np.uint8) for o in out]
        return out, warnings


def _call_with(module: torch.nn.Module, params: dict, *args: torch.Tensor) -> torch.Tensor:
    return torch.func.functional_call(module, params, args)


def look_bias(index: RetrievalIndex, styles: list, scale: float) -> torch.Tensor | None:
    """Per memory entry: ``scale`` x how much its latent looks like the adapters' folders
    (weighted mean of their centroids). Added to the caption scores of retrieval, so among the
    examples that match the prompt, those drawn in a look near the folder's are preferred;
    the folder's images themselves are never used."""
    refs = [s for s in styles if s.centroid is not None]
    if not refs or scale == 0:
        return None
    total = sum(s.weight for s in refs)
    centroid = sum(s.weight / total * s.centroid for s in refs)
    return scale * index.look_similarity(torch.nn.functional.normalize(centroid, dim=0))


def _draw_below(seed: int, p: float) -> bool:
    """A per-image uniform draw (its own stream: the retrieval draws stay as they were) < p."""
    return p >= 1.0 or float(np.random.default_rng([seed, 0x5717E]).random()) < p


def retrieval_style(prompt: str, styles: list) -> tuple[str | None, str | None]:
    """(the style the prompt names, the style retrieval uses). Without adapters: the prompt's
    own. With adapters (``finetune.adapters.StyleRef``, weight > 0) their trigger phrases are
    not read as a style request ("papirus icon" is a style, not "draw a line icon"), and a
    prompt that names none draws from the heaviest adapter's kind of picture."""
    if not styles:
        explicit = detect_style(prompt)
        return explicit, explicit
    text = prompt
    for ref in styles:
        if ref.trigger:
            text = re.sub(re.escape(ref.trigger), " ", text, flags=re.IGNORECASE)
    explicit = detect_style(text)
    heaviest = max(styles, key=lambda r: r.weight)
    return explicit, explicit or heaviest.retrieval_style


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}


def _latent_mask(mask: np.ndarray, size: int) -> torch.Tensor:
    """(H,W) 0/255 -> (1,1,size,size): 1 where any pixel of the cell is repainted."""
    m = torch.from_numpy(mask.astype(np.float32) / 255.0)[None, None]
    return (torch.nn.functional.adaptive_max_pool2d(m, size) > 0.5).float()


def save_builtin(path: Path, ae: Autoencoder, denoiser: RetrievalDenoiser, index: RetrievalIndex,
                 empty_text: torch.Tensor, extra: dict | None = None) -> Path:
    """Write the single inference file the backend loads (float16 weights, int8 memory)."""
    from safetensors.torch import save_file

    tensors = {f"ae.{k}": v.half() if v.is_floating_point() else v
               for k, v in ae.state_dict().items()}
    tensors |= {f"denoiser.{k}": v.half() for k, v in denoiser.state_dict().items()}
    tensors |= index.tensors()
    tensors["empty_text"] = empty_text.float()
    meta = {"autoencoder": ae.cfg.to_dict(), "denoiser": denoiser.cfg.to_dict(), "shift": 1.0,
            **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
              metadata={"builtin": json.dumps(meta), "format": "t2i-studio-builtin-1"})
    tmp.replace(path)
    return path


def make_random_weights(out_dir: Path, tiny: bool = True, entries: int = 64,
                        seed: int = 0) -> Path:
    """A random-weight built-in model folder for tests: same code paths, loads in ms."""
    torch.manual_seed(seed)
    ae_cfg = AutoencoderConfig(widths=(16, 32)) if tiny else AutoencoderConfig()
    dn_cfg = DenoiserConfig(width=64, depth=2, heads=2) if tiny else DenoiserConfig()
    ae, dn = Autoencoder(ae_cfg), RetrievalDenoiser(dn_cfg)
    for p in dn.parameters():  # adaLN-Zero starts at zero; give the test model some signal
        torch.nn.init.normal_(p, std=0.02)
    text = torch.nn.functional.normalize(torch.randn(entries, 384), dim=-1)
    latents = torch.randn(entries, ae_cfg.latent_channels, 8, 8)
    styles = [("emoji", "color", "icon")[i % 3] for i in range(entries)]
    index = RetrievalIndex.build(text, latents, styles)
    empty = torch.nn.functional.normalize(torch.randn(384), dim=-1)
    return save_builtin(Path(out_dir) / WEIGHTS_FILE, ae, dn, index, empty,
                        {"random": True}).parent
