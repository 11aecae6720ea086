"""The gateway's queue on disk, so that a gateway restart loses no accepted job.

SQLite (standard library) in the gateway's state folder, WAL journal: a row is written when
a job is accepted (before the client hears ``queued``) and deleted after its terminal event
was sent. A crash between the send and the delete re-runs the job after the restart and the
client library drops the second terminal event of a request it has finished (at least once,
never lost). The gateway's session id is kept too, so that clients do not take a quick
restart for a new worker (docs/cluster.md, "Restarting the gateway").
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

from worker.cluster.scheduler import ClusterJob

SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists jobs (
    uid text primary key, seq integer not null, artist text not null, identity blob not null,
    request_id text not null, kind text not null, model text not null, body text not null,
    warnings text not null);
create table if not exists frames (
    uid text not null, idx integer not null, name text not null, shape text not null,
    data blob not null, primary key (uid, idx));
"""


class JobStore:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "gateway-queue.sqlite3"
        self.db = sqlite3.connect(str(self.path), isolation_level=None)  # explicit commits
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=normal")  # survives a process crash; fast
        self.db.executescript(SCHEMA)

    def session(self) -> str:
        """The gateway's session id: made once, the same after every restart."""
        row = self.db.execute("select value from meta where key='session'").fetchone()
        if row:
            return row[0]
        session = secrets.token_hex(8)
        self.db.execute("insert into meta values ('session', ?)", (session,))
        return session

    def next_seq(self) -> int:
        row = self.db.execute("select max(seq) from jobs").fetchone()
        return int(row[0] or 0) + 1

    def put(self, job: ClusterJob) -> None:
        with self.db:  # one transaction
            self.db.execute("begin")
            self.db.execute("insert or replace into jobs values (?,?,?,?,?,?,?,?,?)",
                            (job.uid, job.seq, job.artist, job.identity, job.id, job.kind,
                             job.model, json.dumps(job.body), json.dumps(job.warnings)))
            self.db.executemany("insert or replace into frames values (?,?,?,?,?)",
                                [(job.uid, i, name, json.dumps(shape), data)
                                 for i, (name, shape, data) in enumerate(job.images)])

    def delete(self, uid: str) -> None:
        with self.db:
            self.db.execute("begin")
            self.db.execute("delete from jobs where uid=?", (uid,))
            self.db.execute("delete from frames where uid=?", (uid,))

    def load(self) -> list[ClusterJob]:
        """Every job accepted and not finished, in submission order."""
        jobs = []
        for row in self.db.execute("select uid, seq, artist, identity, request_id, kind, "
                                   "model, body, warnings from jobs order by seq"):
            uid, seq, artist, identity, rid, kind, model, body, warnings = row
            images = [(name, json.loads(shape), bytes(data)) for name, shape, data in
                      self.db.execute("select name, shape, data from frames where uid=? "
                                      "order by idx", (uid,))]
            jobs.append(ClusterJob(uid, artist, bytes(identity), rid, kind, model,
                                   json.loads(body), images, json.loads(warnings), seq=seq))
        return jobs

    def close(self) -> None:
        self.db.close()
