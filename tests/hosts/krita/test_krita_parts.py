"""The Krita plugin's parts that need no Krita: pixel order, the annotation format, the
worker settings, and the docker's content widget on a real worker (offscreen PySide6)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from plugin.hosts.krita.pixels import clip_rect, swap_red_blue
from plugin.hosts.krita.provenance import (
    PROVENANCE_TYPE,
    annotation_type,
    read_layers,
    with_layer,
)
from plugin.hosts.krita.settings import GROUP, SettingsError, WorkerSettings


def test_red_and_blue_swap_both_ways():
    rgba = bytes([1, 2, 3, 4, 250, 251, 252, 253])
    assert swap_red_blue(rgba) == bytes([3, 2, 1, 4, 252, 251, 250, 253])
    assert swap_red_blue(swap_red_blue(rgba)) == rgba
    with pytest.raises(ValueError, match="multiple of 4"):
        swap_red_blue(b"\x00" * 6)


def test_clip_rect_keeps_the_part_inside_the_canvas():
    assert clip_rect(-10, 5, 30, 30, 100, 20) == (0, 5, 20, 15)
    assert clip_rect(200, 0, 10, 10, 100, 100) is None


def test_provenance_table_adds_layers_and_tolerates_damage():
    raw = with_layer(None, "{a}", "apple", {"seed": 1})
    raw = with_layer(raw, "{b}", "star", {"seed": 2})
    assert read_layers(raw) == {"{a}": {"name": "apple", "provenance": {"seed": 1}},
                                "{b}": {"name": "star", "provenance": {"seed": 2}}}
    assert json.loads(raw)["version"] == 1
    for damaged in (b"", b"\xff\xfe", b"not json", b"[1]", b'{"layers": 3}'):
        assert read_layers(damaged) == {}
    assert read_layers(with_layer(b"garbage", "{c}", "c", {})) == {
        "{c}": {"name": "c", "provenance": {}}}


def test_annotation_types_are_safe_file_names():
    assert annotation_type("t2i-history") == "t2i-history"
    assert annotation_type("history") == "t2i-history"
    assert annotation_type("../x y") == "t2i-.._x_y"
    assert PROVENANCE_TYPE.startswith("t2i-")


class Store(dict):
    """Krita.readSetting/writeSetting over a dict (group, name) -> value."""

    def read(self, group: str, name: str, default: str) -> str:
        return self.get((group, name), default)

    def write(self, group: str, name: str, value: str) -> None:
        self[(group, name)] = value


def kwargs(settings: WorkerSettings, advertised: dict | None = None, conn=Path("/x/w.json")):
    return settings.client_kwargs(lambda: conn, lambda path: advertised)


def test_settings_round_trip_through_krita_settings():
    store = Store()
    s = WorkerSettings(mode="start", python="/p/python", worker_args="--threads 2")
    s.save(store.write)
    assert store[(GROUP, "python")] == "/p/python"
    assert WorkerSettings.load(store.read) == s
    assert WorkerSettings.load(Store().read) == WorkerSettings()  # defaults when unset


def test_settings_never_fall_back_to_krita_python(tmp_path):
    with pytest.raises(SettingsError, match="Worker Python") as e:
        kwargs(WorkerSettings())
    assert "No worker is running" in str(e.value) and "Krita's own" in str(e.value)
    with pytest.raises(SettingsError, match="not an executable file"):
        kwargs(WorkerSettings(mode="start", python=str(tmp_path / "missing")))
    plain = tmp_path / "python"
    plain.write_text("")
    with pytest.raises(SettingsError, match="not an executable file"):
        kwargs(WorkerSettings(mode="start", python=str(plain)))
    plain.chmod(plain.stat().st_mode | stat.S_IXUSR)
    got = kwargs(WorkerSettings(mode="start", python=str(plain), worker_args="--threads 'a b'"))
    assert got["spawn"] and got["python"] == str(plain)
    assert got["worker_args"] == ["--threads", "a b"]
    assert got["connection_file"] == Path(os.devnull)  # "start" never joins a shared worker


def test_settings_modes_shared_and_endpoint(tmp_path):
    shared = kwargs(WorkerSettings(), advertised={"endpoint": "tcp://127.0.0.1:1"})
    assert shared["spawn"] is False and shared["connection_file"] == Path("/x/w.json")
    remote = kwargs(WorkerSettings(mode="endpoint", endpoint=" tcp://10.0.0.2:5555 ",
                                   token="t"))
    assert (remote["endpoint"], remote["token"], remote["spawn"]) == (
        "tcp://10.0.0.2:5555", "t", False)
    with pytest.raises(SettingsError, match="worker address"):
        kwargs(WorkerSettings(mode="endpoint", endpoint="localhost:5555"))
    with pytest.raises(SettingsError, match="unknown worker mode"):
        kwargs(WorkerSettings(mode="cloud"))
    with pytest.raises(SettingsError, match="cannot be read"):
        kwargs(WorkerSettings(mode="start", python="/bin/sh", worker_args="'unclosed"))


class NoDocument:
    """A host with no open document (the docker before the user opens one)."""

    def canvas_size(self):
        return (0, 0)

    def insert_layer(self, image, name, provenance, at):
        raise AssertionError("nothing is generated in this test")

    def set_preview_layer(self, image, name, provenance, at):
        raise AssertionError("live mode is not used in this test")

    def remove_preview_layer(self):
        pass

    def selection(self):
        return None

    def source_image(self, region):
        return None

    def document_data(self, key):
        return None

    def set_document_data(self, key, value):
        pass


def test_docker_shows_the_fix_then_the_panel_on_a_real_worker(qtbot, tiny_worker):
    from plugin.hosts.krita.docker_content import DockerContent
    from plugin.hosts.krita.link import WorkerLink

    store = Store()
    link = WorkerLink(store.read, store.write)
    link.start()
    content = DockerContent(link, NoDocument())
    qtbot.addWidget(content)
    content.show()
    assert content.panel is None and "Worker Python" in content.problem.text()
    assert content.problem.isVisible()

    link.apply(WorkerSettings(mode="endpoint", endpoint=tiny_worker.endpoint,
                              token=tiny_worker.token))
    try:
        assert store[(GROUP, "endpoint")] == tiny_worker.endpoint  # saved for next start
        assert content.panel is not None and not content.problem.isVisible()
        qtbot.waitUntil(lambda: content.panel.bridge.state == "ready", timeout=120_000)
        qtbot.waitUntil(lambda: content.panel.form.model.currentText() == "builtin",
                        timeout=120_000)
        assert content.panel.status.text().endswith("Ready")
        tabs = content.tabs
        assert [tabs.tabText(i) for i in range(tabs.count())] == ["Generate", "Train", "Plan"]
        assert tabs.widget(0) is content.panel and tabs.widget(1).widget() is content.train_panel
    finally:
        link.close()
    assert link.client is None


def test_a_library_that_does_not_load_names_the_rebuild():
    import sys

    from plugin.hosts.krita.vendor_path import missing_library_text

    text = missing_library_text(ModuleNotFoundError("No module named 'zmq'", name="zmq"))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert "cannot load zmq" in text and f"--python-version {version}" in text
