"""Every finished image goes to disk before it goes on the wire, so a client crash loses nothing.

Layout: ``<history>/<YYYY-MM-DD>/<HHMMSS>-<request id>-<index>-s<seed>.png`` with the A1111
"parameters" text chunk (readable by A1111, ComfyUI, civitai and exiftool) and a
``t2i-provenance`` chunk (the chunks of ``t2i_core.png_info.save_png``), plus a ``.json``
sidecar with the full provenance. Files are written to a temporary name and renamed, so a
crash mid-write never leaves a half file.

Two steps, so that the history costs the request almost nothing:

1. ``save`` (on the runner, before the result is sent) writes an *uncompressed* PNG: no row
   filters, zlib stored blocks. That is one copy, two checksums and the write (~2 ms for
   512x512 on a busy 2-core machine, where Pillow needs ~15 ms even at level 0 -- choosing
   row filters -- and ~20 ms at level 1). The file is a complete, valid PNG with both text
   chunks, just ~3-8x bigger than it will end up.
2. ``compact_later`` (after the result is sent) queues the paths for one background thread
   that re-encodes each file with Pillow at ``compress_level`` 6, again temp file + rename,
   same name, same text chunks, same pixels. It starts a file only once the runner has been
   idle for ``idle_grace`` seconds (``set_busy``), runs at the lowest CPU priority (nice 19,
   Linux; zlib releases the GIL), the queue is bounded (when it is full a file is simply
   left uncompressed), and a file that cannot be read or written is logged and skipped.
   ``close`` (clean worker shutdown) keeps compacting for at most ``timeout`` seconds and
   then leaves the rest: those files are valid PNGs either way, only bigger. A crash at any
   point leaves every image readable. Nothing re-scans old files later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import struct
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

log = logging.getLogger("worker.history")
ENV_VAR = "T2I_HISTORY_DIR"
COMPACT_LEVEL = 6  # Pillow's default: ~20 % smaller than level 1 (3.5x its CPU), off the path
QUEUE_LIMIT = 256  # images waiting for compaction; beyond that they stay uncompressed
IDLE_GRACE = 0.25  # compact only once the runner has been idle this long (s)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def default_history_dir() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "t2i-studio" / "history"


class History:
    def __init__(self, root: Path, compress_level: int = COMPACT_LEVEL,
                 queue_limit: int = QUEUE_LIMIT, idle_grace: float = IDLE_GRACE) -> None:
        self.root = root
        self.compress_level = compress_level
        self.queue_limit = queue_limit
        self.idle_grace = idle_grace
        self._busy = False  # the runner is running a job (set_busy)
        self._idle_since = time.monotonic()
        self._queue: queue.Queue[str | None] = queue.Queue()  # bounded by compact_later
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending = 0  # queued + being compacted
        self._stop_at: float | None = None
        self.compacted = self.skipped = self.failed = 0
        self.compact_cpu_s = 0.0

    # --- step 1: on the runner, before the result is sent ------------------------------------

    def save(self, request_id: str, images: list[Any], provenance: list[Any],
             extra: dict | None = None, svgs: list[str] | None = None) -> list[str]:
        """Write each (H, W, 4) uint8 image with its ``Provenance`` as an uncompressed PNG
        plus its JSON sidecar (and a vector result's drawing as ``.svg`` beside them);
        returns the PNG paths (pass them to ``compact_later``)."""
        now = time.time()
        day = self.root / time.strftime("%Y-%m-%d", time.localtime(now))
        day.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%H%M%S", time.localtime(now))
        safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", request_id)[:64]  # no dots: suffixes
        if len(images) != len(provenance):
            raise ValueError(f"{len(images)} images but {len(provenance)} provenance records")
        paths = []
        for i, (img, prov) in enumerate(zip(images, provenance, strict=True)):
            # Names differ by index within a request; one runner thread saves at a time.
            stem = _unique(day / f"{stamp}-{safe_id}-{i}-s{prov.seed}")
            png = stem.with_name(stem.name + ".png")
            text = {"parameters": prov.a1111_parameters(),  # as t2i_core.png_info.save_png
                    "t2i-provenance": json.dumps(prov.to_dict())}
            _atomic(png, lambda p, img=img, text=text: write_stored_png(p, img, text))
            sidecar = {"image": png.name, "request_id": request_id, "index": i,
                       "created": now, "provenance": prov.to_dict(), **(extra or {})}
            if svgs and i < len(svgs):
                svg_path = stem.with_name(stem.name + ".svg")
                _atomic(svg_path, lambda p, t=svgs[i]: Path(p).write_text(t, encoding="utf-8"))
                sidecar["svg"] = svg_path.name
            _atomic(stem.with_name(stem.name + ".json"), lambda p, s=sidecar: Path(p).write_text(
                json.dumps(s, indent=2, ensure_ascii=False), encoding="utf-8"))
            paths.append(str(png))
        return paths

    # --- step 2: in the background, after the result is sent ---------------------------------

    def compact_later(self, paths: list[str]) -> None:
        """Queue PNGs for re-encoding at ``compress_level``. Never blocks."""
        with self._cond:
            if self._stop_at is not None:
                return
            for path in paths:
                if self._pending >= self.queue_limit:
                    self.skipped += 1
                    log.warning("history compaction queue full: %s stays uncompressed", path)
                    continue
                self._pending += 1
                self._queue.put(path)
            if self._thread is None and self._pending:
                self._thread = threading.Thread(target=self._compact_loop, daemon=True,
                                                name="t2i-history-compact")
                self._thread.start()

    def set_busy(self, busy: bool) -> None:
        """The runner calls this around every job. The background pass starts a file only
        once the runner has been idle for ``idle_grace`` seconds, so it does not take CPU from
        generations, not even from back-to-back or as-you-type ones (the file under way when
        a job starts is finished). Never blocks for long: a lock and a notify."""
        with self._cond:
            self._busy = busy
            if not busy:
                self._idle_since = time.monotonic()
            self._cond.notify_all()

    def wait_drained(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or being compacted (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stats(self) -> dict:
        with self._cond:
            return {"pending": self._pending, "compacted": self.compacted,
                    "skipped": self.skipped, "failed": self.failed,
                    "compact_cpu_s": round(self.compact_cpu_s, 4)}

    def close(self, timeout: float = 2.0) -> int:
        """Stop the background pass: keep compacting for at most ``timeout`` seconds, then
        leave the rest uncompressed (valid PNGs, just bigger). Returns how many were left."""
        with self._cond:
            if self._stop_at is None:
                self._stop_at = time.monotonic() + timeout
                self._queue.put(None)
                self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout + 1.0)
        with self._cond:
            left = self._pending
        if left:
            log.info("%d history image(s) left uncompressed (valid PNGs, just bigger)", left)
        return left

    def _compact_loop(self) -> None:
        _lower_thread_priority()
        while (path := self._queue.get()) is not None:
            if not self._wait_until_idle():
                break  # shutting down: the rest stay uncompressed, still valid
            t = time.thread_time()
            ok = False
            try:
                compact_png(Path(path), self.compress_level)
                ok = True
            except Exception as e:  # noqa: BLE001 - a bad file is skipped, the thread lives on
                log.warning("could not compress history image %s: %s", path, e)
            with self._cond:
                self.compact_cpu_s += time.thread_time() - t
                if ok:
                    self.compacted += 1
                else:
                    self.failed += 1
                self._pending -= 1
                self._cond.notify_all()

    def _wait_until_idle(self) -> bool:
        """Until the runner has been idle for ``idle_grace`` (no grace once closing);
        False once ``close``'s deadline has passed."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._stop_at is not None and now > self._stop_at:
                    return False
                if not self._busy and (self._stop_at is not None
                                       or now - self._idle_since >= self.idle_grace):
                    return True
                waits = [self._stop_at - now] if self._stop_at is not None else []
                if not self._busy:
                    waits.append(self._idle_since + self.idle_grace - now)
                self._cond.wait(min(waits) if waits else None)


def write_stored_png(path: str | Path, rgba: Any, text: dict[str, str]) -> None:
    """An RGBA8 PNG with no row filters and zlib stored blocks: no compression work at all,
    just one copy, the two checksums and the write. Text chunks are encoded as Pillow's
    ``PngInfo.add_text`` does (tEXt if Latin-1, else uncompressed iTXt), before IDAT."""
    import numpy as np

    a = np.ascontiguousarray(rgba, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 4 or min(a.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W, 4) uint8 image, got shape {a.shape}")
    h, w = a.shape[:2]
    rows = np.zeros((h, 1 + 4 * w), np.uint8)  # filter byte 0 (None) on every row
    rows[:, 1:] = a.reshape(h, 4 * w)
    raw = memoryview(rows).cast("B")
    # A zlib stream of stored deflate blocks (65535 bytes each, a 5-byte header before each),
    # built by hand and written in place: zlib.compress(raw, 0) makes the same kind of stream
    # but runs it through its window (~4x the time of the adler32 alone), and copying the
    # blocks into one buffer costs more than the extra write calls.
    idat: list[bytes | memoryview] = [b"\x78\x01"]
    for start in range(0, len(raw), 0xFFFF):
        block = raw[start:start + 0xFFFF]
        final = start + 0xFFFF >= len(raw)
        idat += [struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF), block]
    idat.append(struct.pack(">I", zlib.adler32(raw)))
    with open(path, "wb") as f:
        f.write(PNG_SIGNATURE)
        _chunk(f, b"IHDR", [struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)])
        for key, value in text.items():
            k = key.encode("latin-1")
            try:
                _chunk(f, b"tEXt", [k + b"\0" + value.encode("latin-1")])
            except UnicodeEncodeError:
                _chunk(f, b"iTXt", [k + b"\0\0\0\0\0" + value.encode("utf-8")])
        _chunk(f, b"IDAT", idat)
        _chunk(f, b"IEND", [])


