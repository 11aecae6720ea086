"""What the gateway answers to ``hello`` and ``status``: the worker's fields, for the cluster.

``hello`` has the shape of a worker's capabilities (docs/protocol.md) so that a panel needs
nothing new: the models and adapters every node offers, the devices, and the nodes' load
errors. ``status`` adds ``nodes`` (one entry per worker slot) and ``artists``.
"""

from __future__ import annotations

import os
import time

from worker import __version__
from worker import protocol as P
from worker.cluster.state import GatewayState


def capabilities(gw: GatewayState) -> dict:
    infos = list(gw.catalog.infos.values())
    devices = sorted({str(i.get("device", "cpu")) for i in infos})
    errors = sorted({i["load_error"] for i in infos if i.get("load_error")})
    errors += [p for i in infos for p in i.get("problems", [])]
    if gw.ray_error:
        errors.insert(0, gw.ray_error)
    upscalers: dict[str, dict] = {}  # by id: the built-in one, then the users' on any node
    for info in infos:
        for u in info.get("upscalers", []):
            upscalers.setdefault(u["id"], u)
    return {"protocol": P.PROTOCOL_VERSION, "worker": __version__, "session": gw.session,
            "pid": os.getpid(), "backends": sorted({b for i in infos for b in i["backends"]}),
            "models": gw.catalog.models(), "loras": gw.catalog.loras,
            "upscalers": list(upscalers.values()),
            "device": f"cluster of {len(infos)} worker(s): {', '.join(devices) or 'none yet'}",
            "load_error": "; ".join(errors), "heartbeat_interval": gw.config.heartbeat_interval,
            "history_dir": gw.config.pool.history_dir or "",
            "limits": {"max_side": P.MAX_SIDE, "max_frame_bytes": P.MAX_FRAME_BYTES,
                       "max_header_bytes": P.MAX_HEADER_BYTES,
                       "per_client_queue": gw.config.per_artist_limit},
            "cluster": {"nodes": len(infos), "up": sum(n.up for n in gw.scheduler.nodes.values())}}


def status(gw: GatewayState) -> dict:
    sched = gw.scheduler
    nodes = []
    for name, node in sorted(sched.nodes.items()):
        info = gw.catalog.infos.get(name, {})
        job = gw.jobs.get(node.running)
        nodes.append({"name": name, "up": node.up, "host": info.get("host", ""),
                      "node_id": info.get("node_id", ""), "pid": info.get("pid"),
                      "device": info.get("device", ""),
                      "running": job.id if job else None,
                      "running_kind": job.kind if job else None,
                      "warm": sorted(node.warm), "jobs_done": node.jobs_done,
                      "problems": info.get("problems", [])})
    running = [j.id for j in sched.running.values()]
    state = ("stopping" if gw.stopping else "loading" if not gw.catalog.ready else
             "busy" if running else "idle")
    return {"state": state, "session": gw.session, "pid": os.getpid(),
            "running": running[0] if running else None, "running_all": running,
            "queued": len(sched), "clients": len(gw.clients), "jobs_done": gw.jobs_done,
            "uptime_s": round(time.monotonic() - gw.started, 3),
            "load_error": capabilities(gw)["load_error"], "history": None,
            "nodes": nodes, "artists": len({j.artist for j in gw.jobs.values()}),
            "dispatched": gw.dispatched}
