"""The whole training recipe in miniature: data -> captions -> AE -> generator -> export ->
backend, plus exact resume. Same code as `t2i builtin train`, tiny sizes, seconds not hours."""

import json

import numpy as np
import pytest
import torch

from t2i_core.backends.base import GenerateRequest
from t2i_core.backends.builtin import BuiltinBackend, BuiltinModel
from t2i_core.models.autoencoder import AutoencoderConfig
from t2i_core.models.denoiser import DenoiserConfig
from t2i_core.training.export import export_builtin
from t2i_core.training.train_autoencoder import train_autoencoder
from t2i_core.training.train_generator import train_generator

AE = AutoencoderConfig(widths=(16, 32))
DN = DenoiserConfig(width=64, depth=2, heads=2)


def test_recipe_end_to_end(tiny_data, tmp_path, text_encoder):
    run = tmp_path / "run"
    stats = train_autoencoder(tiny_data, run, minutes=2, batch=8, total_steps=30, cfg=AE)
    assert stats["steps"] == 30 and stats["val_psnr_db"] > 5
    empty = text_encoder.encode([""]).embeddings[0]
    g = train_generator(tiny_data, run, empty, minutes=2, batch=8, total_steps=20, cfg=DN)
    assert g["steps"] == 20 and np.isfinite(g["loss"])
    out = export_builtin(tiny_data, run, tmp_path / "w" / "builtin.safetensors", empty,
                         memory_size=40)
    backend = BuiltinBackend(out.parent)
    backend._model = BuiltinModel(backend.path, text_encoder)
    assert len(backend.model.index) == 40
    res = backend.generate(GenerateRequest(prompt="a red circle", steps=4, width=32, height=32))
    assert res.images[0].shape == (32, 32, 4)
    # the test split is never in the retrieval memory
    neighbours = np.load(run / "neighbours.npy")
    meta = [json.loads(line) for line in (tiny_data / "meta.jsonl").read_text().splitlines()]
    assert all(meta[i]["split"] == "train" for i in neighbours.ravel())
    # and never the item itself or one with the same caption
    train = [i for i, m in enumerate(meta) if m["split"] == "train"]
    for row, item in zip(neighbours, train, strict=True):
        assert all(meta[j]["caption"] != meta[item]["caption"] for j in row)


def test_generator_resumes_exactly(tiny_data, tmp_path, text_encoder):
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    train_autoencoder(tiny_data, run_a, minutes=2, batch=8, total_steps=10, cfg=AE)
    run_b.mkdir()
    for name in ("autoencoder.safetensors",):
        (run_b / name).write_bytes((run_a / name).read_bytes())
    empty = text_encoder.encode([""]).embeddings[0]
    kw = {"minutes": 2, "batch": 8, "total_steps": 12, "cfg": DN}
    train_generator(tiny_data, run_a, empty, **kw)
    train_generator(tiny_data, run_b, empty, stop_after=5, **kw)  # "crash" after step 5
    train_generator(tiny_data, run_b, empty, **kw)  # resume from the checkpoint
    from safetensors.torch import load_file

    a = load_file(str(run_a / "denoiser.ckpt.safetensors"))
    b = load_file(str(run_b / "denoiser.ckpt.safetensors"))
    for k in a:
        if k.startswith(("model.", "ema.")):
            assert torch.equal(a[k], b[k]), k


def test_eval_encoder_trains_loads_and_ranks(tiny_data, tmp_path):
    """open_clip model with the locked MiniLM text tower: train, save, load, R-precision."""
    from t2i_core.eval.clip_encoder import EvalEncoder, train_eval_encoder
    from t2i_core.eval.metrics import candidate_sets, r_precision

    out = tmp_path / "eval.safetensors"
    stats = train_eval_encoder(tiny_data, out, minutes=2, batch=16, total_steps=40)
    assert stats["steps"] == 40
    enc = EvalEncoder(out)
    images = np.load(tiny_data / "images32.npy")
    meta = [json.loads(line) for line in (tiny_data / "meta.jsonl").read_text().splitlines()]
    prompts = sorted({m["caption"] for m in meta})
    img = enc.images(images)
    txt = enc.texts(prompts)
    assert img.shape == (60, 256) and txt.shape == (len(prompts), 256)
    assert torch.allclose(img.norm(dim=1), torch.ones(60), atol=1e-4)
    # the cached-embedding training path equals open_clip's own text path
    from t2i_core.text_encoder import TextEncoder

    cached = torch.nn.functional.normalize(
        enc.model.text.proj(TextEncoder().encode(prompts[:3]).embeddings.clone()), dim=-1)
    assert torch.allclose(cached, txt[:3], atol=1e-4)
    sets = candidate_sets(len(prompts), candidates=10)
    own = np.array([prompts.index(m["caption"]) for m in meta])
    assert 0.0 <= r_precision(img, own, txt, sets) <= 1.0


def test_r_precision_counts_exact_hits():
    from t2i_core.eval.metrics import candidate_sets, r_precision

    text = torch.eye(5)
    sets = candidate_sets(5, candidates=5)
    perfect = r_precision(torch.eye(5), np.arange(5), text, sets)
    wrong = r_precision(torch.eye(5), np.array([1, 2, 3, 4, 0]), text, sets)
    assert perfect == 1.0 and wrong == 0.0


