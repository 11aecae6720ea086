"""The history in-process: the uncompressed PNG written before a result is sent, and the
background pass that compresses it afterwards (bounded, error-proof, low priority)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2i_core.backends.base import Provenance
from t2i_core.png_info import save_png
from worker import history as H
from worker.history import History, write_stored_png, zlib_level


def icon(side: int = 96, seed: int = 0) -> np.ndarray:
    """Compressible like a real result: flat areas, a gradient, a noisy patch."""
    y, x = np.mgrid[0:side, 0:side]
    img = np.zeros((side, side, 4), np.uint8)
    img[..., 0], img[..., 1], img[..., 3] = x * 2, y * 2, 255
    img[side // 4: side // 2, side // 4: side // 2, :3] = np.random.default_rng(seed).integers(
        0, 255, (side // 4, side // 4, 3))
    return img


def prov(seed: int = 7, prompt: str = "a red apple") -> Provenance:
    return Provenance(prompt, "blurry", seed, 20, 3.0, 96, 96, "builtin", "builtin", "ab" * 32)


def chunks_and_pixels(path: str | Path) -> tuple[dict, np.ndarray]:
    with Image.open(path) as im:
        im.verify()  # every CRC, and the chunk layout
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGBA"
        return dict(im.text), np.asarray(im).copy()


def test_saved_png_is_valid_uncompressed_and_has_both_chunks(tmp_path):
    """What a client that crashes right after the result finds: a complete PNG whose text
    chunks equal those of t2i_core.png_info.save_png (tEXt, and iTXt for non-Latin-1)."""
    for prompt in ("a red apple", "a café ☕ with ünïcode"):
        img, p = icon(), prov(prompt=prompt)
        (path,) = History(tmp_path).save("r.1", [img], [p], {"worker_session": "s"})
        assert zlib_level(path) == 0  # stored blocks: no compression work before the send
        text, pixels = chunks_and_pixels(path)
        ref = save_png(tmp_path / "ref.png", img, p)
        assert text == chunks_and_pixels(ref)[0]
        assert text["parameters"] == p.a1111_parameters()
        assert json.loads(text["t2i-provenance"]) == p.to_dict()
        assert np.array_equal(pixels, img)
        sidecar = json.loads(Path(path[:-4] + ".json").read_text(encoding="utf-8"))
        assert sidecar["provenance"] == p.to_dict() and sidecar["worker_session"] == "s"


@pytest.mark.parametrize("shape", [(1, 1, 4), (3, 5, 4), (130, 260, 4)])  # 130x260 > 64 KiB
def test_stored_png_any_size(tmp_path, shape):
    img = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
    write_stored_png(tmp_path / "x.png", img, {"k": "v"})
    text, pixels = chunks_and_pixels(tmp_path / "x.png")
    assert text == {"k": "v"} and np.array_equal(pixels, img)
    with pytest.raises(ValueError, match="H, W, 4"):
        write_stored_png(tmp_path / "y.png", img[..., :3], {})


def test_background_pass_shrinks_keeps_chunks_and_pixels(tmp_path):
    h = History(tmp_path)
    imgs, provs = [icon(seed=i) for i in range(3)], [prov(seed=i) for i in range(3)]
    paths = h.save("r.2", imgs, provs)
    before = {p: (Path(p).stat().st_size, chunks_and_pixels(p)) for p in paths}
    sidecars = {p: Path(p[:-4] + ".json").read_bytes() for p in paths}
    h.compact_later(paths)
    assert h.wait_drained(30)
    assert h.stats() | {"compact_cpu_s": 0} == {"pending": 0, "compacted": 3, "skipped": 0,
                                                 "failed": 0, "compact_cpu_s": 0}
    for p, img in zip(paths, imgs, strict=True):
        size, (text, pixels) = before[p]
        assert Path(p).stat().st_size < size / 3
        assert zlib_level(p) == 2  # Pillow's default level 6
        assert chunks_and_pixels(p)[0] == text and np.array_equal(chunks_and_pixels(p)[1], img)
        assert np.array_equal(pixels, img)
        assert Path(p[:-4] + ".json").read_bytes() == sidecars[p]
    assert not list(tmp_path.rglob("*.tmp"))
    if sys.platform.startswith("linux"):  # the compaction thread runs at nice 19
        tid = h._thread.native_id
        assert int(Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1]
                   .split()[16]) == 19
    assert h.close() == 0


def test_bad_files_are_logged_and_skipped(tmp_path, caplog):
    h = History(tmp_path)
    good, broken = h.save("r.3", [icon(), icon(seed=1)], [prov(1), prov(2)])
    Path(broken).write_bytes(b"not a png at all")
    h.compact_later([str(tmp_path / "gone.png"), broken, good])
    assert h.wait_drained(30)
    stats = h.stats()
    assert (stats["compacted"], stats["failed"]) == (1, 2)
    assert zlib_level(good) == 2 and Path(broken).read_bytes() == b"not a png at all"
    assert "could not compress history image" in caplog.text
    assert h._thread.is_alive()  # still serving
    h.compact_later(h.save("r.4", [icon()], [prov()]))
    assert h.wait_drained(30) and h.stats()["compacted"] == 2
    h.close()


def test_queue_is_bounded_and_compact_later_never_blocks(tmp_path, monkeypatch):
    gate = threading.Event()
    real = H.compact_png
    monkeypatch.setattr(H, "compact_png", lambda path, level: (gate.wait(30), real(path, level)))
    h = History(tmp_path, queue_limit=2)
    paths = h.save("r.5", [icon(seed=i) for i in range(5)], [prov(i) for i in range(5)])
    t = time.monotonic()
    h.compact_later(paths)  # the compactor is stuck on the first file
    assert time.monotonic() - t < 1.0
    assert h.stats()["pending"] == 2 and h.stats()["skipped"] == 3
    gate.set()
    assert h.wait_drained(30)
    assert [zlib_level(p) for p in paths] == [2, 2, 0, 0, 0]  # the rest: valid, uncompressed
    assert all(np.array_equal(chunks_and_pixels(p)[1], icon(seed=i))
               for i, p in enumerate(paths))
    h.close()


def test_close_stops_within_its_timeout_and_leaves_valid_files(tmp_path, monkeypatch):
    real = H.compact_png
    monkeypatch.setattr(H, "compact_png", lambda path, level: (time.sleep(0.3),
                                                                real(path, level)))
    h = History(tmp_path)
    paths = h.save("r.6", [icon(seed=i) for i in range(4)], [prov(i) for i in range(4)])
    h.compact_later(paths)
    t = time.monotonic()
    left = h.close(timeout=0.1)
    assert time.monotonic() - t < 2.0 and 1 <= left <= 4  # 4: never got the CPU in time
    for p in paths:  # compressed or not, every file is whole
        chunks_and_pixels(p)
    h.compact_later(paths)  # after close: ignored
    assert h.stats()["pending"] == left


def test_background_pass_waits_while_the_runner_is_busy(tmp_path):
    """No compression during a job, nor in the short gap before a back-to-back one."""
    h = History(tmp_path, idle_grace=1.0)
    h.set_busy(True)
    paths = h.save("r.7", [icon(seed=i) for i in range(2)], [prov(i) for i in range(2)])
    h.compact_later(paths)
    time.sleep(1.5)
    assert h.stats()["pending"] == 2 and all(zlib_level(p) == 0 for p in paths)
    h.set_busy(False)
    time.sleep(0.3)  # inside the grace period: a next job may still come
    assert h.stats()["pending"] == 2
    assert h.wait_drained(30) and all(zlib_level(p) == 2 for p in paths)
    h.close()
