"""The evaluation encoder: a small CLIP trained with open_clip_torch on the training split.

Image tower: a small ViT (32 px input, 4 px patches). Text tower: the same pretrained MiniLM
as the generator's encoder, *locked* (only its projection trains), mean pooling. It is used
only to measure (R-precision in ``t2i eval``), never in any generator loss, so the generator
cannot overfit to its judge.

open_clip (and torchvision, which it imports) is a training/eval dependency only: the runtime
never imports this module.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from t2i_core.text_encoder import minilm_path

MODEL_NAME = "t2i-eval-clip"
MEAN = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
STD = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)


def model_config() -> dict:
    path = str(minilm_path())
    return {
        "embed_dim": 256,
        "vision_cfg": {"image_size": 32, "layers": 4, "width": 192, "head_width": 64,
                       "patch_size": 8, "mlp_ratio": 4.0},
        "text_cfg": {"hf_model_name": path, "hf_tokenizer_name": path,
                     "hf_pooler_type": "mean_pooler", "hf_proj_type": "linear",
                     "hf_model_pretrained": True, "context_length": 32},
    }


def create(pretrained_text: bool = True):
    """(model, tokenizer) with the config registered from a temp file; offline only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import open_clip

    cfg = model_config()
    cfg["text_cfg"]["hf_model_pretrained"] = pretrained_text
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / f"{MODEL_NAME}.json").write_text(json.dumps(cfg))
        open_clip.add_model_config(d)
        model = open_clip.create_model(MODEL_NAME, pretrained=None)
        tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    model.lock_text_tower()
    return model, tokenizer


