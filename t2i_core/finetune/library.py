"""The adapter library: one folder of ``<name>.safetensors`` LoRA adapters.

- Where: ``$T2I_ADAPTER_DIR``, else ``$XDG_DATA_HOME/t2i-studio/adapters`` (default
  ``~/.local/share/t2i-studio/adapters``); a backend can be given another folder.
- Names are what the user typed, checked once here: letters, digits, space, ``_ . -``, at
  most 64 characters, not starting with a dot. A name can never leave the folder (``../x``,
  ``a/b``, absolute paths are refused with a message saying what is allowed).
- An existing name is never overwritten: the new adapter becomes ``name-2`` (``-3``, ...),
  and the result says so.
- Unfinished runs live in ``.runs/<name>/`` (checkpoints, the run's settings); a run is
  resumed when the same request comes again (same folder content, same settings).
- Files appear atomically (temp file + rename), so a lister never sees half an adapter.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from t2i_core.errors import T2IError

ADAPTER_EXT = ".safetensors"
RUNS = ".runs"
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _.\-]{0,63}")
FORMAT = "t2i-studio-lora-1"


def default_adapter_dir() -> Path:
    env = os.environ.get("T2I_ADAPTER_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "t2i-studio" / "adapters"


def check_name(name: str) -> str:
    """The adapter name, stripped; ``T2IError`` ``bad_name`` if it is not a plain file name."""
    if not isinstance(name, str):
        raise T2IError("bad_name", "the adapter name must be text")
    clean = name.strip()
    if (not NAME_RE.fullmatch(clean) or clean.endswith(".") or ".." in clean
            or clean.lower().endswith(ADAPTER_EXT)):
        raise T2IError("bad_name", f"adapter name {name!r} is not allowed; use 1-64 letters, "
                       "digits, spaces, '_', '-' or '.', starting with a letter or digit "
                       "(no '/', '\\' or '..'), e.g. 'ink-style'")
    return clean


@dataclass
class AdapterInfo:
    name: str
    path: Path
    meta: dict


class AdapterLibrary:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_adapter_dir()

    def path_of(self, name: str) -> Path:
        name = check_name(name)
        path = (self.root / f"{name}{ADAPTER_EXT}").resolve()
        if path.parent != self.root.resolve():  # belt and braces after check_name
            raise T2IError("bad_name", f"adapter name {name!r} would leave the adapter folder")
        return path

    def run_dir(self, name: str) -> Path:
        return self.root / RUNS / check_name(name)

    def exists(self, name: str) -> bool:
        return self.path_of(name).exists()

    def candidates(self, name: str):
        """``name``, then ``name-2``, ``name-3``, ... (at most 10,000)."""
        name = check_name(name)
        yield name
        stem = name[:60]
        for i in range(2, 10000):
            yield f"{stem}-{i}"

    def free_name(self, name: str) -> str:
        """``name`` if no adapter has it, else the first free ``name-2``, ``name-3``, ..."""
        for candidate in self.candidates(name):
            if not self.exists(candidate):
                return candidate
        raise T2IError("name_taken", f"too many adapters named {name}-N; pick another name")

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name[: -len(ADAPTER_EXT)] for p in self.root.iterdir()
                      if p.name.endswith(ADAPTER_EXT) and not p.name.startswith(".")
                      and p.is_file())

    def info(self, name: str) -> AdapterInfo:
        path = self.path_of(name)
        if not path.is_file():
            installed = ", ".join(self.names()) or "none"
            raise T2IError("lora_not_found", f"adapter '{name}' not found in {self.root}; "
                           f"installed: {installed}")
        return AdapterInfo(name, path, read_metadata(path))


def read_metadata(path: Path) -> dict:
    """The adapter's metadata: our JSON under ``t2i`` merged over the raw string keys (so a
    kohya-style file from another backend reads too)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = dict(f.metadata() or {})
    except Exception as e:  # safetensors raises several types for a damaged file
        raise T2IError("lora_corrupt", f"the adapter file {path} is damaged "
                       f"({type(e).__name__}); delete it and train again") from e
    try:
        ours = json.loads(raw.pop("t2i", "{}"))
    except ValueError:
        ours = {}
    return {**raw, **(ours if isinstance(ours, dict) else {})}
