"""Tries of one training job on a shared adapter folder (a cluster, docs/cluster.md).

A gateway that loses a node runs the job again elsewhere; the lost node may not be dead (a
Ray node's actor outlives its raylet for seconds, a network cut for longer). Each try passes
``attempt=(job id, token)`` to ``job.train``, a new token per try:

- the newest try *claims* the run: its token goes into the run's ``run.json`` (atomically)
  before it loads the checkpoint, or with the run file of a fresh run;
- every try checks the claim before each checkpoint and before writing the adapter; an older
  try that finds another token (or the run finished by another try of this job) stops with
  ``superseded`` and writes nothing more, so two processes never train one run;
- the adapter records the job id, so a try of a job whose adapter an earlier try already
  wrote (its result lost on the way) hands that adapter back instead of training it again.

A desktop worker passes no attempt: nothing here applies to it.
"""

from __future__ import annotations

import json
from pathlib import Path

from t2i_core.errors import T2IError
from t2i_core.finetune.library import AdapterLibrary, read_metadata

RUN_FILE = "run.json"


def run_info(run: Path) -> dict | None:
    """The run's ``run.json`` (fingerprint, settings, request, claim), None if unreadable."""
    try:
        info = json.loads((run / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def adapter_job(library: AdapterLibrary, name: str) -> str | None:
    """The job id an adapter was trained by (only tries of a cluster job record one)."""
    try:
        job = read_metadata(library.path_of(name)).get("job")
    except T2IError:
        return None
    return job if isinstance(job, str) else None


def claim(run_dir: Path, attempt: tuple[str, str] | None) -> None:
    """This try owns the run from now on (written atomically into run.json)."""
    info = run_info(run_dir)
    if attempt is None or info is None:
        return
    info["attempt"] = list(attempt)
    tmp = run_dir / f".{RUN_FILE}.{attempt[1]}.tmp"
    try:
        tmp.write_text(json.dumps(info, indent=1))
        tmp.replace(run_dir / RUN_FILE)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise T2IError("write_failed", f"could not take over the run in {run_dir}: {e}; "
                       "check the folder's permissions and free space") from e


def superseded(library: AdapterLibrary, name: str, attempt: tuple[str, str]) -> bool:
    """Whether another try now owns this run: its token is in run.json, or it finished (the
    run folder is gone and the adapter carries this job's id)."""
    info = run_info(library.run_dir(name))
    if info is None:
        return library.exists(name) and adapter_job(library, name) == attempt[0]
    owner = info.get("attempt")
    return isinstance(owner, list) and owner != list(attempt)
