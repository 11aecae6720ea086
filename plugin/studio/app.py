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


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_API", "pyside6")
    from qtpy.QtWidgets import QApplication

    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow
    from worker.client import WorkerClient

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("t2i studio")
    worker_args = ["--weights-dir", str(args.weights_dir)] if args.weights_dir else []
    client = WorkerClient(endpoint=args.endpoint, spawn=not args.no_spawn,
                          worker_args=worker_args)
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
