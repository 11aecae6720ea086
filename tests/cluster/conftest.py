"""Fixtures for the cluster tests: one Ray cluster (head + 2 CPU worker nodes on loopback) and
one gateway process for the session; helpers in cluster_helpers.py.

Starting Ray and loading the tiny model in each worker actor costs ~30-40 s on the 2-core CI
machine, so the tests share them and leave the cluster as they found it (a test that kills a
node adds a new one). Skips when Ray (the ``cluster`` extra) is not installed, except on CI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for helper_dir in (HERE, HERE.parent / "worker", HERE.parent / "finetune"):
    if str(helper_dir) not in sys.path:
        sys.path.insert(0, str(helper_dir))

try:
    import ray  # noqa: F401
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the cluster extra (ray) is not installed", allow_module_level=True)

from cluster_helpers import GatewayProc, start_gateway, start_ray, wait_nodes_up  # noqa: E402
from worker_helpers import Raw  # noqa: E402

_LIVE: dict = {}  # the session's Ray cluster and gateway while they run


@pytest.fixture(scope="session")
def ray_cluster():
    _LIVE["cluster"] = start_ray(workers=2)
    yield _LIVE["cluster"]
    _stop("cluster")


def _stop(*which: str) -> None:
    for name in which:
        thing = _LIVE.pop(name, None)
        if thing is None:
            continue
        if name == "gateway":
            thing.stop()
        else:
            thing.shutdown()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Ray's processes and the two worker actors hold ~2 GB and some CPU: stop them when
    the last cluster test is done, not at the end of the whole suite."""
    if nextitem is None or HERE not in Path(str(nextitem.path)).resolve().parents:
        _stop("gateway", "cluster")


@pytest.fixture(scope="session")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The adapter library every node shares (a studio's network folder)."""
    return tmp_path_factory.mktemp("shared-adapters")


@pytest.fixture(scope="session")
def gateway(ray_cluster, tiny_weights: Path, adapters: Path,
            tmp_path_factory: pytest.TempPathFactory):
    gp = start_gateway(tmp_path_factory.mktemp("gateway"), ray_cluster.address, tiny_weights,
                       "--adapter-dir", str(adapters), "--progress-interval", "0")
    _LIVE["gateway"] = gp
    wait_nodes_up(gp, 2, timeout=240)
    yield gp
    _stop("gateway")


@pytest.fixture
def raw(gateway: GatewayProc):
    r = Raw(gateway.endpoint, gateway.token)
    yield r
    r.close()


@pytest.fixture()
def keyed_gateway(ray_cluster, gateway, tiny_weights, tmp_path):
    """A second gateway on the same Ray cluster that admits artists by CURVE key only. It
    shares the session gateway's worker slots (same namespace and configuration: Ray hands
    it the same named actors), so it needs no nodes of its own; the tests run one at a time."""
    from worker.cluster import keys

    root = keys.init_keys(tmp_path / "keys")
    alice = keys.add_artist(root, "alice")
    keys.init_keys(tmp_path / "other")
    stranger = keys.add_artist(tmp_path / "other", "eve")  # a key this gateway never saw
    extra = gateway.start_args[3]
    gp = start_gateway(tmp_path / "gw", ray_cluster.address, tiny_weights, *extra,
                       "--keys", str(root), token="")
    try:
        yield gp, alice, stranger
    finally:
        gp.stop()
