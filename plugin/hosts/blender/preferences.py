"""Add-on preferences: how the add-on reaches a worker (Edit ▸ Preferences ▸ Add-ons).

No ``from __future__ import annotations`` here: Blender reads the property annotations as
objects."""

import bpy

from . import state

MODE_ITEMS = [
    ("shared", "Running worker, else start one",
     "Use the worker that `t2i worker` advertises; if none runs, start one with Worker Python"),
    ("start", "Start a private worker", "Always start a worker of this Blender session with "
     "Worker Python; it stops when Blender quits"),
    ("endpoint", "Connect to an endpoint", "A worker started by hand, or a studio's gateway: "
     "its endpoint and token, and the gateway's CURVE keys"),
]


class T2IPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    mode: bpy.props.EnumProperty(name="Worker", items=MODE_ITEMS, default="shared")
    python: bpy.props.StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description="The python of the environment where t2i-studio is installed (e.g. "
                    "~/t2i-studio/.venv/bin/python). Blender's own Python cannot run the model")
    worker_args: bpy.props.StringProperty(
        name="Worker arguments",
        description="Extra `t2i worker` options for a started worker, e.g. "
                    "--weights-dir /path --history-dir /path --threads 4")
    connection_file: bpy.props.StringProperty(
        name="Connection file", subtype="FILE_PATH",
        description="Where a running worker advertises itself (empty: the default, "
                    "$T2I_STATE_DIR/worker.json)")
    endpoint: bpy.props.StringProperty(name="Endpoint", description="e.g. tcp://127.0.0.1:5555")
    token: bpy.props.StringProperty(name="Token", subtype="PASSWORD",
                                    description="The worker's session token")
    server_key: bpy.props.StringProperty(
        name="Gateway key", subtype="FILE_PATH",
        description="A studio gateway: its public key file, server.key (from the studio)")
    client_key: bpy.props.StringProperty(
        name="Your key", subtype="FILE_PATH",
        description="A studio gateway: your own key pair, the NAME.key_secret file the "
                    "studio gave you (keep it to yourself)")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "mode")
        if self.mode == "endpoint":
            layout.prop(self, "endpoint")
            layout.prop(self, "token")
            layout.prop(self, "server_key")
            layout.prop(self, "client_key")
        else:
            if self.mode == "shared":
                layout.prop(self, "connection_file")
            layout.prop(self, "python")
            layout.prop(self, "worker_args")
        row = layout.row()
        row.operator("t2i.connect", icon="LINKED")
        session = state.session
        if session is not None and session.connected:
            caps = session.capabilities
            row.label(text=f"Connected: worker {caps.worker or '?'} on "
                           f"{caps.device or '?'}", icon="CHECKMARK")


def connection_settings(context):
    """The preferences as the worker client's ``ConnectionSettings``."""
    from .link import ConnectionSettings

    prefs = context.preferences.addons[__package__].preferences
    # The file browser may store Blender-relative paths ("//..."): resolve them here.
    return ConnectionSettings(mode=prefs.mode, python=_absolute(prefs.python),
                              worker_args=prefs.worker_args,
                              connection_file=_absolute(prefs.connection_file),
                              endpoint=prefs.endpoint.strip(), token=prefs.token.strip(),
                              server_key=_absolute(prefs.server_key),
                              client_key=_absolute(prefs.client_key))


def _absolute(path):
    return bpy.path.abspath(path) if path.startswith("//") else path
