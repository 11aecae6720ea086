"""``t2i studio``: start (or connect to) a worker and open the editor window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_studio_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", type=Path, help="an .ora file to open")
    p.add_argument("--endpoint", default=None,
                   help="a running worker's endpoint (token from $T2I_WORKER_TOKEN); default: "
                        "the advertised worker, or start one")
    p.add_argument("--no-spawn", action="store_true",
                   help="never start a worker; wait for one to be advertised")
    p.add_argument("--weights-dir", type=Path, default=None,
                   help="built-in model weights for a worker this editor starts")
    p.add_argument("--server-key", default="", metavar="FILE",
                   help="a studio gateway's public key (server.key) for --endpoint")
    p.add_argument("--key", default="", metavar="FILE",
                   help="your own key pair (NAME.key_secret) for --endpoint; default: the "
                        "keys in $T2I_CURVE_DIR (docs/cluster.md)")


def client_kwargs(args: argparse.Namespace) -> dict:
    """``WorkerClient`` keyword arguments; ``SettingsError`` names a wrong key file."""
    from worker.launch import ConnectionSettings

    worker_args = ["--weights-dir", str(args.weights_dir)] if args.weights_dir else []
    keys = ConnectionSettings(server_key=args.server_key, client_key=args.key).curve_kwargs(
        "the command line (--server-key, --key)")
    return {"endpoint": args.endpoint, "spawn": not args.no_spawn,
            "worker_args": worker_args, **keys}


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_API", "pyside6")
    from qtpy.QtWidgets import QApplication

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow
    from worker.client import WorkerClient
    from worker.launch import SettingsError

    try:
        kwargs = client_kwargs(args)
    except SettingsError as e:
        print(f"t2i studio: {e}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("t2i studio")
    client = WorkerClient(**kwargs)
    try:
        window = StudioWindow(WorkerBridge(client))
        if args.file:
            window.open_file(args.file)
        window.show()
        return app.exec()
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="t2i studio", description=__doc__)
    add_studio_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
