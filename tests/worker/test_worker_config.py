"""A misconfigured worker says what is wrong instead of dying or hanging."""

from __future__ import annotations

import os
import subprocess
import sys

from worker_helpers import QUIET_ENV, REPO, Raw, start_worker


def test_backend_that_fails_to_load_is_reported(tmp_path):
    wp = start_worker(tmp_path, "--backend", "no_such_module:Backend")
    raw = Raw(wp.endpoint, wp.token)
    try:
        caps = raw.call("hello", timeout=30).body
        assert caps["backends"] == [] and "no_such_module" in caps["load_error"]
        err = raw.call("generate", body={"prompt": "x"})
        assert err.body["code"] == "backend_unavailable"
        assert "no_such_module" in err.body["message"]
        assert raw.call("status").body["state"] == "idle"  # still serving
    finally:
        raw.close()
        wp.stop()


def test_bad_backend_option_exits_with_a_message():
    out = subprocess.run([sys.executable, "-m", "worker", "--backend-option", "nodot"],
                         cwd=REPO, env={**os.environ, **QUIET_ENV}, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "NAME.KEY=VALUE" in out.stderr
