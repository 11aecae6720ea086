"""Finding or starting a local worker process (standard library only, vendored with the client).

A shared worker advertises itself in a connection file (``worker.json``: endpoint, token,
pid; mode 0600) in the user's state folder; a client that finds none starts its own worker
on a free loopback port with a fresh token, passed through the environment because other
users can read argv in ``ps``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("worker.launch")

TOKEN_ENV = "T2I_WORKER_TOKEN"

# How an editor plugin reaches a worker (its settings dialog offers these three).
CONNECTION_MODES = {"shared": "Use a running worker, or start one",
                    "start": "Always start a private worker",
                    "endpoint": "Connect to a worker at an address"}
# The client's own rule suits a dedicated process. Inside an editor the client's I/O thread
# shares the GIL with the host's Python UI, which can hold it for seconds on a loaded machine
# (Blender's panel drawing under software OpenGL); a worker we started is still declared lost
# at once when its process exits, so a longer silence only delays noticing a hung worker.
EDITOR_HEARTBEAT_TIMEOUT = 10.0


def state_dir() -> Path:
    """Where a shared worker advertises itself (``worker.json``, mode 0600)."""
    if os.environ.get("T2I_STATE_DIR"):
        return Path(os.environ["T2I_STATE_DIR"])
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path.home() / ".local" / "share")
    return Path(base) / "t2i-studio"


def default_connection_file() -> Path:
    return state_dir() / "worker.json"


def read_connection_file(path: Path) -> dict | None:
    """The advertised worker, or None if the file is missing, malformed or stale."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("endpoint"), str):
        return None
    pid = info.get("pid")
    if isinstance(pid, int) and not pid_alive(pid):
        return None  # a stale file left by a crashed worker
    return info


def write_connection_file(path: Path, info: dict) -> None:
    """Advertise a worker: ``info`` (endpoint, token, pid, ...) as JSON, replaced atomically
    and mode 0600 from the first byte, because it holds the session token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)


def pid_alive(pid: int) -> bool:
    """Is a process with this id running (also the server's check on its parent)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def spawn_worker(python: str, worker_args: list[str], env: dict[str, str], token: str,
                 timeout: float, should_stop: Callable[[], bool]
                 ) -> tuple[subprocess.Popen, str, str | None, str]:
    """Start ``python -m worker`` on a free loopback port; wait for it to advertise itself.

    Returns (process, its folder with worker.json and worker.log, endpoint or None, why
    it failed). On failure the caller stops the process with ``stop_worker``."""
    spawn_dir = tempfile.mkdtemp(prefix="t2i-worker-")
    conn = Path(spawn_dir) / "worker.json"
    cmd = [python, "-m", "worker", "--bind", "tcp://127.0.0.1:0", "--connection-file",
           str(conn), "--parent-pid", str(os.getpid()), *worker_args]
    log_path = Path(spawn_dir) / "worker.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(cmd, env={**os.environ, **env, TOKEN_ENV: token},
                                stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not should_stop():
        info = read_connection_file(conn)
        if info:
            return proc, spawn_dir, info["endpoint"], ""
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    tail = log_path.read_text(errors="replace")[-800:] if log_path.exists() else ""
    why = f"could not start the worker ({' '.join(cmd[:3])}): {tail.strip() or 'no output'}"
    return proc, spawn_dir, None, why


def stop_worker(proc: subprocess.Popen | None, spawn_dir: str | None, timeout: float) -> None:
    """Terminate (then kill) a worker we started; keep its log if it did not exit cleanly."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if spawn_dir and proc.returncode in (0, -15):
        shutil.rmtree(spawn_dir, ignore_errors=True)
    elif spawn_dir:  # keep the log of a worker that crashed or was killed
        log.warning("worker exited with %s; its log is in %s", proc.returncode, spawn_dir)


class SettingsError(ValueError):
    """The plugin's settings cannot make a connection; the message says what to set."""


