"""The Blender add-on's parts that need no Blender: pixels, names, provenance, the session
with a real worker (``slow_worker``: conftest.py). The zip is test_blender_addon_zip.py."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from array import array
from pathlib import Path

import pytest

from plugin.hosts.blender import pixels
from plugin.hosts.blender.provenance import (
    image_name,
    provenance_from_properties,
    provenance_properties,
)

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "worker"))
from worker_helpers import QUIET_ENV  # noqa: E402

# --- pixels ------------------------------------------------------------------------------


def test_worker_rows_become_blender_rows_bottom_up():
    top_down = bytes(range(24))  # 2 wide, 3 high
    values = pixels.rgba8_to_blender(top_down, 2, 3)
    assert [round(v * 255) for v in values[:8]] == list(top_down[16:24])  # last row first
    assert [round(v * 255) for v in values[16:]] == list(top_down[:8])


def test_every_byte_round_trips_exactly_through_float32():
    data = bytes(range(256)) * 4  # every value in every channel, 16 x 16
    values = array("f", pixels.rgba8_to_blender(data, 16, 16))  # what Blender stores: float32
    assert pixels.blender_to_rgba8(values, 16, 16) == data
    doubles = [v + 1e-9 for v in values]  # not float32 bytes (e.g. set by a script)
    assert pixels.blender_to_rgba8(doubles, 16, 16) == data
    noise = random.Random(1).randbytes(7 * 5 * 4)
    assert pixels.blender_to_rgba8(pixels.rgba8_to_blender(noise, 7, 5), 7, 5) == noise


def test_float_images_are_converted_from_linear_premultiplied_to_srgb():
    half_srgb = ((0.5 + 0.055) / 1.055) ** 2.4  # linear value of sRGB 0.5
    values = [half_srgb * 0.5, 0.0, 1.0 * 0.5, 0.5,  # premultiplied by alpha 0.5
              0.3, 0.3, 0.3, 0.0]                    # alpha 0: colour kept as is
    out = pixels.blender_to_rgba8(values, 2, 1, linear_premultiplied=True)
    assert list(out[:4]) == [128, 0, 255, 128]
    assert out[7] == 0


def test_wrong_pixel_count_is_a_clear_error():
    with pytest.raises(ValueError, match="needs 16 bytes"):
        pixels.flip_rows(b"\0" * 15, 2, 2)
    with pytest.raises(ValueError, match="needs 16 values"):
        pixels.blender_to_rgba8([0.0] * 3, 2, 2)


# --- names and provenance -----------------------------------------------------------------


def test_image_names_come_from_the_prompt():
    assert image_name("a (red:1.2) apple", 7) == "a red apple s7"
    assert image_name("   ", 0) == "t2i image s0"
    assert image_name("яблоко / <house>", 3) == "яблоко house s3"
    long = image_name("a very detailed isometric illustration of a small wooden house", 5)
    assert long == "a very detailed isometric illustration s5"
    assert len(image_name("ж" * 100, 2**31).encode()) <= 63


def test_provenance_properties_are_blender_safe_and_round_trip():
    prov = {"prompt": "a cat", "seed": 2**40, "steps": 20, "guidance": 3.0, "strength": None,
            "loras": [{"name": "ink", "weight": 0.8}], "mode": "txt2img", "tiled": True}
    props = provenance_properties(prov, {"history": "/h/1.png"})
    assert provenance_from_properties(props) == prov
    assert props["t2i_seed"] == str(2**40)  # Blender ints are 32-bit
    assert props["t2i_steps"] == 20 and props["t2i_tiled"] == 1
    assert "t2i_strength" not in props  # None has no custom-property form
    assert json.loads(props["t2i_loras"]) == prov["loras"]
    assert props["t2i_history"] == "/h/1.png"
    assert all(isinstance(v, str | int | float) for v in props.values())
    assert provenance_from_properties({"t2i_provenance": "not json"}) is None


# --- the session, with a real worker ------------------------------------------------------


def _poll_until(session, job, timeout=60.0):
    deadline = time.monotonic() + timeout
    finished = []
    while job.active and time.monotonic() < deadline:
        finished += session.poll()
        time.sleep(0.02)
    finished += session.poll()
    assert not job.active, f"job still {job.state} after {timeout} s"
    return finished


def test_generate_settings_follow_the_models_defaults_until_the_user_changes_them():
    from types import SimpleNamespace

    from plugin.hosts.blender.model_defaults import (
        mark_changed,
        request_fields,
        show_defaults,
        use_defaults,
    )
    from worker.replies import GenerateDefaults, ModelEntry

    sd = ModelEntry("sd15", sizes=[256, 512], default_size=512,
                    generate_defaults=GenerateDefaults(25, 7.0, 512, 512, "euler"))
    icons = ModelEntry("builtin", sizes=[32, 64, 128], default_size=128)

    class Settings(SimpleNamespace):  # Blender calls the update callback on every set
        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            if name in ("steps", "guidance", "size"):
                mark_changed(self, name)

    s = Settings(steps=20, guidance=3.0, size="128", steps_set=False, guidance_set=False,
                 size_set=False)
    show_defaults(s, sd)  # the add-on's own change: not the user's
    assert (s.steps, s.guidance, s.size) == (25, 7.0, "512")
    assert request_fields(s) == {"steps": None, "guidance": None, "width": None,
                                 "height": None}
    s.steps = 30  # the user's: sent, and kept when the model changes
    s.size = "256"
    show_defaults(s, icons)  # 256 px is not an icon size: the model's own again
    assert (s.steps, s.guidance, s.size) == (30, 3.0, "128")
    assert request_fields(s) == {"steps": 30, "guidance": None, "width": None,
                                 "height": None}
    use_defaults(s, icons)
    assert s.steps == 20 and request_fields(s)["steps"] is None


def test_settings_errors_say_what_to_set(tmp_path):
    from plugin.hosts.blender.link import SettingsError
    from plugin.hosts.blender.session import ConnectionSettings, client_kwargs

    def kwargs(**settings):
        return client_kwargs(ConnectionSettings(**settings))

    nowhere = str(tmp_path / "none.json")
    with pytest.raises(SettingsError, match="No worker is running .*Worker Python") as e:
        kwargs(mode="shared", connection_file=nowhere)
    assert "Add-ons ▸ T2I Studio" in str(e.value) and "Blender's own" in str(e.value)
    with pytest.raises(SettingsError, match="not an executable file"):
        kwargs(mode="start", python=str(tmp_path))
    with pytest.raises(SettingsError, match="worker address"):
        kwargs(mode="endpoint", endpoint="localhost:1")
    with pytest.raises(SettingsError, match="cannot be read"):
        kwargs(mode="start", python=sys.executable, worker_args="--history-dir 'x")
    kw = kwargs(mode="start", python=sys.executable, worker_args="--threads 1")
    assert kw["spawn"] and kw["worker_args"] == ["--threads", "1"]
    assert kw["heartbeat_timeout"] == 10.0  # an editor's UI may hold the GIL for seconds


def test_shared_mode_uses_the_advertised_worker(slow_worker, tmp_path):
    from plugin.hosts.blender.session import ConnectionSettings, Session

    conn = slow_worker.log.with_name("worker.json")
    session = Session(ConnectionSettings(mode="shared", connection_file=str(conn)))
    try:
        assert session.client.spawn_allowed is False
        deadline = time.monotonic() + 30
        while not session.connected and time.monotonic() < deadline:
            session.poll()
            time.sleep(0.02)
        assert [m.id for m in session.models] == ["synthetic"]
        assert session.sizes("synthetic")
    finally:
        session.close()
    assert slow_worker.proc.poll() is None  # a shared worker is not ours to stop


def test_session_generates_cancels_and_reports_errors(slow_worker):
    from plugin.hosts.blender.link import GenerateParams
    from plugin.hosts.blender.session import ConnectionSettings, Session, job_summary

    session = Session(ConnectionSettings(mode="endpoint", endpoint=slow_worker.endpoint,
                                         token=slow_worker.token))
    try:
        job = session.submit(GenerateParams("a red apple", seed=3, steps=5, width=64,
                                            height=64, count=2, model="synthetic"),
                             init_image=(4, 2, bytes(range(32))))
        assert job.active  # submit never waits for the worker
        finished = _poll_until(session, job)
        assert job.state == "done" and job.step == job.total == 5
        assert (job, job.result) in finished
        assert [im.shape for im in job.result.images] == [(64, 64, 4)] * 2
        # converted for Blender on the client's thread, exactly the worker's bytes
        assert [pixels.blender_to_rgba8(f, 64, 64) for f in job.blender_pixels] == \
            [bytes(im.data) for im in job.result.images]
        assert job.result.body["provenance"][0]["mode"] == "img2img"

        slow = session.submit(GenerateParams("slow", steps=200, model="synthetic"))
        deadline = time.monotonic() + 30
        while slow.state != "running" and time.monotonic() < deadline:
            session.poll()
            time.sleep(0.01)
        assert session.cancel() == 1
        _poll_until(session, slow)
        assert slow.state == "cancelled" and slow.step < 200
        assert job_summary(slow) == "Cancelled"

        bad = session.submit(GenerateParams("x", model="nope"))
        _poll_until(session, bad)
        assert bad.state == "error" and bad.error_code == "model_not_found"
        assert "installed: synthetic" in bad.error and job_summary(bad).startswith("Error: ")
    finally:
        session.close()


def test_live_requests_debounce_and_the_last_request_wins(slow_worker):
    """Blender Live's rules without Blender (plugin/hosts/blender/live.py), on a real
    worker: edits within the debounce make one request; a newer request cancels the older
    one, whose late events are dropped; only the newest result is handed out."""
    from plugin.hosts.blender.link import GenerateParams
    from plugin.hosts.blender.live import DEBOUNCE_S, LiveRequests
    from plugin.hosts.blender.session import ConnectionSettings, Session

    session = Session(ConnectionSettings(mode="endpoint", endpoint=slow_worker.endpoint,
                                         token=slow_worker.token))

    def params(prompt: str) -> GenerateParams:  # 100 slow steps: the first is still running
        return GenerateParams(prompt, seed=2, steps=100 if prompt == "a" else 2, width=32,
                              height=32, model="synthetic")

    try:
        live = LiveRequests()
        assert live.want(params("a"), now=0.0) and not live.want(params("a"), now=0.01)
        assert live.tick(session, now=DEBOUNCE_S / 2) is None and live.sent == []
        assert live.tick(session, now=DEBOUNCE_S) is None  # sent now
        assert [p.prompt for p in live.sent] == ["a"]
        first = live.current
        time.sleep(0.3)  # the first request is running on the worker
        live.want(params("a c"), now=1.0)
        live.want(params("a cat"), now=1.02)  # within the debounce: replaces "a c"
        live.tick(session, now=1.02 + DEBOUNCE_S)
        assert [p.prompt for p in live.sent] == ["a", "a cat"] and live.cancelled == 1
        assert live.current is not first
        update, deadline = None, time.monotonic() + 60
        while update is None and time.monotonic() < deadline:
            update = live.tick(session)
            time.sleep(0.02)
        assert update is not None and update.provenance["prompt"] == "a cat"
        assert (update.width, update.height) == (32, 32) and len(update.floats) == 32 * 32 * 4
        deadline = time.monotonic() + 10
        while live.ignored_events == 0 and time.monotonic() < deadline:
            assert live.tick(session) is None  # the cancelled one never lands
            time.sleep(0.02)
        assert live.ignored_events >= 1 and not live.busy
    finally:
        session.close()


def test_start_mode_spawns_a_private_worker_and_stops_it(tmp_path):
    from plugin.hosts.blender.link import GenerateParams
    from plugin.hosts.blender.session import ConnectionSettings, Session

    os.environ.update(QUIET_ENV)
    session = Session(ConnectionSettings(
        mode="start", python=sys.executable,
        worker_args=f"--backend synthetic --history-dir '{tmp_path / 'h'}'"))
    try:
        job = session.submit(GenerateParams("a cat", model="synthetic", steps=2))
        _poll_until(session, job, timeout=90)
        assert job.state == "done", job.error
        proc = session.client.proc
        assert proc is not None and proc.poll() is None
        assert Path(job.result.body["history"][0]).is_file()
    finally:
        session.close()
    assert proc.wait(10) is not None


def test_an_interpreter_that_cannot_run_the_worker_is_reported():
    from plugin.hosts.blender.link import GenerateParams
    from plugin.hosts.blender.session import ConnectionSettings, Session

    session = Session(ConnectionSettings(mode="start", python="/bin/false"))
    try:
        job = session.submit(GenerateParams("a cat"))
        _poll_until(session, job, timeout=30)
        assert job.state == "error" and job.error_code == "worker_unavailable"
        assert "could not start the worker (/bin/false -m worker)" in session.connect_error
    finally:
        session.close()
