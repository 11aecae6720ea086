"""Which queued job runs next, and on which node: fair share, live first, warm nodes first.

Pure Python, no Ray, no sockets: the gateway calls it on its own thread.

- **Fair share between artists.** Each artist (a CURVE key, or a connection on loopback) has
  a FIFO queue. The next job comes from the artist served least recently; an artist with
  nothing queued who submits one image is therefore next in line, even behind another
  artist's batch of 64 -- it waits only for jobs already running. Backlogged artists take
  turns (round robin).
- **Live previews first.** Jobs of the one-step ``live`` model (as-you-type previews, ~40 ms)
  go before every other job, fairly among artists as well.
- **Warm nodes first.** Among the idle nodes that offer a job's model, one that has already
  run (loaded) that model is chosen; a cold node only when no warm one is idle.
- **Training** goes to an idle node that can train the model, a GPU node when there is one,
  and at most ``max_training`` nodes train at once, so that generation keeps a node.
- **Queue position** (the ``queued`` event's ``position``): how many queued jobs will be
  dispatched before this one, in the order above (0: it goes to the next free node).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field

LIVE_MODEL = "live"
ANY_NODE = ""  # a job any node runs (a plan; the built-in upscaler)
UPSCALE = "upscale:"  # + a user's diffusers upscaler id: a node that has it


@dataclass
class ClusterJob:
    """A request the gateway has accepted (kept until its terminal event is sent)."""

    uid: str  # the gateway's own id (unique across clients and restarts)
    artist: str
    identity: bytes  # the client's ROUTER identity: where its events go
    id: str  # the client's request id
    kind: str  # generate | train | plan | upscale
    model: str  # what the node must offer (edge.route_of): a model id, ANY_NODE, UPSCALE+id
    body: dict
    images: list[tuple[str, list[int], bytes]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seq: int = 0  # submission order (persisted)
    submitted: float = field(default_factory=time.monotonic)
    state: str = "queued"  # queued | running
    node: str = ""  # the slot running it
    run: int = 0  # dispatch count; events of an earlier dispatch are dropped
    step: int = 0
    dispatch_seq: int = 0  # the gateway's dispatch counter when it last went to a node
    started: float = 0.0
    held: bool = False  # restored after a gateway restart, its client not seen yet
    cancelled: bool = False  # cancel sent to its node: never run it again
    position: int | None = None  # the last position sent to the client
    seen: int = 0  # progress events of this dispatch received over ZeroMQ
    pending: tuple | None = None  # (terminal frames, pushed, deadline) waiting for them

    @property
    def live(self) -> bool:
        return self.kind == "generate" and self.model == LIVE_MODEL

    def spec(self) -> dict:
        """What the node's ``run`` gets."""
        return {"uid": self.uid, "id": self.id, "kind": self.kind, "body": self.body,
                "images": self.images, "warnings": self.warnings}


