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
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("worker.launch")

TOKEN_ENV = "T2I_WORKER_TOKEN"


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


def curve_options(client_secret: Path, server_public: Path) -> dict[str, bytes]:
    """``WorkerClient(curve=...)`` options from ``client.key_secret`` and ``server.key``
    (the files ``t2i worker --make-keys DIR`` writes)."""
    import zmq.auth

    public, secret = zmq.auth.load_certificate(client_secret)
    server_key, _ = zmq.auth.load_certificate(server_public)
    if secret is None:
        raise ValueError(f"{client_secret} holds no secret key")
    return {"curve_publickey": public, "curve_secretkey": secret, "curve_serverkey": server_key}
