"""The real Qt panel (in the standalone editor, offscreen) pointed at the gateway, unchanged:
type, Generate, the queue and progress show, a layer appears with the result's pixels."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import pytest  # noqa: E402

pytest.importorskip("qtpy")
from qtpy.QtCore import Qt  # noqa: E402

from worker.client import WorkerClient  # noqa: E402

WAIT = 120_000  # ms: a loaded 2-core machine; never a timing assertion


def test_the_panel_generates_through_the_gateway(qtbot, gateway):
    from plugin.panel import WorkerBridge
    from plugin.qimage import to_pixels
    from plugin.studio.window import StudioWindow

    client = WorkerClient(endpoint=gateway.endpoint, token=gateway.token, spawn=False)
    try:
        win = StudioWindow(WorkerBridge(client))
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.panel.bridge.state == "ready", timeout=WAIT)
        qtbot.waitUntil(lambda: win.panel.form.model.currentText() == "builtin",
                        timeout=WAIT)
        events: list = []
        win.panel.bridge.event.connect(events.append)
        form = win.panel.form
        form.prompt.clear()
        qtbot.keyClicks(form.prompt, "a red apple")
        form.steps.setValue(6)
        form.count.setValue(2)
        form.size.setCurrentIndex(form.size.findData(64))
        qtbot.mouseClick(win.panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: win.panel.job is None and any(e.is_terminal for e in events),
                        timeout=WAIT)
        result = events[-1]
        assert result.type == "result", result.body
        assert events[0].type == "queued" and any(e.type == "progress" for e in events)
        assert len(win.doc.layers) == 2
        layer = win.doc.layers[1]
        assert to_pixels(layer.image).data == bytes(result.images[0].data)
        assert layer.provenance["prompt"] == "a red apple" and layer.provenance["steps"] == 6
        assert result.body["cluster"]["node"].startswith("t2i-node-")
    finally:
        client.close(stop_worker=False)


class Store(dict):
    """Krita.readSetting/writeSetting over a dict (group, name) -> value."""

    def read(self, group: str, name: str, default: str) -> str:
        return self.get((group, name), default)

    def write(self, group: str, name: str, value: str) -> None:
        self[(group, name)] = value


class Canvas:
    """A 256x256 document that keeps the layers the panel inserts."""

    def __init__(self) -> None:
        self.layers: list = []

    def canvas_size(self):
        return (256, 256)

    def insert_layer(self, image, name, provenance, at):
        self.layers.append((image, name, provenance))

    def insert_vector_layer(self, svg, name, provenance, at):
        raise AssertionError("no vector result in this test")

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


def test_the_docker_reaches_a_keyed_gateway_with_the_key_files_in_its_settings(
        qtbot, keyed_gateway):
    from plugin.hosts.krita.docker_content import DockerContent
    from plugin.hosts.krita.link import WorkerLink
    from plugin.hosts.krita.settings import GROUP, WorkerSettings
    from plugin.hosts.krita.settings_dialog import SettingsDialog

    gp, alice, _ = keyed_gateway
    store, canvas = Store(), Canvas()
    link = WorkerLink(store.read, store.write)
    content = DockerContent(link, canvas)
    qtbot.addWidget(content)
    content.show()
    link.apply(WorkerSettings(mode="endpoint", endpoint=gp.endpoint,
                              server_key=str(alice / "server.key"),
                              client_key=str(alice / "alice.key_secret")))
    try:
        assert store[(GROUP, "client_key")] == str(alice / "alice.key_secret")  # kept
        assert link.client is not None and link.client.curve  # the keys are in use
        dialog = SettingsDialog(link)  # Worker settings… shows them, and gives them back
        qtbot.addWidget(dialog)
        assert dialog.server_key.text() == str(alice / "server.key")
        assert dialog.client_key.isEnabled() and dialog.settings() == link.settings
        dialog.mode.setCurrentIndex(dialog.mode.findData("shared"))
        assert not dialog.client_key.isEnabled() and not dialog.server_key.isEnabled()
        panel = content.panel
        qtbot.waitUntil(lambda: panel.bridge.state == "ready", timeout=WAIT)
        qtbot.waitUntil(lambda: panel.form.model.currentText() == "builtin", timeout=WAIT)
        events: list = []
        panel.bridge.event.connect(events.append)
        panel.form.prompt.clear()
        qtbot.keyClicks(panel.form.prompt, "a red apple")
        panel.form.steps.setValue(4)
        panel.form.size.setCurrentIndex(panel.form.size.findData(64))
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any(e.is_terminal for e in events), timeout=WAIT)
        qtbot.waitUntil(lambda: panel.job is None, timeout=WAIT)
        result = events[-1]
        assert result.type == "result", result.body
        assert result.body["cluster"]["node"].startswith("t2i-node-")
        (image, _, provenance), = canvas.layers
        assert bytes(image.data) == bytes(result.images[0].data)
        assert provenance["prompt"] == "a red apple"
    finally:
        link.close()


def test_a_wrong_or_unusable_key_gets_a_clear_error_not_a_hang(qtbot, keyed_gateway):
    from plugin.hosts.krita.docker_content import DockerContent
    from plugin.hosts.krita.link import WorkerLink
    from plugin.hosts.krita.settings import WorkerSettings

    gp, alice, stranger = keyed_gateway
    store = Store()
    link = WorkerLink(store.read, store.write)
    content = DockerContent(link, Canvas())
    qtbot.addWidget(content)
    content.show()
    try:
        # the public half where the key pair belongs: refused before any connection
        link.apply(WorkerSettings(mode="endpoint", endpoint=gp.endpoint,
                                  server_key=str(alice / "server.key"),
                                  client_key=str(alice / "alice.key")))
        assert link.client is None and content.panel is None
        assert "NAME.key_secret" in content.problem.text()
        link.apply(WorkerSettings(mode="endpoint", endpoint=gp.endpoint,
                                  server_key=str(alice / "server.key")))
        assert "set both CURVE key files" in content.problem.text()
        # a well-formed key the gateway does not admit: the panel says so, within the
        # client's heartbeat timeout, and a request sent meanwhile ends in that error
        link.apply(WorkerSettings(mode="endpoint", endpoint=gp.endpoint,
                                  server_key=str(stranger / "server.key"),
                                  client_key=str(stranger / "eve.key_secret")))
        panel = content.panel
        assert panel is not None and not content.problem.isVisible()
        request = link.client.submit_generate(prompt="a red apple", width=32, height=32,
                                              steps=2)
        final = request.wait(timeout=60)
        assert final.type == "error" and final.error_code == "worker_unavailable"
        assert "CURVE keys" in final.body["message"]
        qtbot.waitUntil(lambda: "CURVE keys" in panel.status.text(), timeout=WAIT)
        assert panel.bridge.state == "unavailable"
    finally:
        link.close()
