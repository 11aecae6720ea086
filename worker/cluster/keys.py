"""Artists' CURVE keys for the gateway: one key pair per artist, revocable at any time.

Folder layout (``zmq.auth`` certificate files, like the worker's ``--make-keys``)::

    <keys>/server.key, server.key_secret       the gateway's key pair
    <keys>/authorized_clients/<artist>.key     public keys the gateway admits
    <keys>/revoked/<artist>.key                revoked keys (kept for the record)
    <keys>/artists/<artist>/                   what to hand to the artist: <artist>.key,
                                               <artist>.key_secret and server.key

The artist's name is the key file's stem: it is the fair-share key and what the gateway's
status and log show. ``revoke`` moves the public key to ``revoked/``; the running gateway
re-reads the folder every second, refuses new connections with that key and answers every
further message on an open connection ``unauthorized`` (a CURVE handshake is checked only
once per connection, so the gateway also checks each message's key).
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import zmq
import zmq.auth

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def check_artist(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"artist name {name!r}: use 1-64 of A-Z a-z 0-9 _ . - (not "
                         "starting with . _ or -)")
    return name


def init_keys(folder: Path) -> Path:
    """The gateway's key pair and the empty artist folders."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "server.key_secret").exists():
        zmq.auth.create_certificates(folder, "server")
        (folder / "server.key_secret").chmod(0o600)
    for sub in ("authorized_clients", "revoked", "artists"):
        (folder / sub).mkdir(exist_ok=True)
    return folder


def add_artist(folder: Path, name: str) -> Path:
    """A new key pair for ``name``, admitted at once; returns the folder to hand over."""
    check_artist(name)
    init_keys(folder)
    if (folder / "authorized_clients" / f"{name}.key").exists():
        raise ValueError(f"artist {name!r} already has a key; revoke it first to replace it")
    out = folder / "artists" / name
    out.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(out, name)
    Path(secret).chmod(0o600)
    shutil.copy(folder / "server.key", out / "server.key")
    (folder / "revoked" / f"{name}.key").unlink(missing_ok=True)
    tmp = folder / "authorized_clients" / f".{name}.key.tmp"
    shutil.copy(public, tmp)
    tmp.replace(folder / "authorized_clients" / f"{name}.key")  # appears whole
    return out


def revoke_artist(folder: Path, name: str) -> None:
    check_artist(name)
    key = folder / "authorized_clients" / f"{name}.key"
    if not key.exists():
        raise ValueError(f"artist {name!r} has no admitted key in {key.parent}")
    (folder / "revoked").mkdir(exist_ok=True)
    key.replace(folder / "revoked" / f"{name}.key")


def list_artists(folder: Path) -> dict[str, str]:
    """name -> "admitted" | "revoked"."""
    out = {p.stem: "revoked" for p in sorted((folder / "revoked").glob("*.key"))}
    out.update({p.stem: "admitted" for p in sorted((folder / "authorized_clients")
                                                    .glob("*.key"))})
    return out


class ArtistKeys:
    """The admitted public keys (z85 -> artist name), re-read when the folder changes.

    Also the ZAP credentials provider (``callback``) of the gateway's authenticator.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.clients = folder / "authorized_clients"
        self._lock = threading.Lock()
        self._by_key: dict[str, str] = {}
        self._stamp: tuple = ()
        self.reload()

    def server_keys(self) -> tuple[bytes, bytes]:
        public, secret = zmq.auth.load_certificate(self.folder / "server.key_secret")
        if secret is None:
            raise ValueError(f"{self.folder / 'server.key_secret'} has no secret key")
        return public, secret

    def reload(self) -> list[str]:
        """Re-read the folder if it changed; returns the names no longer admitted."""
        files = sorted(self.clients.glob("*.key"))
        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in files if p.exists())
        if stamp == self._stamp:
            return []
        by_key: dict[str, str] = {}
        for path in files:
            try:
                public, _ = zmq.auth.load_certificate(path)
            except (OSError, ValueError):
                continue  # half-copied or damaged: not admitted
            by_key[public.decode("ascii")] = path.stem
        with self._lock:
            gone = sorted(set(self._by_key.values()) - set(by_key.values()))
            self._by_key, self._stamp = by_key, stamp
        return gone

    def artist_of(self, z85_public: str) -> str | None:
        with self._lock:
            return self._by_key.get(z85_public)

    def callback(self, domain: str, z85_public: bytes) -> bool:
        """ZAP: admit a connection only with an admitted key (runs on the auth thread)."""
        return self.artist_of(z85_public.decode("ascii")) is not None


def start_authenticator(ctx: zmq.Context, sock: zmq.Socket, keys: ArtistKeys) -> object:
    """Make ``sock`` a CURVE server admitting the artists' keys; returns the authenticator
    (stop it on shutdown)."""
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=keys)
    public, secret = keys.server_keys()
    sock.curve_secretkey, sock.curve_publickey, sock.curve_server = secret, public, True
    return auth
