"""Tiny random-weight Stable-Diffusion-family models, built locally from configs.

Each family keeps its real structure (block types, text encoders, scheduler, VAE layout) with
tiny widths, and follows the conventions the loader assumes for what weights cannot show (head
counts), so the single-file export loaded through the scanner must give the very same pipeline
as the diffusers folder. ``save_single_file`` writes the original (A1111/ComfyUI) layout: the
inverse of diffusers' converter, written here for the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from t2i_core.backends.diffusers_backend.clip_tokenizer import write_clip_tokenizer
from t2i_core.backends.diffusers_backend.infer import load_template

WIDTHS = (32, 64)
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=1,
            max_position_embeddings=77, vocab_size=49408)


def _vae(template: dict):
    from diffusers import AutoencoderKL

    cfg = {k: v for k, v in template.items() if not k.startswith("_")}
    cfg.update(block_out_channels=[32, 32, 32, 32], layers_per_block=1, norm_num_groups=32,
               sample_size=64)
    return AutoencoderKL(**cfg)


def _unet(template: dict, family: str, cross: int, pooled: int = 0):
    from diffusers import UNet2DConditionModel

    cfg = {k: v for k, v in template.items() if not k.startswith("_")}
    xl = family == "sdxl"
    cfg.update(block_out_channels=list(WIDTHS), layers_per_block=1, cross_attention_dim=cross,
               sample_size=8, norm_num_groups=32,
               down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"] if xl else
               ["CrossAttnDownBlock2D", "DownBlock2D"],
               up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"] if xl else
               ["UpBlock2D", "CrossAttnUpBlock2D"],
               transformer_layers_per_block=[1, 2] if xl else 1)
    if family != "sd1":
        cfg["attention_head_dim"] = [max(1, w // 64) for w in WIDTHS]
    if xl:
        cfg["addition_time_embed_dim"] = 8
        cfg["projection_class_embeddings_input_dim"] = pooled + 6 * 8
    return UNet2DConditionModel(**cfg)


def _clip(template: dict, with_projection: bool = False, projection_dim: int = 32, **kw):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = {k: v for k, v in template.items() if k not in ("architectures", "model_type")}
    cfg.update(TEXT, projection_dim=projection_dim, **kw)
    config = CLIPTextConfig(**cfg)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def tiny_t5_tokenizer(dest: Path) -> Path:
    """A tiny T5-style (Unigram, '</s>' appended, '<pad>' = 0) tokenizer built locally."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = ["a", "an", "the", "red", "green", "blue", "apple", "house", "cat", "dog", "photo",
             "of", "on", "in", "with", "sky", "tree"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(f"▁{w}", -1.0) for w in words] + [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[
        ("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=77)
    fast.save_pretrained(str(dest))
    return dest


def build(family: str, tok_dir: Path, seed: int = 0, t5: bool = True):
    """A tiny random pipeline of ``family`` (sd1, sd2, sdxl, sd3) in eval mode (as loaded
    pipelines are: T5 has dropout); tokenizers go to tok_dir."""
    pipe = _build(family, tok_dir, seed, t5)
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    return pipe


def _build(family: str, tok_dir: Path, seed: int, t5: bool):
    import diffusers
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    tpl = load_template(family)
    c = tpl["components"]
    toks = {name: AutoTokenizer.from_pretrained(str(write_clip_tokenizer(
        tok_dir / name / t["pad"].strip("<|>"), t["pad"])))
        for name, t in tpl["tokenizers"].items()}
    sched = getattr(diffusers, c["scheduler"]["_class_name"]).from_config(c["scheduler"])
    vae = _vae(c["vae"])
    parts: dict = {"vae": vae, "scheduler": sched, **toks}
    if family in ("sd1", "sd2"):
        parts["text_encoder"] = _clip(c["text_encoder"])
        parts["unet"] = _unet(c["unet"], family, cross=32)
        if family == "sd1":
            parts |= {"safety_checker": None, "feature_extractor": None}
            return diffusers.StableDiffusionPipeline(**parts, requires_safety_checker=False)
        return diffusers.StableDiffusionPipeline(**parts, safety_checker=None,
                                                 feature_extractor=None,
                                                 requires_safety_checker=False)
    if family == "sdxl":
        parts["text_encoder"] = _clip(c["text_encoder"])
        parts["text_encoder_2"] = _clip(c["text_encoder_2"], True, projection_dim=24,
                                        hidden_size=48, intermediate_size=96)
        parts["unet"] = _unet(c["unet"], family, cross=32 + 48, pooled=24)
        return diffusers.StableDiffusionXLPipeline(**parts)
    # sd3: one head per block (MMDiT), 16 latent channels
    from transformers import T5Config, T5EncoderModel

    parts["vae"] = _vae(c["vae"])
    te1 = _clip(c["text_encoder"], True, projection_dim=32)
    with torch.no_grad():  # SD3's CLIP-L projection is the identity (diffusers' converter)
        te1.text_projection.weight.copy_(torch.eye(32))
    te2 = _clip(c["text_encoder_2"], True, projection_dim=48, hidden_size=48,
                intermediate_size=96)
    tcfg = {k: v for k, v in c["transformer"].items() if not k.startswith("_")}
    tcfg.update(num_layers=2, num_attention_heads=2, attention_head_dim=16,
                joint_attention_dim=96, caption_projection_dim=32,
                pooled_projection_dim=32 + 48, pos_embed_max_size=16, sample_size=8)
    parts |= {"text_encoder": te1, "text_encoder_2": te2,
              "transformer": diffusers.SD3Transformer2DModel(**tcfg)}
    if t5:
        t5_dir = tiny_t5_tokenizer(tok_dir / "t5")
        parts["tokenizer_3"] = AutoTokenizer.from_pretrained(str(t5_dir))
        parts["text_encoder_3"] = T5EncoderModel(T5Config(
            d_model=96, d_ff=64, d_kv=24, num_heads=4, num_layers=2, feed_forward_proj="gated-gelu",
            vocab_size=len(parts["tokenizer_3"]), relative_attention_num_buckets=8))
    else:
        parts |= {"tokenizer_3": None, "text_encoder_3": None}
    return diffusers.StableDiffusion3Pipeline(**parts)


def save_folder(pipe, dest: Path) -> Path:
    pipe.save_pretrained(str(dest), safe_serialization=True)
    return dest


# --- the original (LDM/SGM/MMDiT) single-file layout --------------------------------------

def _resnet(d: dict, src: str, dst: str, vae: bool = False) -> dict:
    ren = ({"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2",
            "conv_shortcut": "nin_shortcut"} if vae else
           {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
            "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"})
    out = {}
    for k, v in d.items():
        if k.startswith(src + "."):
            part, rest = k[len(src) + 1:].split(".", 1)
            out[f"{dst}.{ren[part]}.{rest}"] = v
    return out


def _moved(d: dict, src: str, dst: str) -> dict:
    return {dst + k[len(src):]: v for k, v in d.items() if k.startswith(src + ".")}


def unet_to_ldm(sd: dict, cfg) -> dict:
    n, per = len(cfg.block_out_channels), cfg.layers_per_block
    out = {"input_blocks.0.0.weight": sd["conv_in.weight"], "input_blocks.0.0.bias":
           sd["conv_in.bias"]}
    for a, b in (("time_embedding.linear_1", "time_embed.0"),
                 ("time_embedding.linear_2", "time_embed.2"), ("conv_norm_out", "out.0"),
                 ("conv_out", "out.2"), ("add_embedding.linear_1", "label_emb.0.0"),
                 ("add_embedding.linear_2", "label_emb.0.2")):
        out |= _moved(sd, a, b)
    for i in range(n):
        for j in range(per):
            idx = 1 + i * (per + 1) + j
            out |= _resnet(sd, f"down_blocks.{i}.resnets.{j}", f"input_blocks.{idx}.0")
            out |= _moved(sd, f"down_blocks.{i}.attentions.{j}", f"input_blocks.{idx}.1")
        if i < n - 1:
            out |= _moved(sd, f"down_blocks.{i}.downsamplers.0.conv",
                          f"input_blocks.{1 + i * (per + 1) + per}.0.op")
    out |= _resnet(sd, "mid_block.resnets.0", "middle_block.0")
    out |= _moved(sd, "mid_block.attentions.0", "middle_block.1")
    out |= _resnet(sd, "mid_block.resnets.1", "middle_block.2")
    for i in range(n):
        has_attn = any(k.startswith(f"up_blocks.{i}.attentions.") for k in sd)
        for j in range(per + 1):
            idx = i * (per + 1) + j
            out |= _resnet(sd, f"up_blocks.{i}.resnets.{j}", f"output_blocks.{idx}.0")
            out |= _moved(sd, f"up_blocks.{i}.attentions.{j}", f"output_blocks.{idx}.1")
        if i < n - 1:
            out |= _moved(sd, f"up_blocks.{i}.upsamplers.0.conv",
                          f"output_blocks.{i * (per + 1) + per}.{2 if has_attn else 1}.conv")
    return out


def vae_to_ldm(sd: dict, cfg) -> dict:
    n = len(cfg.block_out_channels)
    out = {}
    for a, b in (("conv_norm_out", "norm_out"), ("conv_in", "conv_in"), ("conv_out", "conv_out")):
        for side in ("encoder", "decoder"):
            out |= _moved(sd, f"{side}.{a}", f"{side}.{b}")
    out |= _moved(sd, "quant_conv", "quant_conv") | _moved(sd, "post_quant_conv",
                                                            "post_quant_conv")
    for i in range(n):
        for j in range(cfg.layers_per_block):
            out |= _resnet(sd, f"encoder.down_blocks.{i}.resnets.{j}",
                           f"encoder.down.{i}.block.{j}", vae=True)
        out |= _moved(sd, f"encoder.down_blocks.{i}.downsamplers.0.conv",
                      f"encoder.down.{i}.downsample.conv")
        for j in range(cfg.layers_per_block + 1):
            out |= _resnet(sd, f"decoder.up_blocks.{i}.resnets.{j}",
                           f"decoder.up.{n - 1 - i}.block.{j}", vae=True)
        out |= _moved(sd, f"decoder.up_blocks.{i}.upsamplers.0.conv",
                      f"decoder.up.{n - 1 - i}.upsample.conv")
    for side in ("encoder", "decoder"):
        out |= _resnet(sd, f"{side}.mid_block.resnets.0", f"{side}.mid.block_1", vae=True)
        out |= _resnet(sd, f"{side}.mid_block.resnets.1", f"{side}.mid.block_2", vae=True)
        for a, b in (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"),
                     ("to_out.0", "proj_out")):
            for k, v in _moved(sd, f"{side}.mid_block.attentions.0.{a}",
                               f"{side}.mid.attn_1.{b}").items():
                out[k] = v[:, :, None, None] if v.ndim == 2 else v
    return out


def clip_to_ldm(sd: dict) -> dict:
    return {k if k.startswith(("text_model.", "text_projection")) else f"text_model.{k}": v
            for k, v in sd.items()}


def openclip_to_ldm(sd: dict) -> dict:
    sd = {k.removeprefix("text_model."): v for k, v in sd.items()}
    out = {"token_embedding.weight": sd["embeddings.token_embedding.weight"],
           "positional_embedding": sd["embeddings.position_embedding.weight"],
           "ln_final.weight": sd["final_layer_norm.weight"],
           "ln_final.bias": sd["final_layer_norm.bias"]}
    if "text_projection.weight" in sd:
        out["text_projection"] = sd["text_projection.weight"].T.contiguous()
    layers = {int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers.")}
    for i in range(max(layers) + 1):
        s, d = f"encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for w in ("weight", "bias"):
            out[d + f"attn.in_proj_{w}"] = torch.cat([sd[s + f"self_attn.{p}_proj.{w}"]
                                                      for p in "qkv"])
            out[d + f"attn.out_proj.{w}"] = sd[s + f"self_attn.out_proj.{w}"]
            out[d + f"ln_1.{w}"] = sd[s + f"layer_norm1.{w}"]
            out[d + f"ln_2.{w}"] = sd[s + f"layer_norm2.{w}"]
            out[d + f"mlp.c_fc.{w}"] = sd[s + f"mlp.fc1.{w}"]
            out[d + f"mlp.c_proj.{w}"] = sd[s + f"mlp.fc2.{w}"]
    return out


def _swap(w: torch.Tensor) -> torch.Tensor:
    a, b = w.chunk(2, dim=0)
    return torch.cat([b, a], dim=0)


def sd3_to_mmdit(sd: dict, n: int) -> dict:
    out = {"pos_embed": sd["pos_embed.pos_embed"]}
    for a, b in (("pos_embed.proj", "x_embedder.proj"),
                 ("time_text_embed.timestep_embedder.linear_1", "t_embedder.mlp.0"),
                 ("time_text_embed.timestep_embedder.linear_2", "t_embedder.mlp.2"),
                 ("time_text_embed.text_embedder.linear_1", "y_embedder.mlp.0"),
                 ("time_text_embed.text_embedder.linear_2", "y_embedder.mlp.2"),
                 ("context_embedder", "context_embedder"), ("proj_out", "final_layer.linear")):
        out |= _moved(sd, a, b)
    for w in ("weight", "bias"):
        out[f"final_layer.adaLN_modulation.1.{w}"] = _swap(sd[f"norm_out.linear.{w}"])
    for i in range(n):
        s, x, c = f"transformer_blocks.{i}.", f"joint_blocks.{i}.x_block.", \
            f"joint_blocks.{i}.context_block."
        last = i == n - 1
        for w in ("weight", "bias"):
            out[x + f"attn.qkv.{w}"] = torch.cat([sd[s + f"attn.to_{p}.{w}"] for p in "qkv"])
            out[c + f"attn.qkv.{w}"] = torch.cat([sd[s + f"attn.add_{p}_proj.{w}"]
                                                  for p in "qkv"])
            out[x + f"attn.proj.{w}"] = sd[s + f"attn.to_out.0.{w}"]
            out[x + f"adaLN_modulation.1.{w}"] = sd[s + f"norm1.linear.{w}"]
            ctx = sd[s + f"norm1_context.linear.{w}"]
            out[c + f"adaLN_modulation.1.{w}"] = _swap(ctx) if last else ctx
            out[x + f"mlp.fc1.{w}"] = sd[s + f"ff.net.0.proj.{w}"]
            out[x + f"mlp.fc2.{w}"] = sd[s + f"ff.net.2.{w}"]
            if not last:
                out[c + f"attn.proj.{w}"] = sd[s + f"attn.to_add_out.{w}"]
                out[c + f"mlp.fc1.{w}"] = sd[s + f"ff_context.net.0.proj.{w}"]
                out[c + f"mlp.fc2.{w}"] = sd[s + f"ff_context.net.2.{w}"]
    return out


def save_single_file(pipe, path: Path, metadata: dict | None = None) -> Path:
    """The whole pipeline as one original-layout ``.safetensors`` file."""
    def pre(prefix: str, d: dict) -> dict:
        return {prefix + k: v for k, v in d.items()}

    sd: dict[str, torch.Tensor] = pre("first_stage_model.",
                                      vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config))
    name = type(pipe).__name__
    if name == "StableDiffusion3Pipeline":
        t = pipe.transformer
        sd |= pre("model.diffusion_model.", sd3_to_mmdit(t.state_dict(), t.config.num_layers))
        sd |= pre("text_encoders.clip_l.transformer.", clip_to_ldm(pipe.text_encoder.state_dict()))
        sd |= pre("text_encoders.clip_g.transformer.",
                  clip_to_ldm(pipe.text_encoder_2.state_dict()))
        if pipe.text_encoder_3 is not None:
            t5 = {k: v for k, v in pipe.text_encoder_3.state_dict().items()
                  if k != "encoder.embed_tokens.weight"}  # tied to shared.weight
            sd |= pre("text_encoders.t5xxl.transformer.", t5)
    else:
        sd |= pre("model.diffusion_model.", unet_to_ldm(pipe.unet.state_dict(),
                                                         pipe.unet.config))
        te = pipe.text_encoder.state_dict()
        if name == "StableDiffusionXLPipeline":
            sd |= pre("conditioner.embedders.0.transformer.", clip_to_ldm(te))
            sd |= pre("conditioner.embedders.1.model.",
                      openclip_to_ldm(pipe.text_encoder_2.state_dict()))
        elif pipe.unet.config.use_linear_projection:  # SD 2.x: OpenCLIP
            sd |= pre("cond_stage_model.model.", openclip_to_ldm(te))
        else:
            sd |= pre("cond_stage_model.transformer.", clip_to_ldm(te))
    tensors = {k: v.contiguous() for k, v in sd.items() if "position_ids" not in k}
    save_file(tensors, str(path), metadata={k: str(v) for k, v in (metadata or {}).items()})
    return path


def describe(path: Path) -> dict:
    return json.loads((path / "model_index.json").read_text())
