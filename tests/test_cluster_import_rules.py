"""Ray is the cluster's optional extra: nothing outside worker/cluster imports it, and the
desktop worker, the client and the CLI start without it (checked on the source tree, ast,
and in a fresh interpreter)."""

import subprocess
import sys

from test_architecture import ROOT, imported_modules, top_level

CLUSTER_ONLY = ("worker/cluster/", "tests/cluster/", "benchmarks/bench_cluster.py")


def test_only_the_cluster_code_imports_ray():
    for folder in ("worker", "plugin", "t2i_core", "tests", "benchmarks", "packaging"):
        for f in sorted((ROOT / folder).rglob("*.py")):
            rel = f.relative_to(ROOT).as_posix()
            if rel.startswith(CLUSTER_ONLY) or "/vendor/" in rel:
                continue
            assert "ray" not in top_level(imported_modules(f)), f"{rel} imports ray"


def test_worker_client_and_cli_load_without_ray_and_the_gateway_without_torch():
    code = ("import sys; import worker.commands, worker.server, worker.client, worker.cluster.cli;"
            "import worker.cluster.gateway;"
            "print(sorted(m for m in ('ray', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
