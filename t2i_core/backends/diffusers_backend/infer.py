"""Component configs for a single-file checkpoint, read off its weights' shapes.

diffusers converts an original-layout checkpoint when it is given a diffusers-layout config
folder (``from_single_file(config=folder)``); it would otherwise fetch one from the hub. The
shipped family templates (``configs/<family>.json``) hold what the weights cannot tell
(activations, scaling factors, the scheduler); every size the weights *do* tell (channels,
depths, widths, vocabulary) is measured here, so fine-tunes with other sizes load too.

Rules for what shapes cannot show, the same ones the original code bases use:
- attention heads: SD 1.x has 8 heads; SD 2.x/SDXL use 64-wide heads (diffusers' confusingly
  named ``attention_head_dim`` lists head *counts*); CLIP text encoders use 64-wide heads;
  SD3's MMDiT has one head per block (``num_heads = depth``).
- SD 2.x runs its 24-block OpenCLIP text encoder without the last block (diffusers' config
  says 23 and its converter skips block 23).
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
from pathlib import Path

from t2i_core.backends.diffusers_backend.clip_tokenizer import write_clip_tokenizer
from t2i_core.backends.diffusers_backend.detect import UNET, VAE, Detected, Header
from t2i_core.errors import T2IError

TEMPLATES = Path(__file__).resolve().parent / "configs"
LIBRARY = {"UNet2DConditionModel": "diffusers", "AutoencoderKL": "diffusers",
           "SD3Transformer2DModel": "diffusers"}
TEXT_ENCODERS = {"sd1": {"text_encoder": ("clip", "cond_stage_model.transformer.")},
                 "sd2": {"text_encoder": ("openclip", "cond_stage_model.model.")},
                 "sdxl": {"text_encoder": ("clip", "conditioner.embedders.0.transformer."),
                          "text_encoder_2": ("openclip", "conditioner.embedders.1.model.")},
                 "sd3": {"text_encoder": ("clip", "text_encoders.clip_l.transformer."),
                         "text_encoder_2": ("clip", "text_encoders.clip_g.transformer."),
                         "text_encoder_3": ("t5", "text_encoders.t5xxl.transformer.")}}


def load_template(family: str) -> dict:
    return json.loads((TEMPLATES / f"{family}.json").read_text())


def _count(keys: dict, pattern: str) -> int:
    rx = re.compile(pattern)
    found = {int(m.group(1)) for k in keys if (m := rx.match(k))}
    return max(found) + 1 if found else 0


def unet_config(h: Header, det: Detected, base: dict, pooled_dim: int) -> dict:
    u = h.sub(UNET)
    in_ch = u["input_blocks.0.0.weight"][1]
    downs = sorted(int(m.group(1)) for k in u
                   if (m := re.match(r"input_blocks\.(\d+)\.0\.op\.weight$", k)))
    n_in = _count(u, r"input_blocks\.(\d+)\.")
    per = (downs[0] - 1) if downs else n_in - 1
    levels = len(downs) + 1
    first = [1 + lvl * (per + 1) for lvl in range(levels)]
    widths = [u[f"input_blocks.{i}.0.out_layers.3.weight"][0] for i in first]
    attn = [f"input_blocks.{i}.1.proj_in.weight" in u for i in first]
    depth = [max(1, _count(u, rf"input_blocks\.{i}\.1\.transformer_blocks\.(\d+)\."))
             for i in first]
    cross = next(s[1] for k, s in u.items() if k.endswith("attn2.to_k.weight"))
    proj = next(s for k, s in u.items() if k.endswith(".proj_in.weight"))
    cfg = dict(base, in_channels=in_ch, out_channels=u["out.2.weight"][0],
               block_out_channels=widths, layers_per_block=per, cross_attention_dim=cross,
               use_linear_projection=len(proj) == 2,
               down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn],
               up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in attn[::-1]],
               transformer_layers_per_block=depth if len(set(depth)) > 1 else depth[0])
    if det.family == "sd1":
        cfg["attention_head_dim"] = base["attention_head_dim"]
    else:
        cfg["attention_head_dim"] = [max(1, w // 64) for w in widths]
    if det.family == "sdxl":
        adm = u["label_emb.0.0.weight"][1]
        cfg["projection_class_embeddings_input_dim"] = adm
        cfg["addition_time_embed_dim"] = (adm - pooled_dim) // 6
    return cfg


def vae_config(h: Header, base: dict) -> dict:
    v = h.sub(VAE)
    levels = _count(v, r"encoder\.down\.(\d+)\.")
    widths = [v[f"encoder.down.{i}.block.0.conv1.weight"][0] for i in range(levels)]
    return dict(base, block_out_channels=widths,
                layers_per_block=_count(v, r"encoder\.down\.0\.block\.(\d+)\."),
                latent_channels=v["encoder.conv_out.weight"][0] // 2,
                down_block_types=["DownEncoderBlock2D"] * levels,
                up_block_types=["UpDecoderBlock2D"] * levels,
                use_quant_conv="quant_conv.weight" in v,
                use_post_quant_conv="post_quant_conv.weight" in v)


def clip_config(h: Header, prefix: str, base: dict) -> dict:
    t = h.sub(prefix)
    t = {k.removeprefix("text_model."): s for k, s in t.items()}
    vocab, hidden = t["embeddings.token_embedding.weight"]
    cfg = dict(base, vocab_size=vocab, hidden_size=hidden,
               max_position_embeddings=t["embeddings.position_embedding.weight"][0],
               num_hidden_layers=_count(t, r"encoder\.layers\.(\d+)\."),
               intermediate_size=t["encoder.layers.0.mlp.fc1.weight"][0],
               num_attention_heads=max(1, hidden // 64))
    if "text_projection.weight" in t:
        cfg["projection_dim"] = t["text_projection.weight"][0]
    return cfg


def openclip_config(h: Header, prefix: str, base: dict, family: str) -> dict:
    t = h.sub(prefix)
    vocab, hidden = t["token_embedding.weight"]
    blocks = _count(t, r"transformer\.resblocks\.(\d+)\.")
    cfg = dict(base, vocab_size=vocab, hidden_size=hidden,
               max_position_embeddings=t["positional_embedding"][0],
               num_hidden_layers=blocks - 1 if family == "sd2" and blocks == 24 else blocks,
               intermediate_size=t["transformer.resblocks.0.mlp.c_fc.weight"][0],
               num_attention_heads=max(1, hidden // 64))
    if "text_projection" in t:
        cfg["projection_dim"] = t["text_projection"][1]
    return cfg


def t5_config(h: Header, prefix: str, base: dict) -> dict:
    t = h.sub(prefix)
    vocab, d_model = t["shared.weight"]
    att = "encoder.block.0.layer.0.SelfAttention."
    buckets, heads = t[att + "relative_attention_bias.weight"]
    return dict(base, vocab_size=vocab, d_model=d_model, num_heads=heads,
                d_kv=t[att + "q.weight"][0] // heads,
                d_ff=t["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"][0],
                num_layers=_count(t, r"encoder\.block\.(\d+)\."),
                relative_attention_num_buckets=buckets)


def sd3_transformer_config(h: Header, base: dict) -> dict:
    m = h.sub(UNET)
    hidden, in_ch, patch, _ = m["x_embedder.proj.weight"]
    layers = _count(m, r"joint_blocks\.(\d+)\.")
    dual = sorted({int(x.group(1)) for k in m
                   if (x := re.match(r"joint_blocks\.(\d+)\.x_block\.attn2\.", k))})
    return dict(base, in_channels=in_ch, patch_size=patch, num_layers=layers,
                num_attention_heads=layers, attention_head_dim=hidden // layers,
                joint_attention_dim=m["context_embedder.weight"][1],
                caption_projection_dim=m["context_embedder.weight"][0],
                pooled_projection_dim=m["y_embedder.mlp.0.weight"][1],
                out_channels=m["final_layer.linear.weight"][0] // (patch * patch),
                pos_embed_max_size=math.isqrt(m["pos_embed"][1]),
                qk_norm="rms_norm" if any(".ln_q." in k for k in m) else None,
                dual_attention_layers=dual)


def single_file_configs(h: Header, det: Detected) -> dict[str, dict]:
    """Every component's config for this checkpoint (model_index included)."""
    tpl = load_template(det.family)
    comps = copy.deepcopy(tpl["components"])
    try:
        for name, (kind, prefix) in TEXT_ENCODERS[det.family].items():
            if not h.has_prefix(prefix):
                comps.pop(name)
                continue
            if kind == "clip":
                comps[name] = clip_config(h, prefix, comps[name])
            elif kind == "openclip":
                comps[name] = openclip_config(h, prefix, comps[name], det.family)
            else:
                comps[name] = t5_config(h, prefix, comps[name])
        if det.family == "sd3":
            comps["transformer"] = sd3_transformer_config(h, comps["transformer"])
        else:
            pooled = comps.get("text_encoder_2", {}).get("projection_dim", 0)
            comps["unet"] = unet_config(h, det, comps["unet"], pooled)
        comps["vae"] = vae_config(h, comps["vae"])
    except (KeyError, StopIteration, ValueError, ZeroDivisionError) as e:
        raise T2IError("unsupported_model", f"the weights look like {det.family} but a part "
                       f"is missing or unusual ({type(e).__name__}: {e}); convert the model "
                       "to a diffusers folder, or report the file's origin") from e
    if det.prediction_type:
        comps["scheduler"]["prediction_type"] = det.prediction_type
    index = {"_class_name": tpl["pipeline"]}
    for name, cfg in comps.items():
        cls = cfg.get("_class_name") or cfg["architectures"][0]
        index[name] = [LIBRARY.get(cls, "diffusers" if name == "scheduler" else "transformers"),
                       cls]
    for name in tpl["tokenizers"]:
        index[name] = ["transformers", "CLIPTokenizer"]
    return {"model_index": index, **comps, "_tokenizers": tpl["tokenizers"]}


def write_config_folder(configs: dict[str, dict], dest: Path, tokenizer_cache: Path) -> Path:
    """A diffusers-layout folder without weights: what ``from_single_file(config=)`` reads."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "model_index.json").write_text(json.dumps(configs["model_index"], indent=1))
    for name, cfg in configs.items():
        if name in ("model_index", "_tokenizers"):
            continue
        (dest / name).mkdir(exist_ok=True)
        fname = "scheduler_config.json" if name == "scheduler" else "config.json"
        (dest / name / fname).write_text(json.dumps(cfg, indent=1))
    for name, tok in configs["_tokenizers"].items():
        shared = write_clip_tokenizer(tokenizer_cache / "clip-bpe", tok["pad"], tok["max_length"])
        out = dest / name
        out.mkdir(exist_ok=True)
        for f in ("vocab.json", "merges.txt"):
            if not (out / f).exists():
                try:
                    (out / f).symlink_to(shared / f)
                except OSError:  # no symlinks here (Windows without the privilege)
                    shutil.copyfile(shared / f, out / f)
        write_clip_tokenizer(out, tok["pad"], tok["max_length"])
    return dest
