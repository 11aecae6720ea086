"""`t2i eval`: the built-in model's quality, measured with our own evaluation encoder.

R-precision (R=1 among 100 candidate prompts) on the committed prompt list (prompts.tsv):
- *generated*: images the model makes for each prompt;
- *ceiling*: real test-split icons of the same concepts (never trained on, by construction);
- *chance*: 1 / 100.
Also novelty: the distance from each generated image to its nearest training image, relative
to the typical distance between two training icons, next to the same ratio for real test
icons (unseen drawings): a model that copied its neighbours would score near 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from t2i_core.backends.base import GenerateRequest
from t2i_core.eval.metrics import (
    candidate_sets,
    nearest_distances,
    r_precision,
    typical_distance,
)

PROMPTS_FILE = Path(__file__).with_name("prompts.tsv")  # test concepts: the reported numbers
VAL_PROMPTS_FILE = Path(__file__).with_name("prompts_val.tsv")  # val concepts: for tuning
GRID_PROMPTS = ["a house", "a tree", "a car", "a cat", "a dog", "a heart", "a star", "the sun",
                "a cloud", "an apple", "a bicycle", "an umbrella", "a smiling face",
                "a coffee cup", "a key", "a book"]


def load_prompts(path: Path = PROMPTS_FILE) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            prompt, concept = line.split("\t")
            rows.append((prompt, concept))
    return rows


def generate_for_prompts(backend, prompts: list[str], per_prompt: int, steps: int,
                         guidance: float, seed: int = 1234) -> np.ndarray:
    images = []
    for i, p in enumerate(tqdm(prompts, desc="generating", unit="prompt")):
        res = backend.generate(GenerateRequest(prompt=p, seed=seed + 100 * i, count=per_prompt,
                                               steps=steps, guidance=guidance, width=32,
                                               height=32))
        images.extend(res.images)
    return np.stack(images)


def evaluate(data_dir: Path, encoder_path: Path, backend, per_prompt: int = 4, steps: int = 20,
             guidance: float = 3.0, limit: int | None = None, split: str = "test",
             images_file: Path | None = None) -> dict:
    """R-precision of generated and real test icons, novelty. ``images_file`` (.npy): the
    generated images are read from it when it exists (the same images re-scored, e.g. by
    another evaluation encoder), else generated and saved there."""
    from t2i_core.data.meta import load_meta
    from t2i_core.eval.clip_encoder import EvalEncoder

    rows = load_prompts(PROMPTS_FILE if split == "test" else VAL_PROMPTS_FILE)[:limit]
    prompts = [p for p, _ in rows]
    meta = load_meta(data_dir)
    images = np.load(data_dir / "images32.npy", mmap_mode="r")
    by_concept: dict[str, list[int]] = {}
    for i, m in enumerate(meta):
        if m["split"] == split:
            by_concept.setdefault(m["concept"], []).append(i)
    real_idx, real_prompt = [], []
    for p, (_, concept) in enumerate(rows):
        for i in by_concept.get(concept, [])[:per_prompt]:
            real_idx.append(i)
            real_prompt.append(p)
    enc = EvalEncoder(encoder_path)
    text = enc.texts(prompts)
    sets = candidate_sets(len(prompts), min(100, len(prompts)))
    real = np.array(images[np.array(real_idx)])
    ceiling = r_precision(enc.images(real), np.array(real_prompt), text, sets)
    gen = cached_generation(images_file, backend, prompts, per_prompt, steps, guidance)
    gen_prompt = np.repeat(np.arange(len(prompts)), per_prompt)
    generated = r_precision(enc.images(gen), gen_prompt, text, sets)
    train = np.array([i for i, m in enumerate(meta) if m["split"] == "train"])
    bank = np.array(images[train])
    scale = typical_distance(bank)
    d_gen = nearest_distances(gen, bank) / scale
    d_real = nearest_distances(real, bank) / scale
    return {
        "split": split, "prompts": len(prompts), "candidates": int(sets.shape[1]),
        "images_per_prompt": per_prompt, "steps": steps, "guidance": guidance,
        "r_precision_generated": round(generated, 4),
        "r_precision_ceiling": round(ceiling, 4),
        "r_precision_chance": round(1 / sets.shape[1], 4),
        "generated_over_ceiling": round(generated / ceiling, 3) if ceiling else None,
        "nearest_train_distance_generated_median": round(float(np.median(d_gen)), 4),
        "nearest_train_distance_real_test_median": round(float(np.median(d_real)), 4),
        "near_copies_generated": round(float((d_gen < 0.02).mean()), 4),
        # closer to a training image than 95% of unseen real icons are: "looks copied"
        "closer_than_real_p5": round(float((d_gen < np.percentile(d_real, 5)).mean()), 4),
        "nearest_train_distance_generated_p10": round(float(np.percentile(d_gen, 10)), 4),
        "nearest_train_distance_real_test_p10": round(float(np.percentile(d_real, 10)), 4),
    }


def cached_generation(images_file: Path | None, backend, prompts: list[str], per_prompt: int,
                      steps: int, guidance: float) -> np.ndarray:
    if images_file is not None and images_file.exists():
        gen = np.load(images_file)
        if gen.shape[0] != len(prompts) * per_prompt or gen.dtype != np.uint8:
            raise ValueError(f"{images_file} holds {gen.shape[0]} {gen.dtype} images, not "
                             f"{len(prompts)} prompts x {per_prompt}: delete it to generate "
                             "them again")
        return gen
    gen = generate_for_prompts(backend, prompts, per_prompt, steps, guidance)
    if images_file is not None:
        np.save(images_file, gen)
    return gen


def sample_grid(backend, out: Path, prompts: list[str] = GRID_PROMPTS, per_prompt: int = 4,
                steps: int = 20, guidance: float = 3.0, cell: int = 64, seed: int = 0,
                vector: bool = False) -> Path:
    """A labelled grid: one row per prompt, ``per_prompt`` samples each, on a light checker.
    ``vector``: each cell is the vector output (the traced SVG rendered at ``cell`` px)."""
    from t2i_core.vector.result import generate_vector

    run = (lambda req: generate_vector(backend, req)) if vector else backend.generate
    label_w = 130 if cell <= 64 else 200
    grid = Image.new("RGB", (label_w + per_prompt * (cell + 4), len(prompts) * (cell + 4)),
                     "white")
    draw = ImageDraw.Draw(grid)
    for r, p in enumerate(tqdm(prompts, desc="sample grid", unit="prompt")):
        res = run(GenerateRequest(prompt=p, seed=seed + 100 * r, count=per_prompt,
                                  steps=steps, guidance=guidance, width=cell, height=cell))
        y = r * (cell + 4) + 2
        draw.text((6, y + cell // 2 - 6), p, fill="black", font_size=max(10, cell // 16))
        for c, img in enumerate(res.images):
            tile = Image.new("RGBA", (cell, cell), (235, 235, 235, 255))
            tile.alpha_composite(Image.fromarray(img))
            grid.paste(tile.convert("RGB"), (label_w + c * (cell + 4), y))
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)
    return out


def write_report(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
