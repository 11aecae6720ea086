"""The user's image folder, read once and never modified.

Every regular file directly in the folder (no recursion: a folder of thousands is flat in
practice and a sub-folder is usually something else, e.g. an export) is either an image that
trains or a *skipped* entry with the reason, reported back to the user, never a crash:
not an image, unreadable, empty, too small. Captions, in order of preference:

1. a same-name ``.txt`` next to the image (``cat.png`` + ``cat.txt``), its first 300 chars;
2. the words of the file name (``red_house-02.png`` -> "red house"; digits and separators go);
3. the trigger phrase.

The trigger phrase, when given, is put in front of every caption ("inkwash, red house"), so
the user can call the style up by name later.

Images keep their alpha (premultiplied while resizing, like the built-in backend). Each one is
stored as a ``STORE`` px square (centre crop of the shorter side): the trainer crops and
flips from there (augmentation) or shrinks it whole to the model's 32 px.

The folder is only ever opened for reading (``open(..., "rb")``), and ``fingerprint`` hashes
its content so a run can tell whether it is resuming on the same data.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from t2i_core.errors import T2IError
from t2i_core.imaging import resize_rgba

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp"}
CAPTION_EXT = ".txt"
STORE = 40  # stored side: room for random crops around the 32 px the model sees
MIN_SIDE = 8
MIN_IMAGES = 1  # the "from 5" is a recommendation (see docs/finetune.md), not a wall
MAX_IMAGES = 20000
MAX_PIXELS = 8192 * 8192  # a decompression bomb is skipped, not decoded
MAX_CAPTION_CHARS = 300


@dataclass
class Skipped:
    file: str
    reason: str


@dataclass
class FolderData:
    folder: Path
    images: np.ndarray  # (N, STORE, STORE, 4) uint8 straight alpha
    captions: list[str]
    files: list[str]  # image file names, in the order of ``images``
    caption_source: list[str]  # "txt" | "filename" | "trigger" per image
    skipped: list[Skipped] = field(default_factory=list)
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.captions)

    def caption_summary(self) -> dict:
        words: dict[str, int] = {}
        for c in self.captions:
            for w in re.findall(r"[a-z]+", c.lower()):
                words[w] = words.get(w, 0) + 1
        top = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
        return {"images": len(self), "unique_captions": len(set(self.captions)),
                "from_txt": self.caption_source.count("txt"),
                "from_filename": self.caption_source.count("filename"),
                "from_trigger": self.caption_source.count("trigger"),
                "top_words": [w for w, _ in top], "example": self.captions[:3]}


def check_folder(folder: Path) -> Path:
    """Raise ``T2IError`` unless ``folder`` is a readable directory; returns it resolved."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise T2IError("folder_not_found", f"the folder {folder} does not exist; pick a folder "
                       "of PNG, JPEG or WebP images")
    if not folder.is_dir():
        raise T2IError("not_a_folder", f"{folder} is a file, not a folder; pick the folder "
                       "that holds your images")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise T2IError("folder_unreadable", f"the folder {folder} cannot be read (permission "
                       "denied); give your user read access or copy the images elsewhere")
    try:
        next(os.scandir(folder), None)
    except OSError as e:
        raise T2IError("folder_unreadable", f"the folder {folder} cannot be read ({e.strerror});"
                       " check it and try again") from e
    return folder.resolve()


def words_from_filename(stem: str) -> str:
    """``Red_House-02`` -> "red house"; camelCase splits; digits and symbols go."""
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)
    words = re.findall(r"[A-Za-z]+", s)
    return " ".join(w.lower() for w in words if len(w) > 1 or w.lower() == "a")


