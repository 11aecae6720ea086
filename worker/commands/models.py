"""``t2i models``: what the worker offers (each model's sizes and generation defaults) and what
it refused, with the reasons, so a user can see why a file in their models folder is not
listed. It asks the worker (``list_models``, which rescans the models folders first), exactly
as a panel does: the advertised worker, ``--endpoint``, or one started for this command.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_models_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", default=None,
                   help="a running worker's endpoint (token from $T2I_WORKER_TOKEN); default: "
                        "the advertised worker, or start one for this command")
    p.add_argument("--json", action="store_true", help="print the worker's list as JSON")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds to wait for the worker's answer")
    p.add_argument("--weights-dir", default=None, help=argparse.SUPPRESS)


def cmd_models(args: argparse.Namespace) -> int:
    from worker.client import WorkerClient, WorkerError

    worker_args = ["--weights-dir", str(args.weights_dir)] if args.weights_dir else []
    client = WorkerClient(endpoint=args.endpoint, worker_args=worker_args)
    try:
        listing = client.list_models(timeout=args.timeout)
    except WorkerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    finally:
        client.close()
    if args.json:
        print(json.dumps(listing, indent=1))
    else:
        print(format_listing(listing))
    return 0


def format_listing(listing: dict[str, Any]) -> str:
    """The listing as text a person reads: one block per model, then the refused files."""
    models = listing.get("models", [])
    lines = [f"{len(models)} model(s) offered:"]
    for m in models:
        d = m.get("generate_defaults") or {}
        sizes = m.get("sizes") or []
        span = (f"{sizes[0]}-{sizes[-1]} px ({len(sizes)} sizes)" if len(sizes) > 6
                else ", ".join(map(str, sizes)) + " px")
        defaults = ", ".join(f"{k} {d[k]}" for k in ("steps", "guidance", "scheduler")
                             if d.get(k) not in (None, ""))
        lines.append(f"  {m['id']}  [{m.get('backend', '')}]  {m.get('description', '')}")
        lines.append(f"      sizes {span}; default {d.get('width', m.get('default_size'))}x"
                     f"{d.get('height', m.get('default_size'))}"
                     + (f"; {defaults}" if defaults else ""))
        lines.append(f"      hash {str(m.get('hash', ''))[:10]}; "
                     + ("trainable" if m.get("train_defaults") is not None
                        else "not trainable"))
    if listing.get("loras"):
        lines.append(f"adapters: {', '.join(listing['loras'])}")
    refused = listing.get("refused", [])
    if refused:
        lines.append(f"{len(refused)} file(s) refused:")
        for r in refused:
            lines.append(f"  {r['file']}  [{r.get('backend', '')}]: {r['reason']}")
    else:
        lines.append("no file refused")
    return "\n".join(lines)
