"""Caption embeddings for training, computed once and cached next to the data set.

MiniLM encodes ~400 captions/s on a 2-core CPU (measured, see docs/PERFORMANCE.md), too slow
to run inside the training loop. So every item gets its canonical caption embedding plus
``variants`` augmented captions (t2i_core.text_augment) embedded up front; the trainer picks
one at random each time it sees the item.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from tqdm import tqdm

from t2i_core.data.meta import load_meta
from t2i_core.text_augment import augment
from t2i_core.text_encoder import TextEncoder, shared_text_encoder


def embed_captions(data_dir: Path, variants: int = 1, seed: int = 0,
                   encoder: TextEncoder | None = None) -> Path:
    """Write ``captions.npz``: 'canonical' (N,384) and 'augmented' (N,variants,384) float16."""
    out = data_dir / "captions.npz"
    if out.exists():
        return out
    meta = load_meta(data_dir)
    rng = random.Random(seed)
    texts = [m["caption"] for m in meta]
    aug = [[augment(m["caption"], m["alt"], rng) for _ in range(variants)] for m in meta]
    unique = sorted(set(texts) | {a for row in aug for a in row})
    encoder = encoder or shared_text_encoder()
    vectors = np.zeros((len(unique), 384), dtype=np.float16)
    step = 1024
    for i in tqdm(range(0, len(unique), step), desc="embedding captions", unit="batch"):
        vectors[i:i + step] = encoder.encode(unique[i:i + step]).embeddings.numpy()
    index = {t: i for i, t in enumerate(unique)}
    canonical = vectors[[index[t] for t in texts]]
    augmented = vectors[[[index[a] for a in row] for row in aug]]
    np.savez(out, canonical=canonical, augmented=augmented,
             augmented_text=np.array(aug, dtype=object).astype(str))
    return out