@dataclass(frozen=True)
class ConnectionSettings:
    """An editor plugin's worker settings, as plain strings from the host's settings store.

    ``shared``: the worker that ``t2i worker`` advertises in its connection file; if none is
    running, start one with ``python``. ``start``: always start a private worker with
    ``python``. ``endpoint``: connect to ``endpoint`` with ``token`` (a worker started by hand,
    or a studio's cluster gateway), with the CURVE keys a gateway off this machine requires:
    ``server_key`` (the gateway's public ``server.key``) and ``client_key`` (the artist's own
    ``NAME.key_secret``, which holds their key pair; docs/cluster.md). Without them the keys
    in ``$T2I_CURVE_DIR`` are used, if set. A worker is only ever started with the
    interpreter the user set: the editor's embedded Python cannot run the model (and inside
    Krita ``sys.executable`` is not even Krita's).
    """

    mode: str = "shared"
    python: str = ""
    worker_args: str = ""
    endpoint: str = ""
    token: str = ""
    connection_file: str = ""
    server_key: str = ""
    client_key: str = ""

    def client_kwargs(self, editor: str, where: str,
                      find_default: Callable[[], Path] = default_connection_file,
                      read: Callable[[Path], dict | None] = read_connection_file
                      ) -> dict[str, Any]:
        """Keyword arguments for ``WorkerClient``; raises ``SettingsError`` with the fix.

        ``editor`` names the host in messages ("Krita"), ``where`` is where its user finds
        these settings."""
        if self.mode not in CONNECTION_MODES:
            raise SettingsError(f"unknown worker mode {self.mode!r}; choose one of "
                                f"{', '.join(CONNECTION_MODES)} in {where}")
        try:
            args = shlex.split(self.worker_args)
        except ValueError as e:
            raise SettingsError(f"the worker arguments in {where} cannot be read ({e}); "
                                "quote paths that contain spaces") from None
        common: dict[str, Any] = {"heartbeat_timeout": EDITOR_HEARTBEAT_TIMEOUT}
        if self.mode == "endpoint":
            endpoint = self.endpoint.strip()
            if not endpoint.startswith(("tcp://", "ipc://")):
                raise SettingsError(f"set the worker address in {where}, like "
                                    "tcp://127.0.0.1:5555 (`t2i worker` prints it)")
            return {**common, "endpoint": endpoint, "token": self.token.strip(),
                    "spawn": False, **self.curve_kwargs(where)}
        conn = Path(os.path.expanduser(self.connection_file)) if self.connection_file \
            else find_default()
        if self.mode == "shared" and read(conn):
            return {**common, "connection_file": conn, "spawn": False}
        python = self._checked_python(conn, editor, where)
        if self.mode == "start":
            conn = Path(os.devnull)  # never pick up a shared worker
        return {**common, "connection_file": conn, "spawn": True, "python": python,
                "worker_args": args}

    def curve_kwargs(self, where: str) -> dict[str, Any]:
        """``{"curve": options}`` from the two key files, {} when neither is set."""
        server, client = (os.path.expanduser(x.strip()) for x in (self.server_key,
                                                                  self.client_key))
        if not server and not client:
            return {}
        if not server or not client:
            raise SettingsError(f"set both CURVE key files in {where}: the gateway's public "
                                "key (server.key) and your own key (NAME.key_secret), as the "
                                "studio handed them to you")
        for path, what in ((server, "gateway's public key"), (client, "own key")):
            if not os.path.isfile(path):
                raise SettingsError(f"the {what} file '{path}' set in {where} does not exist")
        try:
            return {"curve": curve_options(Path(client), Path(server))}
        except Exception as e:  # noqa: BLE001 - zmq.auth raises several kinds for a bad file
            raise SettingsError(f"cannot use the CURVE keys set in {where} ({e}); your own "
                                "key is the NAME.key_secret file (it holds the secret key), "
                                "the gateway's is server.key") from None

    def _checked_python(self, conn: Path, editor: str, where: str) -> str:
        python = os.path.expanduser(self.python.strip())
        if not python:
            why = (f"No worker is running (none advertised in {conn}) and n" if
                   self.mode == "shared" else "N")
            raise SettingsError(
                f"{why}o Python is set to start one. In {where}, set 'Worker Python' to the "
                "python of the environment where t2i-studio is installed (for example "
                "~/t2i-studio/.venv/bin/python), or start `t2i worker` yourself. "
                f"{editor}'s own Python cannot run the model.")
        if not os.path.isfile(python) or not os.access(python, os.X_OK):
            raise SettingsError(f"The Worker Python '{python}' set in {where} is not an "
                                "executable file: point it at the python of the environment "
                                "where t2i-studio is installed.")
        return python


CURVE_ENV = "T2I_CURVE_DIR"


def curve_from_env() -> dict[str, bytes] | None:
    """CURVE options from ``$T2I_CURVE_DIR``: a folder with the user's one ``*.key_secret``
    and the server's ``server.key`` (what ``t2i cluster keys add`` hands an artist), so
    that every client of this user -- the editor panels included -- reaches a gateway or
    worker that requires CURVE without a setting of its own. None when unset or unusable
    (logged: the connection then fails with the client's "are the CURVE keys right?")."""
    folder = os.environ.get(CURVE_ENV, "")
    if not folder:
        return None
    root = Path(folder).expanduser()
    secrets_found = sorted(root.glob("*.key_secret"))
    if len(secrets_found) != 1 or not (root / "server.key").is_file():
        log.warning("%s=%s needs exactly one *.key_secret and server.key; not using CURVE",
                    CURVE_ENV, folder)
        return None
    try:
        return curve_options(secrets_found[0], root / "server.key")
    except Exception as e:  # noqa: BLE001 - a damaged key file: say so, connect without
        log.warning("cannot read the CURVE keys in %s: %s", folder, e)
        return None


def curve_options(client_secret: Path, server_public: Path) -> dict[str, bytes]:
    """``WorkerClient(curve=...)`` options from ``client.key_secret`` and ``server.key``
    (the files ``t2i worker --make-keys DIR`` writes)."""
    import zmq.auth

    public, secret = zmq.auth.load_certificate(client_secret)
    server_key, _ = zmq.auth.load_certificate(server_public)
    if secret is None:
        raise ValueError(f"{client_secret} holds no secret key")
    return {"curve_publickey": public, "curve_secretkey": secret, "curve_serverkey": server_key}
