"""``t2i models``: what the worker offers (each model's sizes and generation defaults) and what
it refused, with the reasons, so a user can see why a file in their models folder is not
listed. It asks the worker (``list_models``, which rescans the models folders first), exactly
as a panel does: the advertised worker, ``--endpoint``, or one started for this command.
"""

from __future__ import annotations

import argparse
import json
import sys

from worker.replies import ModelList, reply_as


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
        answer = client.request("list_models").result(timeout=args.timeout)
    except WorkerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    finally:
        client.close()
    if args.json:  # the worker's own list, as it came
        print(json.dumps(answer.body, indent=1))
    else:
        print(format_listing(reply_as(answer, ModelList)))
    return 0


def format_listing(listing: ModelList) -> str:
    """The listing as text a person reads: one block per model, then the refused files."""
    lines = [f"{len(listing.models)} model(s) offered:"]
    for m in listing.models:
        d, sizes = m.defaults, m.sizes
        span = (f"{sizes[0]}-{sizes[-1]} px ({len(sizes)} sizes)" if len(sizes) > 6
                else ", ".join(map(str, sizes)) + " px")
        defaults = ", ".join(f"{k} {v}" for k, v in (("steps", d.steps),
                                                      ("guidance", d.guidance),
                                                      ("scheduler", d.scheduler)) if v != "")
        lines.append(f"  {m.id}  [{m.backend}]  {m.description}")
        lines.append(f"      sizes {span}; default {d.width}x{d.height}"
                     + (f"; {defaults}" if defaults else ""))
        lines.append(f"      hash {m.hash[:10]}; "
                     + ("trainable" if m.train_defaults is not None else "not trainable"))
    if listing.loras:
        lines.append(f"adapters: {', '.join(listing.loras)}")
    if listing.refused:
        lines.append(f"{len(listing.refused)} file(s) refused:")
        for r in listing.refused:
            lines.append(f"  {r.file}  [{r.backend}]: {r.reason}")
    else:
        lines.append("no file refused")
    return "\n".join(lines)