def compact_png(path: Path, level: int = COMPACT_LEVEL) -> None:
    """Re-encode a PNG at ``level`` in place (temp file + rename): same pixels, same mode,
    same text chunks."""
    from PIL import Image, PngImagePlugin

    with Image.open(path) as src:
        if src.format != "PNG":
            raise ValueError(f"not a PNG ({src.format})")
        text = dict(src.text)
        im = src.copy()  # the source file is closed before it is replaced (Windows)
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    _atomic(path, lambda p: im.save(p, format="PNG", pnginfo=info, compress_level=level))


def zlib_level(path: str | Path) -> int | None:
    """The FLEVEL hint of the first IDAT's zlib header: 0 for stored/fastest (what ``save``
    writes), 2 for Pillow's default level 6. None if there is no IDAT."""
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            raise ValueError(f"{path} is not a PNG")
        while header := f.read(8):
            length, kind = struct.unpack(">I4s", header)
            if kind == b"IDAT":
                return f.read(2)[1] >> 6
            f.seek(length + 4, os.SEEK_CUR)
    return None


def _chunk(f: Any, kind: bytes, parts: list[bytes | memoryview]) -> None:
    f.write(struct.pack(">I", sum(len(p) for p in parts)) + kind)
    crc = zlib.crc32(kind)
    for part in parts:
        f.write(part)
        crc = zlib.crc32(part, crc)
    f.write(struct.pack(">I", crc))


def _lower_thread_priority() -> None:
    """nice 19 for the calling thread only. Linux keeps the nice value per thread; elsewhere
    setpriority would apply to the whole process (or to another one), so leave it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # e.g. a seccomp sandbox
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _unique(stem: Path) -> Path:
    # Two requests can share an id across clients (ids are per client) within one second.
    candidate, n = stem, 1
    while candidate.with_name(candidate.name + ".png").exists():
        candidate = stem.with_name(f"{stem.name}-{n}")
        n += 1
    return candidate


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