def load_folder(folder: Path, trigger: str = "") -> FolderData:
    """Read every image of ``folder`` (see the module doc). Raises ``T2IError`` when nothing
    in it can train, naming what was skipped and why."""
    folder = check_folder(folder)
    entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")),
                     key=lambda e: e.name)
    names = {e.name for e in entries}
    images, captions, files, sources, skipped = [], [], [], [], []
    digest = hashlib.sha256()
    trigger = trigger.strip()
    for entry in entries:
        path = Path(entry.path)
        ext = path.suffix.lower()
        if ext == CAPTION_EXT and any(path.stem + e in names for e in _ext_variants()):
            continue  # a caption, read with its image
        try:
            is_file = entry.is_file()
        except OSError:
            is_file = False
        if not is_file:
            skipped.append(Skipped(entry.name, "not a regular file"))
            continue
        if len(images) >= MAX_IMAGES:
            skipped.append(Skipped(entry.name, f"over the limit of {MAX_IMAGES} images"))
            continue
        try:
            data = _read(path)
        except OSError as e:
            skipped.append(Skipped(entry.name, f"unreadable: {e.strerror or e}"))
            continue
        if not data:
            skipped.append(Skipped(entry.name, "empty file"))
            continue
        if ext not in IMAGE_EXTS:
            skipped.append(Skipped(entry.name, "not a PNG, JPEG or WebP image"))
            continue
        try:
            rgba = decode_square(data)
        except ValueError as e:
            skipped.append(Skipped(entry.name, str(e)))
            continue
        digest.update(entry.name.encode() + b"\0" + hashlib.sha256(data).digest())
        caption, source = _caption(path, names, trigger, skipped)
        images.append(rgba)
        captions.append(caption)
        files.append(entry.name)
        sources.append(source)
    if not images:
        if not entries:
            raise T2IError("folder_empty", f"the folder {folder} is empty; put at least 5 "
                           "PNG, JPEG or WebP images in it (20 or more work best)")
        listed = "; ".join(f"{s.file}: {s.reason}" for s in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise T2IError("no_images", f"no usable image in {folder}: {listed}{more}; put PNG, "
                       "JPEG or WebP images in it")
    digest.update(trigger.encode())
    return FolderData(folder, np.stack(images), captions, files, sources, skipped,
                      digest.hexdigest())


def _ext_variants() -> list[str]:
    return [e for ext in IMAGE_EXTS for e in (ext, ext.upper())]


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:  # read-only, always
        return f.read()


def _caption(path: Path, names: set[str], trigger: str,
             skipped: list[Skipped]) -> tuple[str, str]:
    text, source = "", ""
    txt = path.with_suffix(CAPTION_EXT)
    if txt.name in names:
        try:
            text = _read(txt).decode("utf-8", errors="replace").strip()
            text = " ".join(text.split())[:MAX_CAPTION_CHARS]
            source = "txt" if text else ""
        except OSError as e:
            skipped.append(Skipped(txt.name, f"caption unreadable ({e.strerror}); used the "
                                   "file name instead"))
    if not text:
        text = words_from_filename(path.stem)
        source = "filename" if text else ""
    if not text:
        return trigger or "an image", "trigger"
    return (f"{trigger}, {text}" if trigger and trigger.lower() not in text.lower()
            else text), source


def decode_square(data: bytes, side: int = STORE) -> np.ndarray:
    """Image bytes -> (side, side, 4) uint8: centre crop of the shorter side, premultiplied
    resize. Raises ``ValueError`` with a reason a person can read."""
    import io
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ValueError(f"too large ({im.width}x{im.height} pixels)")
                if min(im.size) < MIN_SIDE:
                    raise ValueError(f"too small ({im.width}x{im.height}; at least "
                                     f"{MIN_SIDE} px a side)")
                im.seek(0)  # the first frame of an animation
                rgba = np.asarray(im.convert("RGBA"))
    except ValueError:
        raise
    except (OSError, UnidentifiedImageError, Image.DecompressionBombWarning,
            Image.DecompressionBombError, SyntaxError) as e:
        raise ValueError(f"not a readable image ({type(e).__name__})") from e
    h, w = rgba.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return resize_rgba(rgba[top:top + s, left:left + s], side)


def hash_tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (tests: the folder is never modified)."""
    out = {}
    for root, _, names in os.walk(folder):
        for n in names:
            p = Path(root) / n
            out[str(p.relative_to(folder))] = hashlib.sha256(_read(p)).hexdigest()
    return out
