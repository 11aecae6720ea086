"""The gateway's state, named in one low module: what ``Gateway`` (gateway.py) holds and what
its parts (node_events.py, report.py) read, so that they need not import the gateway (no
import loop). ``GatewayConfig`` is what ``t2i cluster`` sets up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import zmq

from worker import protocol as P
from worker.cluster.edge import Catalog
from worker.cluster.pool import NodePool, PoolConfig
from worker.cluster.scheduler import ClusterJob, Scheduler


@dataclass
class GatewayConfig:
    bind: str = "tcp://127.0.0.1:0"
    token: str = ""
    keys_dir: Path | None = None  # artists' CURVE keys (keys.py); required off loopback
    state_dir: Path = field(default_factory=lambda: Path("t2i-gateway"))
    connection_file: Path | None = None
    pool: PoolConfig = field(default_factory=PoolConfig)
    heartbeat_interval: float = 0.5
    client_timeout: float = 10.0
    per_artist_limit: int = 256
    max_training: int | None = None
    restore_grace: float = 15.0  # restored jobs whose client does not come back are dropped
    position_interval: float = 0.5


class GatewayState:
    """The attributes ``Gateway.__init__`` sets and the three methods it defines, declared
    for the mixins that use them."""

    config: GatewayConfig
    session: str
    started: float
    scheduler: Scheduler
    catalog: Catalog
    ray_error: str
    jobs: dict[str, ClusterJob]
    clients: dict[bytes, float]
    jobs_done: int
    dispatched: int
    stopping: bool
    router: zmq.Socket
    inbox: zmq.Socket
    events: zmq.Socket | None
    pool: NodePool
    events_token: str
    ctx: zmq.Context
    _poller: zmq.Poller

    def _end(self, job: ClusterJob, msg: P.Message | None = None,
             frames: list | None = None) -> None:
        raise NotImplementedError

    def _reply(self, identity: bytes, msg: P.Message) -> None:
        raise NotImplementedError

    def _unpark(self) -> None:
        raise NotImplementedError
