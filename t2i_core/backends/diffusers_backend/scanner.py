"""Scan a models folder: diffusers folders and single-file ``.safetensors`` checkpoints.

Layout (one level deep; sub-folders group models, ``loras/`` holds adapters)::

    models/
      my-sd15.safetensors           single-file checkpoint (A1111 / ComfyUI layout)
      my-sd15.yaml                  optional A1111 sidecar (SD 2.x: v or epsilon prediction)
      sdxl-base/model_index.json    a diffusers folder
      anime/other.safetensors       id "anime/other"
      loras/ink.safetensors         an adapter (see lora.py)

Pickle checkpoints are refused: unpickling runs whatever code the file carries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from t2i_core.backends.diffusers_backend.detect import (
    Detected,
    Header,
    detect_folder,
    detect_single_file,
    load_model_index,
    read_header,
    read_headers,
)
from t2i_core.backends.diffusers_backend.hashing import HashCache
from t2i_core.errors import T2IError

log = logging.getLogger("t2i.diffusers")
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")
LORA_DIR = "loras"
SKIP_DIRS = {LORA_DIR, "vae", "embeddings", "tokenizers", ".cache"}
# Parts a pipeline runs without: old SD 1.x folders often ship the safety checker as a pickle
OPTIONAL_PARTS = {"safety_checker", "feature_extractor"}


@dataclass
class ModelEntry:
    id: str
    path: Path
    layout: str  # "folder" or "file"
    detected: Detected
    hash: str
    header: Header | None = None  # single files: names, shapes, metadata
    stamp: tuple = ()  # stamp_of(path) when scanned: a change means rescan and re-hash

    @property
    def changed(self) -> bool:
        """The file (or a file of the folder) was replaced, edited, added or removed since the
        scan: its hash, family and weights may all differ now."""
        return stamp_of(self.path) != self.stamp

    @property
    def family(self) -> str:
        return self.detected.family


@dataclass
class ScanResult:
    models: list[ModelEntry] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # path -> why, what to do


def pickle_message(path: Path) -> str:
    target = path.with_suffix(".safetensors").name
    return (f"{path.name} is a pickle checkpoint: loading it would run any code it carries, so "
            "t2i-studio never opens it. Convert it once to safetensors with a trusted tool, e.g. "
            "`python -c \"import torch, safetensors.torch as st; "
            f"sd = torch.load('{path.name}', map_location='cpu', weights_only=True); "
            "sd = sd.get('state_dict', sd); st.save_file({k: v.contiguous() for k, v in "
            f"sd.items() if isinstance(v, torch.Tensor)}}, '{target}')\"` (weights_only=True "
            "refuses files that carry code), or use the safetensors version its author "
            "publishes; then remove the pickle from the models folder")


def scan(models_dir: Path, hashes: HashCache,
         known: dict[Path, ModelEntry] | None = None) -> ScanResult:
    """Every usable model under ``models_dir``; everything refused, with the reason.
    ``known``: the last scan's entries by path; one whose stamp is unchanged is reused without
    reading its header again (a rescan then costs a ``stat`` per file)."""
    result = ScanResult()
    if not models_dir.is_dir():
        raise T2IError("models_dir_missing", f"models folder {models_dir} does not exist; "
                       "create it and put .safetensors checkpoints or diffusers folders in it")
    seen: set[str] = set()
    for path in _candidates(models_dir):
        rel = path.relative_to(models_dir)
        old = (known or {}).get(path)
        try:
            if old is not None and stamp_of(path) == old.stamp:
                entry = replace(old, id=scan_id(models_dir, path))
            else:
                entry = scan_one(models_dir, path, hashes)
        except T2IError as e:
            result.refused[str(rel)] = e.message
            log.warning("models: skipping %s: %s", rel, e.message)
            continue
        if entry.id in seen:  # "x/" folder and "x.safetensors" side by side
            entry.id = rel.as_posix()
        seen.add(entry.id)
        result.models.append(entry)
    hashes.save()
    return result


def scan_id(models_dir: Path, path: Path) -> str:
    rel = path.relative_to(models_dir)
    return rel.as_posix() if path.is_dir() else rel.with_suffix("").as_posix()


def scan_one(models_dir: Path, path: Path, hashes: HashCache) -> ModelEntry:
    """The entry of one model file or folder (hashed, detected); ``T2IError`` if refused."""
    rel = path.relative_to(models_dir)
    stamp = stamp_of(path)  # before reading: a change while we read shows up next time
    if path.is_dir():
        entry = _folder_entry(path, rel, hashes)
    elif path.suffix.lower() in PICKLE_SUFFIXES:
        raise T2IError("pickle_refused", pickle_message(path))
    else:
        entry = _file_entry(path, rel, hashes)
    entry.stamp = stamp
    return entry


def stamp_of(path: Path) -> tuple:
    """Size and mtime of a file, or of every file in a folder (() when it is gone)."""
    try:
        if path.is_dir():
            return tuple((p.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns)
                         for p in sorted(path.rglob("*"))
                         if not p.name.startswith(".") and p.is_file()
                         and (st := p.stat()))
        st = path.stat()
        yaml = path.with_suffix(".yaml")  # an A1111 sidecar changes what the file is
        side = (yaml.stat().st_mtime_ns,) if yaml.is_file() else ()
    except OSError:
        return ()
    return (st.st_size, st.st_mtime_ns, *side)


def _candidates(root: Path) -> list[Path]:
    out: list[Path] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or p.name in SKIP_DIRS:
            continue
        if p.is_dir():
            if (p / "model_index.json").is_file():
                out.append(p)
            else:  # a grouping folder: one level more
                out.extend(c for c in sorted(p.iterdir()) if not c.name.startswith(".") and (
                    (c / "model_index.json").is_file() or _is_weights_file(c)))
        elif _is_weights_file(p):
            out.append(p)
    return out


def _is_weights_file(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES)


def _file_entry(path: Path, rel: Path, hashes: HashCache) -> ModelEntry:
    header = read_header(path)
    det = detect_single_file(path, header)
    return ModelEntry(rel.with_suffix("").as_posix(), path, "file", det, hashes.file(path),
                      header)


def _folder_entry(path: Path, rel: Path, hashes: HashCache) -> ModelEntry:
    index = load_model_index(path)
    for sub in (p for p in path.iterdir() if p.is_dir() and p.name not in OPTIONAL_PARTS):
        pickles = [f for f in sub.iterdir() if f.suffix.lower() in PICKLE_SUFFIXES]
        safes = [f for f in sub.iterdir() if f.suffix == ".safetensors"]
        if pickles and not safes:
            raise T2IError("pickle_refused", f"{rel}/{sub.name} has only pickle weights "
                           f"({pickles[0].name}); " + pickle_message(pickles[0]).split(": ", 1)[1])
    denoiser = next((path / d for d in ("unet", "transformer") if (path / d).is_dir()), None)
    files = sorted(denoiser.glob("*.safetensors")) if denoiser else []
    if not files:
        raise T2IError("incomplete_model", f"{rel} has no unet/ or transformer/ safetensors "
                       "weights; download the whole diffusers folder")
    det = detect_folder(path, index, read_headers(files))
    return ModelEntry(rel.as_posix(), path, "folder", det, hashes.folder(path))

