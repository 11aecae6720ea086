"""Shared fixtures: offline always, small thread counts, sealed from the user's own files,
a tiny random built-in model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Ray (tests/cluster) reads this when it is first imported: with "cluster mode" off every Ray
# process takes 127.0.0.1 as its node address, so the test clusters stay on loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

# Tests never see the user's worker, history, adapters or settings: before anything is
# imported, every test (and every worker, Krita or Blender a test starts, which inherit this
# environment) gets a private HOME and XDG folders, and no T2I_* setting from outside.
# The user's environment stays readable for the test that proves the seal (test_sealed.py):
# T2I_TEST_HOME_ROOT names the private root, which holds user_env.json.
SEALED_VARS = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME")


def _seal_from_the_user() -> Path:
    parent = os.environ.get("T2I_TEST_HOME_ROOT")
    if parent and Path(os.environ.get("HOME", "/")).is_relative_to(parent):
        # A pytest that a sealed test started (e.g. the panel tests under PyQt6): its
        # environment, T2I_* settings included, is the suite's own; keep it, but give it an
        # adapter library of its own (the same names trained twice would become name-2).
        os.environ["T2I_ADAPTER_DIR"] = tempfile.mkdtemp(prefix="adapters-", dir=parent)
        return Path(parent)
    # Downloads of public packages (the npm icon sets of the data-builder test) may stay
    # cached where they were: they are not the user's work.
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    user_env = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("T2I_")]:
        del os.environ[key]
    root = Path(tempfile.mkdtemp(prefix="t2i-test-home-"))
    for var in SEALED_VARS:
        folder = root / var.lower()
        folder.mkdir(mode=0o700)
        os.environ[var] = str(folder)
    os.environ["XDG_CACHE_HOME"] = cache
    # The adapter library (fine-tuning) of the whole test session.
    os.environ["T2I_ADAPTER_DIR"] = str(root / "adapters")
    os.environ["T2I_TEST_HOME_ROOT"] = str(root)
    (root / "user_env.json").write_text(__import__("json").dumps(user_env))
    return root


_seal_from_the_user()

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny random-weight built-in model (same code paths, fast)."""
    from t2i_core.backends.builtin import make_random_weights

    return make_random_weights(tmp_path_factory.mktemp("tiny_builtin"))


@pytest.fixture(scope="session")
def text_encoder():
    from t2i_core.text_encoder import shared_text_encoder

    return shared_text_encoder()  # the one the backends use when given none


@pytest.fixture(scope="session")
def tiny_backend(tiny_weights: Path, text_encoder):
    from t2i_core.backends.builtin import BuiltinBackend, BuiltinModel

    backend = BuiltinBackend(tiny_weights)
    backend._model = BuiltinModel(backend.path, text_encoder)  # share the loaded MiniLM
    return backend


COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220),
           "black": (0, 0, 0), "orange": (250, 150, 20)}
SHAPES = ["circle", "square", "triangle", "bar"]
STYLES = {"emoji": "emoji", "color": "color icon", "icon": "icon"}


def draw(shape: str, colour: tuple[int, int, int], size: int = 32) -> np.ndarray:
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    box = (6, 6, 26, 26)
    fill = (*colour, 255)
    if shape == "circle":
        d.ellipse(box, fill=fill)
    elif shape == "square":
        d.rectangle(box, fill=fill)
    elif shape == "triangle":
        d.polygon([(16, 5), (27, 27), (5, 27)], fill=fill)
    else:
        d.rectangle((4, 13, 28, 19), fill=fill)
    return np.asarray(im)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory, text_encoder) -> Path:
    """60 drawn shapes in 3 styles x 5 colours x 4 shapes, captioned like the real data."""
    root = tmp_path_factory.mktemp("data")
    images, meta = [], []
    for style, noun in STYLES.items():
        for colour, rgb in COLOURS.items():
            for shape in SHAPES:
                images.append(draw(shape, rgb))
                concept = f"{colour} {shape}"
                meta.append({"set": f"synthetic-{style}", "name": concept.replace(" ", "-"),
                             "caption": f"{concept} {noun}", "alt": [shape, colour],
                             "style": style, "concept": concept,
                             "split": "test" if shape == "bar" and colour == "red" else "train"})
    np.save(root / "images32.npy", np.stack(images))
    (root / "meta.jsonl").write_text("".join(json.dumps(m) + "\n" for m in meta))
    from t2i_core.training.captions import embed_captions

    embed_captions(root, encoder=text_encoder)
    return root
