"""The ``t2i`` command: the core commands, plus ``t2i worker``, with ``generate`` via the worker.

Every subcommand lives in this folder, one module each where it has more than a few lines
(``core``: the commands that need t2i_core alone: ``generate --local``, ``data``, ``builtin``,
``eval``; ``live``, ``upscale``, ``models``, ``train``, ``plan``), except commands that a
higher level owns: they register themselves through the ``t2i.commands`` entry-point group
(``t2i studio`` is ``plugin/``'s, see ``registered``). So nothing here imports ``plugin``, and
nothing in t2i_core imports a command (docs/structure.md has the levels).

``t2i generate`` talks to a running worker (the one ``t2i worker`` advertises) or starts one
for the duration of the command, exactly as the editor panels do; ``--local`` runs the model
in this process instead (no socket, no history).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from worker.__main__ import add_worker_arguments, run_from_args


def build_parser() -> argparse.ArgumentParser:
    from worker.commands.core import build_parser as core_parser
    from worker.commands.live import add_live_commands  # light: argparse only
    from worker.commands.upscale import add_upscale_commands

    parser = core_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    add_live_commands(sub)
    add_upscale_commands(sub)
    gen = sub.choices["generate"]
    g = gen.add_argument_group("worker")
    g.add_argument("--local", action="store_true",
                   help="run the model in this process instead of through the worker")
    g.add_argument("--endpoint", default=None,
                   help="a running worker's endpoint (token from $T2I_WORKER_TOKEN); default: "
                        "the advertised worker, or start one for this command")
    g.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the result")
    gen.set_defaults(func=cmd_generate)
    from worker.commands.models import add_models_arguments, cmd_models

    ms = sub.add_parser("models", help="list the models the worker offers and the files it "
                        "refused, with the reasons")
    add_models_arguments(ms)
    ms.set_defaults(func=cmd_models)
    w = sub.add_parser("worker", help="run the worker process (what the editor panels use)")
    add_worker_arguments(w)
    w.set_defaults(func=run_from_args)
    from worker.commands.train import add_train_arguments, cmd_train  # light: torch loads on use

    tr = sub.add_parser("train", help="fine-tune a LoRA adapter on a folder of your images")
    add_train_arguments(tr)
    tr.set_defaults(func=cmd_train)
    from worker.commands.plan import add_plan_arguments, cmd_plan  # light: OR-Tools loads on use

    pl = sub.add_parser("plan", help="a floor plan from text: layered SVG, DXF or JSON")
    add_plan_arguments(pl)
    pl.set_defaults(func=cmd_plan)
    # Plugin zips; the build code lives in packaging/ of a source checkout (loaded on use).
    pk = sub.add_parser("package", add_help=False,
                        help="build an editor plugin zip: t2i package blender|krita [--help]")
    pk.add_argument("target", help="blender or krita")
    pk.add_argument("options", nargs=argparse.REMAINDER, help="the target's options")
    pk.set_defaults(func=cmd_package)
    # The studio gateway needs the cluster extra (Ray): loaded only when it runs.
    cl = sub.add_parser("cluster", add_help=False,
                        help="a studio's GPU servers behind one address: t2i cluster "
                             "gateway|keys|head|node [--help] (needs the cluster extra)")
    cl.add_argument("options", nargs=argparse.REMAINDER,
                    help="gateway, keys, head or node, and options")
    cl.set_defaults(func=cmd_cluster)
    # Commands owned by higher levels (``t2i studio``: plugin/), found at run time.
    from worker.commands.registered import add_registered_commands

    add_registered_commands(sub)
    return parser


def cmd_cluster(args: argparse.Namespace) -> int:
    from worker.cluster.cli import main as cluster_main

    return cluster_main(args.options)


def cmd_package(args: argparse.Namespace) -> int:
    # Not an importable top-level "packaging" (that would shadow the PyPI library).
    folder = Path(__file__).resolve().parents[2] / "packaging"
    if not (folder / "t2i_packaging").is_dir():
        print(f"error: t2i package needs a source checkout of t2i-studio ({folder} is "
              "missing)", file=sys.stderr)
        return 2
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    from t2i_packaging import main as package_main

    return package_main(args.target, args.options)


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from t2i_core.backends.base import Provenance
    from t2i_core.png_info import save_png
    from worker.client import WorkerClient, WorkerError
    from worker.commands.core import cmd_generate as local_generate
    from worker.commands.core import load_request, output_paths
    from worker.protocol import GenerateParams, LoraParam
    from worker.replies import GenerateResult, Progress, Queued

    if args.local:
        return local_generate(args)
    req = load_request(args)
    # what the user left out stays out: the worker runs the model's own defaults
    params = GenerateParams(
        prompt=req.prompt, negative_prompt=req.negative_prompt, seed=req.seed,
        width=args.size, height=args.size, count=req.count, steps=args.steps,
        guidance=args.guidance, model=req.model, strength=req.strength,
        loras=[LoraParam(lo.name, lo.weight) for lo in req.loras], scheduler=req.scheduler,
        vector=req.vector)  # -o x.svg: the drawing
    worker_args = ["--weights-dir", str(args.weights_dir)] if args.weights_dir else []
    t0 = time.time()
    client = WorkerClient(endpoint=args.endpoint, worker_args=worker_args)
    try:
        handle = client.submit_generate(params, init_image=req.init_image, mask=req.mask)
        # No step count until the first progress event: a txt2img run may take fewer steps
        # than asked (the built-in model starts part-way along its schedule).
        bar = tqdm(total=None, desc="generating", unit="step", leave=False)
        try:
            for ev in handle.events(timeout=args.timeout):
                if isinstance(ev.reply, Queued) and ev.reply.position:
                    bar.set_postfix_str(f"queued, position {ev.reply.position}")
                elif isinstance(ev.reply, Progress):
                    bar.total, bar.n = ev.reply.total, ev.reply.step
                    bar.set_postfix_str("")
                    bar.refresh()
        except KeyboardInterrupt:
            handle.cancel().wait(timeout=5)
            bar.close()
            print("cancelled", file=sys.stderr)
            return 130
        bar.close()
        result = handle.reply(GenerateResult, timeout=0)
    except WorkerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    finally:
        client.close()
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    provs = [Provenance.from_dict(p) for p in result.provenance]
    svgs = result.svg
    for i, (path, img, prov) in enumerate(zip(output_paths(args.output, len(provs)),
                                              result.images, provs, strict=True)):
        if req.vector:
            from t2i_core.vector.result import with_metadata

            tmp = Path(path).with_name(Path(path).name + ".tmp")
            tmp.write_text(with_metadata(svgs[i], prov.to_dict()), encoding="utf-8")
            tmp.replace(path)
        else:
            save_png(Path(path), img.to_numpy(), prov)
        print(f"{path}  (seed {prov.seed})")
    if result.history:
        print(f"also kept in {Path(result.history[0]).parent}", file=sys.stderr)
    print(f"done in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    from worker.commands.core import run

    return run(build_parser(), argv)
