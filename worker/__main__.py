"""``python -m worker`` (also ``t2i worker``): run the worker in the foreground.

Started by hand it makes a session token, binds 127.0.0.1 on a free port and advertises both
in ``$T2I_STATE_DIR/worker.json`` (mode 0600), where ``WorkerClient()`` finds it. A client
that spawns its own worker passes the token through ``T2I_WORKER_TOKEN`` and a private
``--connection-file``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from worker.history import default_history_dir
from worker.launch import TOKEN_ENV, default_connection_file
from worker.models import DEFAULT_BACKENDS


def add_worker_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--bind", default="tcp://127.0.0.1:0",
                   help="ZeroMQ endpoint; port 0 = any free port (default %(default)s). "
                        "Anything but loopback needs --curve-dir")
    p.add_argument("--connection-file", type=Path, default=None,
                   help="where to advertise endpoint + token (default: "
                        f"{default_connection_file()})")
    p.add_argument("--backend", action="append", dest="backends", metavar="NAME",
                   help="builtin, live, diffusers, or package.module:factory; repeatable; "
                        "a trailing ? leaves it out quietly when its weights are missing "
                        "(default: builtin + live?)")
    p.add_argument("--weights-dir", type=Path, default=None,
                   help="built-in model folder (default: the committed weights)")
    p.add_argument("--backend-option", action="append", default=[], metavar="NAME.KEY=VALUE",
                   help="keyword argument for a backend's constructor (VALUE is JSON if it "
                        "parses, else a string), e.g. synthetic.step_time=0.01")
    p.add_argument("--history-dir", type=Path, default=None,
                   help=f"where finished images are kept (default ${'{'}T2I_HISTORY_DIR{'}'} or "
                        f"{default_history_dir()})")
    p.add_argument("--no-history", action="store_true",
                   help="do not keep finished images (benchmarks)")
    p.add_argument("--curve-dir", type=Path, default=None,
                   help="CURVE key folder (server.key_secret + authorized_clients/)")
    p.add_argument("--make-keys", type=Path, default=None, metavar="DIR",
                   help="create a CURVE server + client key pair in DIR and exit")
    p.add_argument("--parent-pid", type=int, default=None,
                   help="exit when this process exits (set by spawning clients)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--heartbeat", type=float, default=0.5, help="heartbeat interval, seconds")
    p.add_argument("--progress-interval", type=float, default=0.1,
                   help="at most one progress event per this many seconds (the first and "
                        "last step always go out; 0 = every step)")
    p.add_argument("--log-level", default="INFO")
    return p


def run_from_args(args: argparse.Namespace) -> int:
    from worker.security import SecurityError, is_loopback, make_keys, new_token
    from worker.server import Worker, WorkerConfig

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.make_keys:
        make_keys(args.make_keys)
        print(f"CURVE keys written to {args.make_keys}: give clients client.key_secret and "
              "server.key; add more client public keys to authorized_clients/")
        return 0
    token = os.environ.get(TOKEN_ENV, "")
    connection_file = args.connection_file
    if not token and is_loopback(args.bind):
        token = new_token()
    if connection_file is None and is_loopback(args.bind):
        connection_file = default_connection_file()
    backends = args.backends or list(DEFAULT_BACKENDS)
    try:
        options = _backend_options(args.backend_option)
    except ValueError as e:
        print(f"t2i worker: {e}", file=sys.stderr)
        return 2
    if args.weights_dir:  # one folder holds builtin.safetensors and live.safetensors
        options.setdefault("builtin", {})["weights_dir"] = args.weights_dir
        options.setdefault("live", {}).setdefault("weights_dir", args.weights_dir)
    history = None if args.no_history else (args.history_dir or default_history_dir())
    config = WorkerConfig(bind=args.bind, token=token, curve_dir=args.curve_dir,
                          backends=backends, backend_options=options, history_dir=history,
                          connection_file=connection_file, parent_pid=args.parent_pid,
                          heartbeat_interval=args.heartbeat,
                          progress_interval=args.progress_interval)
    try:
        worker = Worker(config)
    except SecurityError as e:
        print(f"t2i worker: {e}", file=sys.stderr)
        return 2
    worker.runner.threads = args.threads
    try:
        endpoint = worker.start()
    except Exception as e:  # noqa: BLE001 - e.g. address in use: say so, exit non-zero
        print(f"t2i worker: cannot listen on {args.bind}: {e}", file=sys.stderr)
        return 2
    print(f"t2i worker listening on {endpoint}"
          + (f" (advertised in {connection_file})" if connection_file else ""), flush=True)
    import signal

    signal.signal(signal.SIGTERM, worker.signal_stop)
    signal.signal(signal.SIGINT, worker.signal_stop)
    worker.serve_forever()
    return 0


def _backend_options(items: list[str]) -> dict[str, dict[str, Any]]:
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        name, sep, rest = item.partition(".")
        key, eq, raw = rest.partition("=")
        if not (sep and eq and name and key.isidentifier()):
            raise ValueError(f"--backend-option {item!r}: use NAME.KEY=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        options.setdefault(name, {})[key] = value
    return options


def main(argv: list[str] | None = None) -> int:
    parser = add_worker_arguments(argparse.ArgumentParser(
        prog="python -m worker", description="The t2i-studio GPU/CPU worker process."))
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
