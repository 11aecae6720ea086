"""Artists' CURVE keys: one per artist, required off loopback, revocable while running."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq.auth
from cluster_helpers import ENV, REPO, start_gateway
from worker_helpers import Raw

from worker.client import WorkerClient
from worker.cluster import keys


def curve_raw(endpoint: str, folder: Path) -> Raw:
    """A DEALER with an artist's key pair (what `keys add` hands over)."""
    name = folder.name
    public, secret = zmq.auth.load_certificate(folder / f"{name}.key_secret")
    server, _ = zmq.auth.load_certificate(folder / "server.key")
    return Raw(endpoint, "", curve_serverkey=server, curve_publickey=public,
               curve_secretkey=secret)


def test_keys_add_list_revoke(tmp_path: Path):
    root = keys.init_keys(tmp_path / "keys")
    out = keys.add_artist(root, "alice")
    assert sorted(p.name for p in out.iterdir()) == ["alice.key", "alice.key_secret",
                                                     "server.key"]
    assert (out / "alice.key_secret").stat().st_mode & 0o077 == 0
    admitted = keys.ArtistKeys(root)
    public, _ = zmq.auth.load_certificate(out / "alice.key")
    assert admitted.artist_of(public.decode()) == "alice"
    with pytest.raises(ValueError, match="already has a key"):
        keys.add_artist(root, "alice")
    with pytest.raises(ValueError, match="artist name"):
        keys.add_artist(root, "../x")
    keys.revoke_artist(root, "alice")
    assert admitted.reload() == ["alice"] and admitted.artist_of(public.decode()) is None
    assert keys.list_artists(root) == {"alice": "revoked"}


def test_off_loopback_without_keys_is_refused():
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cluster", "gateway", "--bind", "tcp://0.0.0.0:0",
         "--ray-address", "127.0.0.1:1"], cwd=REPO, env={**os.environ, **ENV,
                                                         "T2I_WORKER_TOKEN": ""},
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "without artists' CURVE keys" in proc.stderr


def test_each_artist_has_a_key_and_a_revoked_key_is_refused_at_once(tmp_path: Path,
                                                                   tiny_weights: Path,
                                                                   monkeypatch):
    root = keys.init_keys(tmp_path / "keys")
    alice, bob = keys.add_artist(root, "alice"), keys.add_artist(root, "bob")
    keys.init_keys(tmp_path / "other")
    stranger = keys.add_artist(tmp_path / "other", "eve")  # a key the gateway never saw
    # No Ray needed to check who may talk: the gateway answers status without nodes.
    gp = start_gateway(tmp_path / "gw", "127.0.0.1:1", tiny_weights, "--keys", str(root),
                       token="")
    clients = {}
    try:
        for name, folder in (("alice", alice), ("bob", bob)):
            clients[name] = curve_raw(gp.endpoint, folder)
            assert clients[name].call("status", timeout=30).type == "result"
        eve = curve_raw(gp.endpoint, stranger)
        eve.sock.setsockopt(zmq.SNDTIMEO, 1000)
        with contextlib.suppress(zmq.Again):  # no handshake, no peer: may not even send
            eve.send("status")
        assert eve.recv(2.0) is None
        eve.close()
        keys.revoke_artist(root, "bob")
        deadline = time.monotonic() + 10
        while (answer := clients["bob"].call("status", timeout=10)).type == "result":
            assert time.monotonic() < deadline, "bob is still admitted"
            time.sleep(0.2)
        assert answer.error_code == "unauthorized" and "no longer" in answer.body["message"]
        assert clients["alice"].call("status", timeout=10).type == "result"
        # the stock client (panels, t2i generate) takes the artist's keys from the env
        monkeypatch.setenv("T2I_CURVE_DIR", str(alice))
        stock = WorkerClient(endpoint=gp.endpoint, spawn=False)
        try:
            assert stock.status(timeout=30).session
        finally:
            stock.close()
    finally:
        for c in clients.values():
            c.close()
        gp.stop()


def test_the_editor_settings_turn_the_key_files_into_curve_options(tmp_path: Path):
    """Krita's and Blender's worker settings (``ConnectionSettings``): the gateway's public
    key and the artist's key pair, as files; every wrong setting is named with its fix."""
    from worker.launch import ConnectionSettings, SettingsError

    root = keys.init_keys(tmp_path / "keys")
    alice = keys.add_artist(root, "alice")
    where = "the worker settings"

    def kwargs(**kw) -> dict:
        return ConnectionSettings(mode="endpoint", endpoint="tcp://10.0.0.2:5555",
                                  **kw).client_kwargs("Krita", where)

    got = kwargs(server_key=str(alice / "server.key"),
                 client_key=str(alice / "alice.key_secret"))
    public, secret = zmq.auth.load_certificate(alice / "alice.key_secret")
    server, _ = zmq.auth.load_certificate(alice / "server.key")
    assert got["curve"] == {"curve_publickey": public, "curve_secretkey": secret,
                            "curve_serverkey": server}
    assert "curve" not in kwargs()  # none set: $T2I_CURVE_DIR, as before
    with pytest.raises(SettingsError, match="set both CURVE key files"):
        kwargs(client_key=str(alice / "alice.key_secret"))
    with pytest.raises(SettingsError, match="does not exist"):
        kwargs(server_key=str(alice / "server.key"), client_key=str(alice / "bob.key_secret"))
    with pytest.raises(SettingsError, match="NAME.key_secret"):  # the public half only
        kwargs(server_key=str(alice / "server.key"), client_key=str(alice / "alice.key"))
    (tmp_path / "junk").write_text("not a key")
    with pytest.raises(SettingsError, match="cannot use the CURVE keys"):
        kwargs(server_key=str(tmp_path / "junk"), client_key=str(alice / "alice.key_secret"))


def test_the_studio_takes_the_key_files_from_its_command_line(tmp_path: Path):
    import argparse

    from plugin.studio.app import add_studio_arguments, client_kwargs
    from worker.launch import SettingsError

    root = keys.init_keys(tmp_path / "keys")
    alice = keys.add_artist(root, "alice")
    parser = argparse.ArgumentParser()
    add_studio_arguments(parser)
    args = parser.parse_args(["--endpoint", "tcp://10.0.0.2:5555", "--server-key",
                              str(alice / "server.key"), "--key",
                              str(alice / "alice.key_secret")])
    got = client_kwargs(args)
    assert got["endpoint"] == "tcp://10.0.0.2:5555" and got["curve"]["curve_serverkey"]
    assert "curve" not in client_kwargs(parser.parse_args([]))
    with pytest.raises(SettingsError, match="--server-key"):
        client_kwargs(parser.parse_args(["--key", str(alice / "alice.key_secret")]))
