"""The gateway's Ray side: one detached actor per worker slot, jobs streamed back from them.

A *slot* is one ``NodeWorker`` actor (worker/cluster/node.py) that needs one unit of the
custom resource ``t2i_worker`` (a studio starts each GPU node with as many units as it has
GPUs, see docs/cluster.md) and ``gpus_per_worker`` GPUs. Ray places the actors, restarts an
actor whose node died on a node with a free unit (``max_restarts=-1``), and streams a job's
events back (``run`` is a streaming generator). The actors are *detached* and named, so a
restarted gateway finds them with their models still loaded.

Each slot has one thread here that owns its actor: it waits until the actor is up, then
runs the jobs the gateway hands it, one at a time, and reports everything to the gateway's
loop through ``post`` (thread-safe) as frames::

    [b"N", slot, info-json]        the slot is up (its models, device, warm models, ...)
    [b"D", slot, reason]           the slot is down (its node died; Ray is restarting it)
    [b"E" | b"T", uid, run, pushed, *msg]  an event / the terminal event of a job's
                                   dispatch (pushed: its progress events that went over
                                   ZeroMQ, see below)
    [b"B", ip]                     Ray is connected; this machine's address in Ray
    [b"L", uid, run, reason]       the job's node died mid-job: run it again elsewhere
    [b"C", reply-json]             the answer to a cancel (the step the job was at)
    [b"R", reason]                 Ray could not be reached

Progress events take a cheaper path when the gateway has bound its event socket
(``NodePool.events``): the actor pushes them to it over ZeroMQ (each carrying the
gateway's token), and only the terminal event comes back through Ray, with the number
pushed before it so that the gateway can keep them in order.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from worker import protocol as P
from worker.cluster.ray_start import RESOURCE, quiet_environ

log = logging.getLogger("worker.cluster.pool")
PROBE_S = 2.0
Post = Callable[[list[bytes]], None]


@dataclass
class PoolConfig:
    ray_address: str = "auto"
    namespace: str = "t2i-studio"
    slot_prefix: str = "t2i-node"
    workers: int = 0  # 0: one slot per unit of RESOURCE in the cluster (checked every 5 s)
    gpus_per_worker: float = 0.0
    backends: list[str] = field(default_factory=lambda: ["builtin"])
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int = 1  # torch threads per slot (CPU workers)
    progress_interval: float = 0.1
    history_dir: str | None = None

    def key(self) -> str:
        """Slots built with another configuration are replaced, not reused."""
        return json.dumps([self.backends, self.backend_options, self.gpus_per_worker,
                           self.threads, self.progress_interval, self.history_dir],
                          sort_keys=True, default=str)


class NodePool:
    def __init__(self, config: PoolConfig, post: Post) -> None:
        self.config, self.post = config, post
        self.slots: dict[str, Slot] = {}
        self.stopping = threading.Event()
        self.cancels = ThreadPoolExecutor(2, thread_name_prefix="t2i-cancel")
        self.events: dict | None = None  # {endpoint, token} once the gateway bound it
        self._thread = threading.Thread(target=self._main, name="t2i-ray", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.cancels.shutdown(wait=False, cancel_futures=True)

    def dispatch(self, slot: str, spec: dict, run: int) -> None:
        self.slots[slot].jobs.put((spec, run))

    def cancel(self, slot: str, uid: str, reply: dict) -> None:
        """Ask the slot to cancel ``uid``; posts ``[b"C", reply + at_step]``."""
        target = self.slots.get(slot)

        def call() -> None:
            import ray

            answer = {"found": False, "at_step": 0}
            try:
                if target is not None and target.actor is not None:
                    answer = ray.get(target.actor.cancel.remote(uid), timeout=10)
            except Exception as e:  # noqa: BLE001 - the node died: the job re-runs or ends
                log.warning("cancel of %s on %s failed: %s", uid, slot, e)
            self.post([b"C", json.dumps({**reply, **answer}).encode()])

        self.cancels.submit(call)

    # --- the thread that connects and keeps one slot per worker unit -------------------------

    def _main(self) -> None:
        try:
            # Ray's C++ failure-signal handler would take SIGTERM from the gateway's own
            # (graceful) handler; the gateway has its own logging.
            os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
            # The gateway is a Ray driver: its core worker reads Ray's settings too (task
            # events of the jobs it submits, prestarting workers for it; ray_start.py).
            os.environ.update(quiet_environ())
            import ray

            if not ray.is_initialized():
                ray.init(address=self.config.ray_address, namespace=self.config.namespace,
                         include_dashboard=False, logging_level=logging.WARNING,
                         log_to_driver=False, configure_logging=False)
            self.actor_class = ray.remote(_node_worker_class())
            self.post([b"B", _own_ip().encode()])
        except Exception as e:  # noqa: BLE001 - reported to clients as the load error
            log.exception("cannot connect to Ray")
            self.post([b"R", f"cannot connect to the Ray cluster at "
                             f"{self.config.ray_address}: {e}".encode()[:500]])
            return
        # Slots a previous gateway made are adopted (detached actors keep their units).
        prefix = f"{self.config.slot_prefix}-"
        known = [int(n[len(prefix):]) for n in ray.util.list_named_actors()
                 if n.startswith(prefix) and n[len(prefix):].isdigit()]
        adopt = max(known, default=-1) + 1
        self._grow(min(adopt, self.config.workers) if self.config.workers else adopt)
        seen_more = 0
        while not self.stopping.is_set():
            try:
                wanted = self.config.workers or self._units()
            except Exception as e:  # noqa: BLE001 - Ray busy or going away: try again
                log.warning("cannot count the cluster's worker units: %s", e)
                self.stopping.wait(5.0)
                continue
            # Grow only when every slot is up and the count held for two checks: a dead
            # node still counts until Ray notices, and its actor, restarting, takes the
            # new node's unit; a slot made meanwhile would wait for a unit forever.
            settled = all(slot.up for slot in self.slots.values())
            seen_more = seen_more + 1 if wanted > len(self.slots) and settled else 0
            if seen_more >= 2 or not self.slots:
                self._grow(wanted)
                seen_more = 0
            if self.config.workers and len(self.slots) >= self.config.workers:
                return  # a fixed number of slots: nothing more to watch
            self.stopping.wait(5.0)

    def _grow(self, count: int) -> None:
        for i in range(len(self.slots), count):
            name = f"{self.config.slot_prefix}-{i}"
            self.slots[name] = Slot(name, self)
            self.slots[name].start()

    @staticmethod
    def _units() -> int:
        """Units of the worker resource on the nodes Ray knows alive."""
        import ray

        return int(sum(n.get("Resources", {}).get(RESOURCE, 0) for n in ray.nodes()
                       if n.get("Alive")))


class Slot(threading.Thread):
    """One actor and the thread that feeds it (see the module docstring)."""

    def __init__(self, name: str, pool: NodePool) -> None:
        super().__init__(name=f"t2i-{name}", daemon=True)
        self.slot, self.pool = name, pool
        self.jobs: queue.Queue[tuple[dict, int]] = queue.Queue()
        self.actor: Any = None
        self.up = False

    def run(self) -> None:
        first = True
        while not self.pool.stopping.is_set():
            info = self._wait_up(first)
            if info is None:
                return
            first = False
            while not self.jobs.empty():  # handed out before it went down: re-queued since
                self.jobs.get_nowait()
            self.pool.post([b"N", self.slot.encode(), json.dumps(info).encode()])
            self.up = True
            reason = self._serve()
            self.up = False
            if reason:
                self.pool.post([b"D", self.slot.encode(), reason.encode()[:500]])

    def _create(self) -> Any:
        c = self.pool.config
        return self.pool.actor_class.options(
            name=self.slot, namespace=c.namespace, get_if_exists=True, lifetime="detached",
            max_restarts=-1, max_task_retries=0, max_concurrency=4, num_cpus=0,
            num_gpus=c.gpus_per_worker, resources={RESOURCE: 1},
        ).remote(c.backends, c.backend_options, self.slot, c.key(), c.threads,
                 c.progress_interval, c.history_dir)

    def _wait_up(self, first: bool) -> dict | None:
        """Block until the actor answers ``info`` (it may be loading, or waiting for a node
        with a free unit after its own died); replace one built with another config."""
        import ray

        pending = None
        since = time.monotonic()
        while not self.pool.stopping.is_set():
            try:
                if self.actor is None:
                    self.actor = self._create()
                pending = pending or self.actor.info.remote()
                ready, _ = ray.wait([pending], timeout=PROBE_S)
                if not ready:
                    if time.monotonic() - since > 30:
                        since = time.monotonic()
                        log.info("slot %s: still waiting for its actor (loading models, or "
                                 "no node with a free %s unit)", self.slot, RESOURCE)
                    continue
                info = ray.get(pending)
                pending = None
                if info.get("config_key") != self.pool.config.key():
                    log.info("slot %s runs another configuration: replacing it", self.slot)
                    ray.kill(self.actor, no_restart=True)
                    self.actor = None
                    time.sleep(0.5)
                    continue
                if first:
                    ray.get(self.actor.cancel_all.remote(), timeout=30)  # an old gateway's
                return info
            except ray.exceptions.RayError as e:
                log.info("slot %s not up yet: %s", self.slot, str(e)[:200])
                pending = None
                if isinstance(e, ray.exceptions.ActorDiedError) and "restart" not in str(e):
                    self.actor = None  # gone for good (killed): make a new one
                time.sleep(0.5)
        return None

    def _serve(self) -> str:
        """Run jobs until the actor fails; returns why ("" when stopping)."""
        import ray

        idle_probe = time.monotonic() + PROBE_S
        while not self.pool.stopping.is_set():
            try:
                spec, run = self.jobs.get(timeout=0.5)
            except queue.Empty:
                if time.monotonic() >= idle_probe:  # notice a dead idle node, too
                    try:
                        ray.get(self.actor.info.remote(), timeout=30)
                    except ray.exceptions.GetTimeoutError:
                        pass  # slow (a busy machine), not dead: Ray reports a death itself
                    except ray.exceptions.RayError as e:
                        return f"node lost: {str(e)[:200]}"
                    idle_probe = time.monotonic() + PROBE_S
                continue
            lost = self._run_job(spec, run)
            idle_probe = time.monotonic() + PROBE_S
            if lost:
                return lost
        return ""

    def _run_job(self, spec: dict, run: int) -> str:
        import ray

        uid, tag = spec["uid"].encode(), str(run).encode()
        if self.pool.events:
            spec = {**spec, "events": {**self.pool.events, "run": run}}
        try:
            for ref in self.actor.run.remote(spec):
                kind, frames, pushed = ray.get(ref)
                self.pool.post([kind, uid, tag, str(pushed).encode(), *frames])
            return ""
        except ray.exceptions.RayTaskError as e:  # a bug in the node code: the job ends
            log.error("job %s failed on %s: %s", spec["id"], self.slot, e)
            msg = P.error(spec["id"], "internal", f"cluster node error: {str(e)[:200]}")
            self.pool.post([b"T", uid, tag, b"0", *P.encode(msg)])
            return ""
        except ray.exceptions.RayError as e:  # the actor or its node died
            reason = f"node lost: {type(e).__name__}: {str(e)[:200]}"
            log.warning("slot %s lost job %s: %s", self.slot, spec["id"], reason)
            self.pool.post([b"L", uid, tag, reason.encode()])
            return reason


def _own_ip() -> str:
    """The address of the Ray node this gateway runs on (what the other nodes use to reach
    it; 127.0.0.1 for a cluster on loopback)."""
    import ray

    me = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node.get("NodeID") == me and node.get("NodeManagerAddress"):
            return str(node["NodeManagerAddress"])
    return ray.util.get_node_ip_address()


def _node_worker_class() -> type:
    from worker.cluster.node import NodeWorker

    return NodeWorker