def to_clip_input(rgba_u8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(B,32,32,4) uint8 RGBA -> (B,3,32,32) normalised RGB composited over white."""
    x = torch.as_tensor(np.asarray(rgba_u8)).float().permute(0, 3, 1, 2) / 255.0
    if x.shape[-1] != 32:
        x = F.interpolate(x, size=(32, 32), mode="area")
    rgb = x[:, :3] * x[:, 3:] + (1 - x[:, 3:])
    return (rgb - MEAN) / STD


class EvalEncoder:
    """Loaded evaluation encoder: embeds images and texts into one normalised space."""

    def __init__(self, path: Path) -> None:
        from safetensors.torch import load_file

        self.model, self.tokenizer = create()
        missing, unexpected = self.model.load_state_dict(
            {k: v.float() for k, v in load_file(str(path)).items()}, strict=False)
        if unexpected or any(not k.startswith("text.transformer.") for k in missing):
            raise ValueError(f"{path} is not an evaluation-encoder file")
        self.model.eval()

    @torch.inference_mode()
    def images(self, rgba_u8: np.ndarray, batch: int = 512) -> torch.Tensor:
        out = [self.model.encode_image(to_clip_input(rgba_u8[i:i + batch]), normalize=True)
               for i in range(0, len(rgba_u8), batch)]
        return torch.cat(out)

    @torch.inference_mode()
    def texts(self, texts: list[str], batch: int = 256) -> torch.Tensor:
        out = [self.model.encode_text(self.tokenizer(texts[i:i + batch]), normalize=True)
               for i in range(0, len(texts), batch)]
        return torch.cat(out)


def colour_jitter(rgba_u8: np.ndarray, rng: np.random.Generator, share: float,
                  keep: np.ndarray | None = None) -> np.ndarray:
    """A random colour for a ``share`` of the drawings: a monochrome drawing gets a random
    ink (its dark parts take the colour, light details stay light), a colour drawing a random
    hue turn around the grey axis. The caption stays: what a drawing shows does not depend on
    its colour, and an encoder that never saw a navy airplane glyph judges one as "not an
    airplane" (the colour-word R-precision in the model card).

    ``keep`` (bool per drawing): drawings left as they are whatever the draw, those whose
    caption names a colour ("yellow heart emoji"): a recoloured one would teach the encoder
    that "yellow" fits a blue heart."""
    out = np.array(rgba_u8, copy=True)
    if share <= 0:  # leaves the random stream untouched: earlier runs stay reproducible
        return out
    chosen = rng.random(len(out)) < share
    if keep is not None:
        chosen &= ~np.asarray(keep, bool)
    for i in np.flatnonzero(chosen):
        rgb = out[i, ..., :3].astype(np.float32)
        opaque = out[i, ..., 3] > 0
        spread = (rgb.max(-1) - rgb.min(-1))[opaque]
        if spread.size == 0:
            continue
        if np.percentile(spread, 90) < 24:  # monochrome
            ink = 255 * np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.4, 1.0),
                                                     rng.uniform(0.3, 1.0)), np.float32)
            light = rgb.mean(-1, keepdims=True) / 255
            rgb = ink * (1 - light) + 255 * light
        else:  # a hue turn that keeps each pixel's grey level (rotation about (1,1,1))
            c, s = math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)
            k, r = (1 - c) / 3, math.sqrt(1 / 3) * s
            turn = np.array([[c + k, k - r, k + r], [k + r, c + k, k - r], [k - r, k + r, c + k]],
                            np.float32)
            rgb = rgb @ turn.T
        out[i, ..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return out


def names_a_colour(captions: list[str]) -> np.ndarray:
    """Bool per caption: does it name a colour ("yellow heart emoji", "black circle icon")?
    The prompt parser decides (``t2i_core.colour_words``), so training and prompts agree on
    what a colour word is; a thing-word alone ("orange icon") is not a colour."""
    from t2i_core.colour_words import find_colours

    return np.array([bool(find_colours(c)) for c in captions], bool)


def train_eval_encoder(data_dir: Path, out_path: Path, minutes: float = 10.0, batch: int = 256,
                       lr: float = 1e-3, total_steps: int = 2000, seed: int = 0,
                       init_from: Path | None = None, colour_share: float = 0.0,
                       checkpoint_every: int = 0) -> dict:
    """Contrastive training on the training split only; writes float16 safetensors.

    ``checkpoint_every`` > 0 also writes ``out_path`` every that many steps (atomically, with
    the step count so far), so a long run stopped early still leaves a usable encoder.

    The text tower is locked MiniLM with mean pooling and a bias-free linear projection, so
    ``proj(pool(x)) / |.|`` equals ``proj(pool(x) / |pool(x)|) / |.|``: the cached, normalised
    MiniLM caption embeddings (captions.npz, canonical + augmented) feed the projection
    directly, and the 22M-parameter text transformer need not run every step.
    """
    from t2i_core.data.meta import load_meta

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    meta = load_meta(data_dir)
    images = np.load(data_dir / "images32.npy", mmap_mode="r")
    caps = np.load(data_dir / "captions.npz")
    canonical = torch.from_numpy(caps["canonical"].astype(np.float32))
    augmented = torch.from_numpy(caps["augmented"].astype(np.float32))
    caption_id = np.unique([m["caption"] for m in meta], return_inverse=True)[1]
    train = np.array([i for i, m in enumerate(meta) if m["split"] == "train"])
    # captions that name a colour keep their drawing's colours (parsed only when jittering)
    names_colour = (names_a_colour([m["caption"] for m in meta]) if colour_share > 0
                    else np.zeros(len(meta), bool))
    if init_from is not None:  # continue from an earlier run (a fresh LR schedule)
        model = EvalEncoder(init_from).model
    else:
        model, _ = create()
    previous = _steps_in(init_from) if init_from is not None else 0
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.1)
    deadline, step, loss = time.time() + minutes * 60, 0, torch.tensor(0.0)
    bar = tqdm(total=total_steps, desc="eval encoder", unit="step")
    model.train()
    while step < total_steps and time.time() < deadline:
        idx = np.sort(rng.choice(train, batch, replace=False))
        use_aug = torch.from_numpy(rng.random(batch) < 0.5)[:, None]
        text = torch.where(use_aug, augmented[idx, 0], canonical[idx])
        x = to_clip_input(colour_jitter(images[idx], rng, colour_share, names_colour[idx]))
        if rng.random() < 0.5:
            x = x.flip(3)
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(
                math.pi * step / total_steps))
        img = model.encode_image(x, normalize=True)
        txt = F.normalize(model.text.proj(text), dim=-1)
        logits = model.logit_scale.exp() * img @ txt.T
        # items sharing a caption are positives of each other, not negatives
        ids = torch.from_numpy(caption_id[idx])
        same = (ids[:, None] == ids[None]).float()
        target = same / same.sum(1, keepdim=True)
        loss = (torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
                + torch.sum(-target * F.log_softmax(logits.T, 1), 1).mean()) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if checkpoint_every > 0 and step % checkpoint_every == 0 and step < total_steps:
            _save(model, out_path, previous + step)
    bar.close()
    _save(model, out_path, previous + step)
    return {"steps": previous + step, "loss": round(loss.item(), 4)}


def _steps_in(path: Path) -> int:
    """Training steps recorded in an evaluation-encoder file (0 when not recorded)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return int((f.metadata() or {}).get("steps", 0))


def _save(model: torch.nn.Module, out_path: Path, steps: int) -> None:
    """Float16 safetensors of everything but the locked MiniLM (it ships separately),
    written atomically (``export_weights``), so a reader never sees half a file."""
    from t2i_core.checkpoint import export_weights

    state = {k: v for k, v in model.state_dict().items() if not k.startswith("text.transformer.")}
    export_weights(out_path, state, {"config": json.dumps(model_config()), "steps": str(steps)})
