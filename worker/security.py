"""Who may talk to the worker.

Two layers, documented in docs/protocol.md:
- a session token in every request header (always required on loopback; the launcher makes a
  random one and hands it over through the environment, never the command line, which other
  local users can read in ``ps``);
- ZeroMQ CURVE (encryption + client keys, via ``zmq.auth``) whenever the worker listens on
  anything but loopback. Without keys it refuses to start: a token alone would travel in clear
  text over the network.

Key folder layout (what ``make_keys`` writes, the layout of ``zmq.auth.create_certificates``):
``<dir>/server.key`` + ``server.key_secret`` for the worker, ``<dir>/authorized_clients/*.key``
public keys the worker accepts, and ``<dir>/client.key`` + ``client.key_secret`` for a client.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

TOKEN_ENV = "T2I_WORKER_TOKEN"


class SecurityError(Exception):
    """The worker must not start with this configuration."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_ok(expected: str, given: str) -> bool:
    # Constant-time: the comparison time must not reveal how many characters matched.
    return hmac.compare_digest(expected.encode(), given.encode())


def is_loopback(endpoint: str) -> bool:
    """True for tcp://127.x.x.x:port, tcp://[::1]:port, tcp://localhost:port and ipc://."""
    if endpoint.startswith("ipc://"):
        return True  # a filesystem socket: guarded by file permissions, not the network
    m = re.fullmatch(r"tcp://(\[[^\]]+\]|[^:]+):(\d+|\*)", endpoint)
    if not m:
        return False
    host = m.group(1).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name or a wildcard "*": not loopback


@dataclass
class CurveServerKeys:
    public: bytes
    secret: bytes
    authorized_dir: Path


def load_server_keys(key_dir: Path) -> CurveServerKeys:
    secret_file = key_dir / "server.key_secret"
    clients = key_dir / "authorized_clients"
    if not secret_file.is_file():
        raise SecurityError(f"no CURVE server key at {secret_file}; create keys with "
                            f"`t2i worker --make-keys {key_dir}`")
    if not clients.is_dir() or not any(clients.glob("*.key")):
        raise SecurityError(f"no authorized client keys in {clients}; copy each client's "
                            "public .key file there")
    public, secret = zmq.auth.load_certificate(secret_file)
    if secret is None:
        raise SecurityError(f"{secret_file} has no secret key")
    return CurveServerKeys(public, secret, clients)


def start_curve(ctx: zmq.Context, sock: zmq.Socket, keys: CurveServerKeys) -> object:
    """Make ``sock`` a CURVE server that admits only the authorized client keys.

    Returns the running ``ThreadAuthenticator`` (stop it on shutdown).
    """
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.authorized_dir))
    sock.curve_secretkey = keys.secret
    sock.curve_publickey = keys.public
    sock.curve_server = True
    return auth


def make_keys(key_dir: Path) -> Path:
    """Create a server key pair, one client key pair, and authorize that client."""
    key_dir.mkdir(parents=True, exist_ok=True)
    zmq.auth.create_certificates(key_dir, "server")
    zmq.auth.create_certificates(key_dir, "client")
    clients = key_dir / "authorized_clients"
    clients.mkdir(exist_ok=True)
    shutil.copy(key_dir / "client.key", clients / "client.key")
    for secret in key_dir.glob("*.key_secret"):
        secret.chmod(0o600)
    return key_dir

