"""The user's folder: captions, skipped files, bad folders, adapter names."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from finetune_helpers import make_folder
from PIL import Image

from t2i_core.errors import T2IError
from t2i_core.finetune.dataset import STORE, check_folder, load_folder, words_from_filename
from t2i_core.finetune.library import AdapterLibrary, check_name


def test_captions_prefer_txt_then_file_name_then_trigger(tmp_path: Path):
    folder = make_folder(tmp_path / "f")
    Image.new("RGB", (32, 32), "white").save(folder / "0042.png")  # no words in the name
    data = load_folder(folder, trigger="zq style")
    by_file = dict(zip(data.files, data.captions, strict=True))
    sources = dict(zip(data.files, data.caption_source, strict=True))
    assert by_file["teal_square_0.png"] == "zq style, a teal square on paper"
    assert sources["teal_square_0.png"] == "txt"
    assert by_file["teal_circle_1.jpg"] == "zq style, teal circle"
    assert by_file["RedBlob.png"] == "zq style, red blob"
    assert by_file["0042.png"] == "zq style" and sources["0042.png"] == "trigger"
    assert words_from_filename("IMG_2024-05-01_sunsetBeach") == "img sunset beach"


def test_every_image_loads_rgba_square_and_bad_files_are_listed_not_fatal(tmp_path: Path):
    data = load_folder(make_folder(tmp_path / "f"))
    assert data.images.shape == (7, STORE, STORE, 4) and data.images.dtype == np.uint8
    blob = data.images[data.files.index("RedBlob.png")]
    assert blob[0, 0, 3] == 0 and blob[STORE // 2, STORE // 2, 3] == 255  # alpha kept
    skipped = {s.file: s.reason for s in data.skipped}
    assert skipped["notes.md"].startswith("not a PNG")
    assert skipped["empty.png"] == "empty file"
    assert "not a readable image" in skipped["broken.jpg"]
    assert skipped["sub"] == "not a regular file"
    assert "teal_square_0.txt" not in skipped  # a caption, not clutter
    assert len(data.fingerprint) == 64


def test_fingerprint_follows_content(tmp_path: Path):
    folder = make_folder(tmp_path / "f")
    a = load_folder(folder).fingerprint
    assert load_folder(folder).fingerprint == a
    assert load_folder(folder, trigger="x").fingerprint != a
    Image.new("RGB", (32, 32), "black").save(folder / "teal_circle_1.jpg")
    assert load_folder(folder).fingerprint != a


def test_empty_folder(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(T2IError) as e:
        load_folder(tmp_path / "empty")
    assert e.value.code == "folder_empty" and "empty" in e.value.message


def test_folder_of_non_images(tmp_path: Path):
    f = tmp_path / "docs"
    f.mkdir()
    (f / "a.txt").write_text("hello")
    (f / "b.pdf").write_bytes(b"%PDF-1.4")
    (f / "c.png").write_bytes(b"this is text, not a PNG")
    with pytest.raises(T2IError) as e:
        load_folder(f)
    assert e.value.code == "no_images"
    assert "a.txt" in e.value.message and "c.png" in e.value.message


def test_missing_path_and_file_path(tmp_path: Path):
    with pytest.raises(T2IError) as e:
        check_folder(tmp_path / "nope")
    assert e.value.code == "folder_not_found" and "does not exist" in e.value.message
    (tmp_path / "x.png").write_bytes(b"1")
    with pytest.raises(T2IError) as e:
        check_folder(tmp_path / "x.png")
    assert e.value.code == "not_a_folder"


def test_unreadable_folder():
    """chmod 000. Root reads everything, so under root the check runs with the effective
    user 'nobody' (seteuid, restored after); a readable control folder proves it is the
    permission that fails."""
    base = Path(tempfile.mkdtemp(prefix="t2i-unreadable-"))
    try:
        base.chmod(0o755)
        readable = make_folder(base / "open")
        locked = make_folder(base / "locked")
        for p in (readable, *readable.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
        locked.chmod(0o000)
        as_nobody = os.geteuid() == 0
        if as_nobody:
            os.seteuid(65534)
        try:
            assert check_folder(readable) == readable.resolve()
            with pytest.raises(T2IError) as e:
                load_folder(locked)
        finally:
            if as_nobody:
                os.seteuid(0)
        assert e.value.code == "folder_unreadable" and "cannot be read" in e.value.message
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("name", ["../x", "..", "a/b", "/etc/passwd", "a\\b", ".hidden", "",
                                  "x" * 65, "ok.safetensors", "a..b", "na\nme", "x\x00"])
def test_names_that_escape_or_are_not_plain_are_refused(name: str):
    with pytest.raises(T2IError) as e:
        check_name(name)
    assert e.value.code == "bad_name" and "allowed" in e.value.message


def test_existing_name_is_versioned_never_overwritten(tmp_path: Path):
    lib = AdapterLibrary(tmp_path)
    assert lib.free_name("ink") == "ink"
    (tmp_path / "ink.safetensors").write_bytes(b"mine")
    (tmp_path / "ink-2.safetensors").write_bytes(b"mine too")
    assert lib.free_name("ink") == "ink-3"
    assert lib.names() == ["ink", "ink-2"]
    assert (tmp_path / "ink.safetensors").read_bytes() == b"mine"