def test_slim_checkpoint_resumes(tiny_data, tmp_path, text_encoder):
    """The 16-bit copy committed for the next session loads and continues the run."""
    from safetensors import safe_open

    from t2i_core.checkpoint import slim_checkpoint

    run, cont = tmp_path / "run", tmp_path / "cont"
    train_autoencoder(tiny_data, run, minutes=2, batch=8, total_steps=5, cfg=AE)
    empty = text_encoder.encode([""]).embeddings[0]
    train_generator(tiny_data, run, empty, minutes=2, batch=8, total_steps=6, cfg=DN)
    cont.mkdir()
    (cont / "autoencoder.safetensors").write_bytes((run / "autoencoder.safetensors").read_bytes())
    slim = slim_checkpoint(run / "denoiser.ckpt.safetensors", cont / "denoiser.ckpt.safetensors")
    assert slim.stat().st_size < (run / "denoiser.ckpt.safetensors").stat().st_size
    out = train_generator(tiny_data, cont, empty, minutes=2, batch=8, total_steps=9, cfg=DN)
    assert out["steps"] == 9 and np.isfinite(out["loss"])
    with safe_open(str(cont / "denoiser.ckpt.safetensors"), framework="pt") as f:
        assert f.get_tensor("ema.pos").dtype == torch.float32  # back to full precision


def test_colour_jitter_inks_glyphs_turns_hues_and_keeps_shapes():
    """The evaluation encoder's optional colour augmentation: alpha (the shape) never
    changes; a black glyph gets one coloured ink; a colour drawing keeps its grey levels;
    share 0 changes nothing and draws no random numbers."""
    import numpy as np

    from t2i_core.eval.clip_encoder import colour_jitter

    glyph = np.zeros((32, 32, 4), np.uint8)
    glyph[8:24, 8:24, 3] = 255  # a black square
    colour = np.zeros((32, 32, 4), np.uint8)
    colour[..., 3] = 255
    colour[:, :16, :3] = (220, 40, 40)
    colour[:, 16:, :3] = (40, 40, 220)
    batch = np.stack([glyph, colour])

    rng = np.random.default_rng(0)
    assert np.array_equal(colour_jitter(batch, rng, 0.0), batch)
    assert rng.random() == np.random.default_rng(0).random()  # the stream is untouched

    out = colour_jitter(batch, np.random.default_rng(1), 1.0)
    assert np.array_equal(out[..., 3], batch[..., 3])
    ink = out[0, 8:24, 8:24, :3].reshape(-1, 3)
    assert (ink == ink[0]).all() and np.ptp(ink[0].astype(int)) > 0  # one ink, not grey
    grey = batch[1, ..., :3].astype(float).mean(-1)
    # the turn keeps each pixel's grey level, up to rounding and clipping at 0 and 255
    assert np.abs(out[1, ..., :3].astype(float).mean(-1) - grey).max() <= 4.0
    assert not np.array_equal(out[1], batch[1])


def test_colour_jitter_leaves_drawings_whose_caption_names_a_colour(tiny_data, monkeypatch):
    """A "yellow heart emoji" recoloured blue would teach the evaluation encoder that
    "yellow" fits a blue heart: the prompt parser (t2i_core.colour_words) marks captions
    that name a colour, and training never recolours those drawings. Every tiny-data caption
    names a colour ("red circle icon"), so at share 1.0 no training image may change."""
    import t2i_core.eval.clip_encoder as ce

    assert ce.names_a_colour(["yellow heart emoji", "heart emoji", "orange",
                              "black circle icon", "dark red apple", "navy"]).tolist() == [
        True, False, False, True, True, False]

    glyph = np.zeros((2, 32, 32, 4), np.uint8)
    glyph[:, 8:24, 8:24, 3] = 255  # two black squares; the first one is kept
    out = ce.colour_jitter(glyph, np.random.default_rng(1), 1.0, keep=np.array([True, False]))
    assert np.array_equal(out[0], glyph[0]) and not np.array_equal(out[1], glyph[1])

    seen, real_jitter = [], ce.colour_jitter

    def recording_jitter(images, rng, share, keep=None):
        out = real_jitter(images, rng, share, keep)
        seen.append((np.asarray(keep), np.array_equal(out, images)))
        return out

    monkeypatch.setattr(ce, "colour_jitter", recording_jitter)
    ce.train_eval_encoder(tiny_data, tiny_data.parent / "jitter.safetensors", minutes=2,
                          batch=16, total_steps=3, colour_share=1.0)
    assert len(seen) == 3
    assert all(keep.all() and unchanged for keep, unchanged in seen)


def test_eval_encoder_checkpoints_survive_a_stopped_run(tiny_data, tmp_path, monkeypatch):
    """``checkpoint_every`` writes a loadable encoder during the run: a run that dies after
    its second checkpoint still leaves that encoder (with its step count), and a
    continuation adds its steps to the ones it starts from."""
    from safetensors import safe_open

    import t2i_core.eval.clip_encoder as ce

    out, saved, real_save = tmp_path / "eval.safetensors", [], ce._save

    def save_then_die(model, path, steps):
        real_save(model, path, steps)
        saved.append(steps)
        if len(saved) == 2:
            raise KeyboardInterrupt  # the run is stopped right after its second checkpoint

    monkeypatch.setattr(ce, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        ce.train_eval_encoder(tiny_data, out, minutes=2, batch=16, total_steps=40,
                              checkpoint_every=7)
    assert saved == [7, 14]
    with safe_open(str(out), framework="pt") as f:
        assert f.metadata()["steps"] == "14"
    assert not out.with_name(out.name + ".tmp").exists()
    enc = ce.EvalEncoder(out)  # a complete, loadable file
    assert torch.isfinite(enc.images(np.load(tiny_data / "images32.npy")[:4])).all()

    monkeypatch.setattr(ce, "_save", real_save)
    more = tmp_path / "more.safetensors"
    stats = ce.train_eval_encoder(tiny_data, more, minutes=2, batch=16, total_steps=5,
                                  init_from=out, colour_share=0.5, checkpoint_every=2)
    assert stats["steps"] == 19
    with safe_open(str(more), framework="pt") as f:
        assert f.metadata()["steps"] == "19"
