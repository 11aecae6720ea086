"""``WorkerClient.submit_train``: a train request from the reference client, against a real
worker (the built-in backend on tiny random weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from worker.client import WorkerClient
from worker.protocol import TrainParams


def _folder(root: Path) -> Path:
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        rgba = np.zeros((32, 32, 4), np.uint8)
        rgba[8:24, 8:24] = (*rng.integers(0, 255, 3), 255)
        Image.fromarray(rgba).save(root / f"square-{i}.png")
        (root / f"square-{i}.txt").write_text("a square icon")
    return root


def test_submit_train_runs_a_train_job_and_reports_like_one(builtin_worker, tmp_path):
    client = WorkerClient(builtin_worker.endpoint, builtin_worker.token, spawn=False)
    try:
        missing = client.submit_train(folder=str(tmp_path / "nope"), name="x").wait(60)
        assert missing.type == "error" and missing.body["code"] == "folder_not_found"
        events = []
        req = client.submit_train(TrainParams(folder=str(_folder(tmp_path / "imgs")),
                                              name="client-train", steps=2, batch=2,
                                              sample_every=0),
                                  on_event=events.append)
        result = req.result(300)
        assert result.body["steps"] == 2 and result.body["name"].startswith("client-train")
        assert Path(result.body["path"]).is_file()
        assert "queued" in [e.type for e in events] and any(
            e.type == "progress" and e.body.get("phase") for e in events)
    finally:
        client.close()
