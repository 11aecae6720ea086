"""The three measures of issue 16 for one style folder, used by bench_finetune.py.

- **subject kept**: R-precision (R=1, candidates = the other test prompts) of images made
  for "<prompt>, <trigger>", scored against the plain prompt by the evaluation encoder
  (t2i_core/eval/clip_encoder.py: trained only to measure, never in a loss);
- **style distance**: mean (1 - cosine) of the evaluation encoder's image embeddings between
  each generated image and each folder image (the measure bench_finetune.py always used);
- **copies**: the share of samples whose nearest folder image is closer than the 5th
  percentile of the distances between two different folder images. Distance: L2 of the RGB
  pixels at 32 px composited over white (how the evaluation encoder and a person see them).
  ``copy_rate_premultiplied`` is the same with premultiplied RGBA (t2i_core/eval/metrics.py):
  it counts any two compact blobs on transparency as close and flags 15 % of the *base*
  model's samples for the Tango folder (an elephant next to a folder icon), so it is reported
  but not the bar.

Two further measures, reported beside the bar's (docs/finetune.md says why):

- **theme accuracy**: the three benchmark folders draw the *same* 20 subjects, each in its
  theme's look, so a sample's style distance to each of them differs only by look. The share
  of samples whose style distance is smallest to their own folder (chance 1/3) says whether
  the look is the theme's and not just "a colour icon";
- **subject copies**: the share of samples the evaluation encoder matches better with one of
  the folder's 20 subjects ("a printer", "a trash can", ...) than with their own prompt
  (subjects named in the prompt left out): what issue 16 saw, the folder's pictures drawn
  for every prompt, whatever their colours.

The test prompts are every other-ish row of t2i_core/eval/prompts.tsv (the model card's test
concepts), a fixed spread so that 25 or 100 prompts cover the list alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
# what the benchmark folders' 20 icons show (icon_theme_folders.NAMES), for subject copies
SUBJECTS = {"accessories-calculator": "a calculator", "audio-input-microphone": "a microphone",
            "battery": "a battery", "camera-photo": "a photo camera", "computer": "a computer",
            "drive-harddisk": "a hard disk", "emblem-favorite": "a heart",
            "face-smile": "a smiling face", "folder": "a folder",
            "input-gaming": "a game controller", "input-keyboard": "a keyboard",
            "input-mouse": "a computer mouse", "internet-mail": "an envelope",
            "media-floppy": "a floppy disk", "printer": "a printer", "user-home": "a house",
            "user-trash": "a trash can", "weather-clear": "the sun",
            "weather-showers": "a rain cloud", "weather-snow": "a snow cloud"}


def test_prompts(n: int) -> list[str]:
    from t2i_core.eval.evaluate import load_prompts

    rows = [p for p, _ in load_prompts()]
    idx = np.linspace(0, len(rows) - 1, n).round().astype(int)
    return [rows[i] for i in idx]


def generate(backend, prompts: list[str], trigger: str, seeds: int, loras: list,
             steps: int = 20, guidance: float = 3.0) -> np.ndarray:
    from t2i_core.backends.base import GenerateRequest

    out = []
    for i, p in enumerate(prompts):
        text = f"{p}, {trigger}" if trigger else p
        req = GenerateRequest(prompt=text, seed=1000 + 10 * i, count=seeds, width=32,
                              height=32, steps=steps, guidance=guidance, loras=list(loras))
        out.extend(backend.generate(req).images)
    return np.stack(out)


class FolderMeasure:
    """Measures samples against one folder (its images at the model's 32 px)."""

    def __init__(self, enc, folder32: np.ndarray) -> None:
        self.enc = enc
        self.folder32 = folder32
        self.folder_emb = enc.images(folder32)
        self.thresholds = {}
        for kind, fn in (("white", on_white), ("premultiplied", _premultiplied)):
            f = fn(folder32)
            off = torch.cdist(f, f)[~torch.eye(len(f), dtype=torch.bool)]
            self.thresholds[kind] = float(torch.quantile(off, 0.05))

    def style_distance(self, images: np.ndarray) -> float:
        e = self.enc.images(images)
        return float((1 - e @ self.folder_emb.T).mean())

    def copy_rate(self, images: np.ndarray, kind: str = "white") -> float:
        fn = on_white if kind == "white" else _premultiplied
        nearest = torch.cdist(fn(images), fn(self.folder32)).min(dim=1).values
        return float((nearest < self.thresholds[kind]).float().mean())

    def r_precision(self, images: np.ndarray, prompts: list[str], seeds: int) -> float:
        from t2i_core.eval.metrics import candidate_sets, r_precision

        text = self.enc.texts(prompts)
        sets = candidate_sets(len(prompts), candidates=len(prompts), seed=0)
        owner = np.repeat(np.arange(len(prompts)), seeds)
        return r_precision(self.enc.images(images), owner, text, sets)

    def mean_reciprocal_rank(self, images: np.ndarray, prompts: list[str], seeds: int) -> float:
        """Mean of 1 / (rank of the sample's own prompt among all test prompts): the same
        judge as R-precision, but every sample's rank counts, not only the top-1 hits, so it
        moves less by chance (R-precision at ~0.1 on 200 samples: +-0.02)."""
        emb = self.enc.images(images)
        sims = emb @ self.enc.texts(prompts).T
        owner = torch.from_numpy(np.repeat(np.arange(len(prompts)), seeds))
        own = sims[torch.arange(len(emb)), owner]
        rank = (sims > own[:, None]).sum(dim=1).float() + 1
        return float((1 / rank).mean())

    def per_sample_distance(self, images: np.ndarray) -> torch.Tensor:
        return (1 - self.enc.images(images) @ self.folder_emb.T).mean(dim=1)

    def theme_accuracy(self, images: np.ndarray, others: list[FolderMeasure]) -> float:
        """Share of samples nearer (style distance) to this folder than to each of ``others``."""
        own = self.per_sample_distance(images)
        other = torch.stack([o.per_sample_distance(images) for o in others])
        return float((own[None] < other).all(dim=0).float().mean())

    def subject_copies(self, images: np.ndarray, prompts: list[str], seeds: int) -> float:
        """Share of samples that match one of the folder's subjects better than their prompt."""
        subjects = list(SUBJECTS.values())
        emb = self.enc.images(images)
        own = (emb * self.enc.texts(prompts).repeat_interleave(seeds, dim=0)).sum(dim=1)
        sims = emb @ self.enc.texts(subjects).T
        for i, p in enumerate(prompts):  # a prompt that names a folder subject is no copy of it
            for j, subj in enumerate(subjects):
                if subj.split()[-1] in p.split():
                    sims[i * seeds:(i + 1) * seeds, j] = -2
        return float((sims.max(dim=1).values > own).float().mean())

    def all(self, images: np.ndarray, prompts: list[str], seeds: int) -> dict:
        return {"r_precision": round(self.r_precision(images, prompts, seeds), 4),
                "style_distance": round(self.style_distance(images), 4),
                "copy_rate": round(self.copy_rate(images), 4),
                "copy_rate_premultiplied": round(self.copy_rate(images, "premultiplied"), 4),
                "subject_copies": round(self.subject_copies(images, prompts, seeds), 4),
                "mean_reciprocal_rank": round(self.mean_reciprocal_rank(images, prompts, seeds),
                                              4)}

    def nearest(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sample: the over-white distance to its nearest folder image, and which."""
        d = torch.cdist(on_white(images), on_white(self.folder32))
        return d.min(dim=1)

    def theme_threshold(self, theme32: np.ndarray) -> float:
        """The 5th percentile of the theme's own icons of *other* subjects' distance to their
        nearest folder image: what "as near as the theme's artists come on another subject"
        is. Information beside the bar's threshold (folder pairs), which each theme's
        near-duplicates (folder / home) pull down."""
        return float(torch.quantile(self.nearest(theme32)[0], 0.05))

    def flagged(self, images: np.ndarray) -> np.ndarray:
        """Indices of the samples the copy measure (over white) flags, to look at."""
        nearest = torch.cdist(on_white(images), on_white(self.folder32)).min(dim=1).values
        return np.nonzero((nearest < self.thresholds["white"]).numpy())[0]


def on_white(rgba_u8: np.ndarray) -> torch.Tensor:
    """(N,32,32,4) uint8 -> (N, 3072) RGB in [0, 1] composited over white."""
    x = torch.from_numpy(np.asarray(rgba_u8)).float() / 255.0
    return (x[..., :3] * x[..., 3:] + (1 - x[..., 3:])).reshape(len(x), -1)


def _premultiplied(rgba_u8: np.ndarray) -> torch.Tensor:
    from t2i_core.eval.metrics import premultiplied

    return premultiplied(rgba_u8)


SHIPPED_ENCODER = ROOT / "t2i_core/weights/eval_encoder.safetensors"


def load_encoder(path: Path | str | None = None):
    """The evaluation encoder at ``path`` (default: the shipped one). A missing file is an
    error naming it, not a silent fall-back to another judge."""
    from t2i_core.eval.clip_encoder import EvalEncoder

    path = Path(path) if path is not None else SHIPPED_ENCODER
    if not path.is_file():
        raise FileNotFoundError(f"evaluation encoder {path} does not exist; give --encoder "
                                "the path of an eval encoder .safetensors")
    return EvalEncoder(path)


def folder_at_32(folder: Path) -> np.ndarray:
    from t2i_core.finetune.augment import centre
    from t2i_core.finetune.dataset import load_folder
    from t2i_core.models.autoencoder import to_pixels

    return to_pixels(centre(load_folder(folder).images)).numpy()
