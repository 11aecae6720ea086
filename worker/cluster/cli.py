"""``t2i cluster gateway`` (serve), ``t2i cluster keys`` (artists' CURVE keys) and
``t2i cluster head`` / ``node`` (``ray start`` with the settings of ray_start.py)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from worker.launch import TOKEN_ENV


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t2i cluster", description="A studio's GPU servers "
                                "behind one address (Ray behind; docs/cluster.md).")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gateway", help="serve the worker protocol, running jobs on Ray")
    g.add_argument("--ray-address", default="auto",
                   help="the Ray head (host:6379); default: the local node's cluster")
    g.add_argument("--bind", default="tcp://127.0.0.1:5555",
                   help="ZeroMQ endpoint (default %(default)s); off loopback needs --keys")
    g.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="artists' CURVE keys (`t2i cluster keys init DIR`)")
    g.add_argument("--state-dir", type=Path, default=Path("t2i-gateway"),
                   help="where the queue is kept across restarts (default ./%(default)s)")
    g.add_argument("--connection-file", type=Path, default=None,
                   help="write endpoint + token here (mode 0600), like `t2i worker`")
    g.add_argument("--workers", type=int, default=0,
                   help="worker slots to use; 0 = one per unit of the t2i_worker resource in "
                        "the cluster, re-checked every 5 s (default)")
    g.add_argument("--namespace", default="t2i-studio",
                   help="Ray namespace of the worker actors; two gateways on one cluster "
                        "need two namespaces (default %(default)s)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPUs each worker slot takes (1 on GPU nodes; 0 for CPU workers)")
    g.add_argument("--backend", action="append", dest="backends", metavar="NAME",
                   help="as `t2i worker --backend` (default: builtin + live?)")
    g.add_argument("--weights-dir", type=Path, default=None,
                   help="built-in model folder, the same path on every node")
    g.add_argument("--adapter-dir", type=Path, default=None,
                   help="the LoRA adapter library, a folder shared by every node")
    g.add_argument("--backend-option", action="append", default=[], metavar="NAME.KEY=VALUE")
    g.add_argument("--history-dir", type=Path, default=None,
                   help="nodes keep finished images here (a shared folder); default: none")
    g.add_argument("--threads", type=int, default=1, help="torch threads per worker slot")
    g.add_argument("--progress-interval", type=float, default=0.1)
    g.add_argument("--max-training", type=int, default=None,
                   help="worker slots that may train at once (default: all but one)")
    g.add_argument("--restore-grace", type=float, default=15.0,
                   help="seconds a restored job waits for its client after a restart")
    g.add_argument("--log-level", default="INFO")
    h = sub.add_parser("head", help="start Ray's head node here (`ray start --head`, lean)")
    h.add_argument("--port", type=int, default=6379)
    n = sub.add_parser("node", help="start a Ray node with worker slots (`ray start`, lean)")
    n.add_argument("--address", required=True, help="the head, HOST:6379")
    n.add_argument("--slots", type=int, required=True,
                   help="worker slots on this machine: one per GPU (or per CPU worker)")
    n.add_argument("--gpus", type=int, default=None, help="GPUs Ray may use (default: all)")
    for cmd in (h, n):
        cmd.add_argument("--dry-run", action="store_true",
                         help="print the environment settings and the command, run nothing")
        cmd.add_argument("ray_args", nargs=argparse.REMAINDER,
                         help="after --: more `ray start` arguments")
    k = sub.add_parser("keys", help="artists' CURVE keys: init, add, revoke, list")
    k.add_argument("action", choices=["init", "add", "revoke", "list"])
    k.add_argument("dir", type=Path)
    k.add_argument("name", nargs="?", help="the artist (add, revoke)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "keys":
        return _keys(args)
    if args.command in ("head", "node"):
        return _ray_start(args)
    return _gateway(args)


def _ray_start(args: argparse.Namespace) -> int:
    import shlex

    from worker.cluster import ray_start

    extra = [a for a in args.ray_args if a != "--"]
    cmd = (ray_start.head_command(args.port, extra) if args.command == "head" else
           ray_start.node_command(args.address, args.slots, args.gpus, extra))
    env = ray_start.quiet_environ()
    settings = " ".join(f"{k}={env[k]}" for k in ray_start.QUIET_ENV)
    print(f"{settings} {shlex.join(cmd)}", flush=True)
    if args.dry_run:
        return 0
    try:  # becomes `ray start` (signals, exit status and --block go straight to Ray)
        os.execvpe(cmd[0], cmd, env)
    except OSError as e:
        print(f"t2i cluster: cannot run `ray` ({e}); it comes with the `cluster` extra "
              "(bash scripts/setup.sh cluster)", file=sys.stderr)
        return 2


def _keys(args: argparse.Namespace) -> int:
    from worker.cluster import keys

    try:
        if args.action == "init":
            keys.init_keys(args.dir)
            print(f"gateway keys in {args.dir}; add artists with `t2i cluster keys add "
                  f"{args.dir} NAME`")
        elif args.action == "list":
            for name, state in keys.list_artists(args.dir).items():
                print(f"{name}\t{state}")
        elif not args.name:
            print(f"t2i cluster keys {args.action}: name the artist", file=sys.stderr)
            return 2
        elif args.action == "add":
            out = keys.add_artist(args.dir, args.name)
            print(f"{args.name} admitted. Give the artist the three files in {out} "
                  f"({args.name}.key_secret is theirs alone).")
        else:
            keys.revoke_artist(args.dir, args.name)
            print(f"{args.name} revoked (a running gateway refuses the key within a second)")
    except ValueError as e:
        print(f"t2i cluster keys: {e}", file=sys.stderr)
        return 2
    return 0


def _gateway(args: argparse.Namespace) -> int:
    from worker.__main__ import _backend_options
    from worker.cluster.gateway import Gateway
    from worker.cluster.pool import PoolConfig
    from worker.cluster.state import GatewayConfig
    from worker.models import DEFAULT_BACKENDS
    from worker.security import SecurityError, is_loopback, new_token

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        options = _backend_options(args.backend_option)
    except ValueError as e:
        print(f"t2i cluster: {e}", file=sys.stderr)
        return 2
    if args.weights_dir:
        options.setdefault("builtin", {})["weights_dir"] = args.weights_dir
        options.setdefault("live", {}).setdefault("weights_dir", args.weights_dir)
    if args.adapter_dir:
        options.setdefault("builtin", {})["adapters_dir"] = args.adapter_dir
    token = os.environ.get(TOKEN_ENV, "")
    if not token and is_loopback(args.bind) and args.keys is None:
        token = new_token()
    pool = PoolConfig(ray_address=args.ray_address, namespace=args.namespace,
                      workers=args.workers,
                      gpus_per_worker=args.gpus_per_worker,
                      backends=args.backends or list(DEFAULT_BACKENDS), backend_options=options,
                      threads=args.threads, progress_interval=args.progress_interval,
                      history_dir=str(args.history_dir) if args.history_dir else None)
    config = GatewayConfig(bind=args.bind, token=token, keys_dir=args.keys,
                           state_dir=args.state_dir, connection_file=args.connection_file,
                           pool=pool, max_training=args.max_training,
                           restore_grace=args.restore_grace)
    try:
        gateway = Gateway(config)
        endpoint = gateway.start()
    except SecurityError as e:
        print(f"t2i cluster: {e}", file=sys.stderr)
        return 2
    except zmq_error() as e:
        print(f"t2i cluster: cannot listen on {args.bind}: {e}", file=sys.stderr)
        return 2
    print(f"t2i cluster gateway listening on {endpoint}", flush=True)
    signal.signal(signal.SIGTERM, gateway.signal_stop)
    signal.signal(signal.SIGINT, gateway.signal_stop)
    gateway.serve_forever()
    return 0


def zmq_error() -> type[Exception]:
    import zmq

    return zmq.ZMQError
