"""Content hashes of model files, cached by (path, size, mtime) so a rescan costs nothing.

A single file's hash is its SHA-256 (A1111 shows the first 10 hex digits as "Model hash").
A diffusers folder's hash is the SHA-256 of its sorted ``relative/path <file sha256>`` lines,
so renaming the folder keeps the hash and changing any weight or config changes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from t2i_core.content_hash import file_sha256

log = logging.getLogger("t2i.diffusers")


class HashCache:
    """A JSON file of ``{abs path: {size, mtime_ns, sha256}}``; stale entries are recomputed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = {}
        self.computed = 0  # how many files were hashed (not served from the cache): for tests
        self._saved_at = 0  # ``computed`` when last saved: nothing new, nothing to write
        if path is not None and path.is_file():
            try:
                self._entries = json.loads(path.read_text())
            except (OSError, ValueError):
                log.warning("hash cache %s is unreadable; rebuilding it", path)

    def file(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        with self._lock:
            e = self._entries.get(key)
            if e and e["size"] == st.st_size and e["mtime_ns"] == st.st_mtime_ns:
                return e["sha256"]
        digest = file_sha256(path)
        with self._lock:
            self.computed += 1
            self._entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                  "sha256": digest}
        return digest

    def folder(self, folder: Path) -> str:
        lines = []
        for p in sorted(folder.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                lines.append(f"{p.relative_to(folder).as_posix()} {self.file(p)}\n")
        return hashlib.sha256("".join(lines).encode()).hexdigest()

    def save(self) -> None:
        if self.path is None or (self._saved_at == self.computed and self.path.is_file()):
            return
        with self._lock:
            self._saved_at = self.computed
            data = json.dumps(self._entries, indent=0, sort_keys=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(data)
        tmp.replace(self.path)