@dataclass
class NodeState:
    name: str
    up: bool = False
    running: str = ""  # uid of its job; "" = idle
    models: set[str] = field(default_factory=set)
    trainable: set[str] = field(default_factory=set)
    warm: set[str] = field(default_factory=set)
    gpu: bool = False
    jobs_done: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class Scheduler:
    def __init__(self, per_artist_limit: int = 256, max_training: int | None = None) -> None:
        self.per_artist_limit = per_artist_limit
        self.max_training = max_training  # None: one node less than there are (at least 1)
        self.queues: dict[str, deque[ClusterJob]] = {}  # artist -> queued jobs (FIFO)
        self.last_served: dict[str, float] = {}
        self.nodes: dict[str, NodeState] = {}
        self._tick = itertools.count(1)
        self.running: dict[str, ClusterJob] = {}

    # --- jobs ------------------------------------------------------------------------------

    def add(self, job: ClusterJob, front: bool = False) -> bool:
        """Queue ``job`` (``front``: a job that lost its node goes first). False when the
        artist already has ``per_artist_limit`` jobs queued."""
        q = self.queues.setdefault(job.artist, deque())
        if not front and len(q) >= self.per_artist_limit:
            if not q:
                del self.queues[job.artist]
            return False
        job.state, job.node = "queued", ""
        if front:
            q.appendleft(job)
            self.last_served[job.artist] = 0.0  # and its artist's turn comes first
        else:
            q.append(job)
        return True

    def remove(self, uid: str) -> ClusterJob | None:
        """Take a queued job out (cancel, revocation); None if it is not queued."""
        for artist, q in self.queues.items():
            for job in q:
                if job.uid == uid:
                    q.remove(job)
                    if not q:
                        del self.queues[artist]
                    return job
        return None

    def queued(self) -> list[ClusterJob]:
        return [job for q in self.queues.values() for job in q]

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    # --- nodes -----------------------------------------------------------------------------

    def node_up(self, name: str, models: list[str], trainable: list[str], warm: list[str],
                gpu: bool) -> NodeState:
        node = self.nodes.setdefault(name, NodeState(name))
        node.up, node.gpu = True, gpu
        node.models, node.trainable = set(models), set(trainable)
        node.warm |= set(warm)
        return node

    def node_down(self, name: str) -> str:
        """Mark a node down; returns the uid it was running ("" if none)."""
        node = self.nodes.get(name)
        if node is None:
            return ""
        node.up, node.warm = False, set()
        uid, node.running = node.running, ""
        self.running.pop(uid, None)
        return uid

    def finished(self, job: ClusterJob, model_loaded: bool) -> None:
        node = self.nodes.get(job.node)
        self.running.pop(job.uid, None)
        if node is not None and node.running == job.uid:
            node.running, node.idle_since = "", time.monotonic()
            node.jobs_done += 1
            if model_loaded and job.model:
                node.warm.add(job.model)

    # --- the decision ------------------------------------------------------------------------

    def next_assignment(self) -> tuple[ClusterJob, NodeState] | None:
        """The next (job, idle node) to dispatch, or None. The job is taken out of its queue
        and marked running on the node."""
        idle = [n for n in self.nodes.values() if n.up and not n.running]
        if not idle:
            return None
        for job in self._fair_order():
            if job.held:
                continue
            node = self._node_for(job, idle)
            if node is None:
                continue
            self.remove(job.uid)
            job.state, job.node, job.run = "running", node.name, job.run + 1
            node.running = job.uid
            self.running[job.uid] = job
            self.last_served[job.artist] = float(next(self._tick))
            return job, node
        return None

    def positions(self) -> dict[str, int]:
        return {job.uid: i for i, job in enumerate(self._fair_order())}

    def _node_for(self, job: ClusterJob, idle: list[NodeState]) -> NodeState | None:
        if job.kind == "train":
            if sum(1 for j in self.running.values() if j.kind == "train") >= self._train_cap():
                return None
            able = [n for n in idle if job.model in n.trainable]
            # a GPU first, then a node that has the model loaded, then the longest idle
            return min(able, key=lambda n: (not n.gpu, job.model not in n.warm, n.idle_since),
                       default=None)
        able = [n for n in idle if job.model == ANY_NODE or job.model in n.models]
        return min(able, key=lambda n: (job.model not in n.warm, n.idle_since), default=None)

    def _train_cap(self) -> int:
        if self.max_training is not None:
            return self.max_training
        return max(1, sum(1 for n in self.nodes.values() if n.up) - 1)

    def _fair_order(self) -> list[ClusterJob]:
        """Every queued job in dispatch order: live jobs first; within each class artists
        take turns, least recently served first, each artist's jobs in submission order."""
        order: list[ClusterJob] = []
        for live in (True, False):
            lanes = [[j for j in q if j.live == live] for q in self.queues.values()]
            artists = list(self.queues)
            turn = sorted(range(len(artists)), key=lambda i: (
                self.last_served.get(artists[i], 0.0), lanes[i][0].seq if lanes[i] else 0))
            depth = max((len(lane) for lane in lanes), default=0)
            for r in range(depth):
                order.extend(lanes[i][r] for i in turn if r < len(lanes[i]))
        return order
