"""The studio's job table: one SQLite file (``WORKSPACE/studio.db``) shared by the web app,
the supervisor and the worker processes.

Every method opens its own short connection, so a :class:`JobStore` can be used from any
thread or process; WAL mode lets readers (the page) carry on while a worker writes, and a
busy timeout makes concurrent writers wait instead of failing. Job states::

    queued -> running -> done | failed | cancelled
       ^         |
       +---------+   (recover / requeue: the worker died or was stopped; attempts + 1)

A ``queued`` job can also go straight to ``cancelled``. Only this module writes the table.
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STATUSES", "Job", "JobStore", "JobNotFound", "pid_alive"]

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT,
    result TEXT,
    error TEXT,
    run_dir TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, id);
"""


class JobNotFound(KeyError):
    """No job with that id."""


@dataclass(frozen=True)
class Job:
    """One row of the job table, as read at one moment (a snapshot; re-``get`` to refresh).

    ``params`` and ``result`` are the decoded JSON objects; ``run_dir`` is workspace-relative
    (a training job's run folder, recorded as soon as it exists); ``elapsed`` is the seconds
    of work done in earlier and current attempts (a resumed training job's ``minutes``
    budget is what remains of it); ``attempts`` counts how often the job was put back in
    the queue after its worker died or was stopped.
    """

    id: int
    kind: str
    params: dict[str, Any]
    status: str
    created: float
    started: float | None
    finished: float | None
    pid: int | None
    cancel_requested: bool
    progress: float
    message: str | None
    result: dict[str, Any] | None
    error: str | None
    run_dir: str | None
    attempts: int
    elapsed: float

    @property
    def done(self) -> bool:
        """True once the job reached a final state (done, failed or cancelled)."""
        return self.status in FINAL


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=int(row["id"]),
        kind=str(row["kind"]),
        params=json.loads(row["params"] or "{}"),
        status=str(row["status"]),
        created=float(row["created"]),
        started=row["started"],
        finished=row["finished"],
        pid=row["pid"],
        cancel_requested=bool(row["cancel_requested"]),
        progress=float(row["progress"] or 0.0),
        message=row["message"],
        result=json.loads(row["result"]) if row["result"] else None,
        error=row["error"],
        run_dir=row["run_dir"],
        attempts=int(row["attempts"] or 0),
        elapsed=float(row["elapsed"] or 0.0),
    )


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` is a live (not zombie) studio worker process.

    On Linux the process's command line must name ``artgan.studio.worker`` too, so a pid
    reused by an unrelated program after a crash or a reboot does not keep a job ``running``
    for ever. (A supervisor's own pid is only stored for the moment between claiming a job
    and starting its worker.)
    """
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else: checked below where /proc allows
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return True  # no /proc (macOS): existence is all we can tell
    try:
        stat = (proc / "stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False  # exited, not yet reaped
        return b"artgan.studio.worker" in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False


class JobStore:
    """The job table in the SQLite file ``db_path`` (created on first use)."""

    def __init__(self, db_path: str | os.PathLike[str], timeout: float = 30.0) -> None:
        self.path = Path(db_path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    # ---- plumbing
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection in autocommit mode (transactions are explicit)."""
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, never corrupt
            yield con
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (BEGIN IMMEDIATE)."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _update(self, job_id: int, where: str, **values: Any) -> bool:
        """Set ``values`` on job ``job_id`` if ``where`` holds; True if a row changed."""
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._write() as con:
            cur = con.execute(f"UPDATE jobs SET {cols} WHERE id = ? AND ({where})", (*values.values(), job_id))
            return cur.rowcount > 0

    # ---- reading
    def get(self, job_id: int) -> Job:
        """The job ``job_id``; raises :class:`JobNotFound`."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return _job(row)

    def list(self, limit: int = 100, status: str | None = None) -> list[Job]:
        """The newest ``limit`` jobs (optionally only those in ``status``), newest first."""
        with self._connect() as con:
            if status is None:
                rows = con.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
            else:
                rows = con.execute(
                    "SELECT * FROM jobs WHERE status = ? ORDER BY id DESC LIMIT ?", (status, int(limit))
                ).fetchall()
        return [_job(r) for r in rows]

    # ---- the queue
    def enqueue(self, kind: str, params: dict[str, Any]) -> int:
        """Add a ``queued`` job; returns its id. ``params`` must be JSON-serialisable."""
        text = json.dumps(params, sort_keys=True)
        with self._write() as con:
            cur = con.execute(
                "INSERT INTO jobs (kind, params, status, created) VALUES (?, ?, 'queued', ?)",
                (kind, text, time.time()),
            )
            return int(cur.lastrowid or 0)

    def claim_next(self, pid: int) -> Job | None:
        """Atomically take the oldest queued job: it becomes ``running`` under ``pid``.
        Returns None when nothing is queued. Two claimers never get the same job."""
        with self._write() as con:
            row = con.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            con.execute(
                "UPDATE jobs SET status = 'running', pid = ?, started = ?, finished = NULL, error = NULL WHERE id = ?",
                (int(pid), time.time(), row["id"]),
            )
            job_id = int(row["id"])
        return self.get(job_id)

    def set_pid(self, job_id: int, pid: int) -> None:
        """Record the worker process that runs a ``running`` job."""
        self._update(job_id, "status = 'running'", pid=int(pid))

    def set_progress(
        self, job_id: int, progress: float, message: str | None = None, *, elapsed: float | None = None
    ) -> None:
        """Progress in [0, 1] and a short status line of a running job (``elapsed``: seconds
        of work so far, over all attempts)."""
        values: dict[str, Any] = {"progress": min(1.0, max(0.0, float(progress))), "message": message}
        if elapsed is not None:
            values["elapsed"] = float(elapsed)
        self._update(job_id, "status = 'running'", **values)

    def set_run_dir(self, job_id: int, rel: str) -> None:
        """Record a training job's run folder (workspace-relative) as soon as it exists."""
        self._update(job_id, "1", run_dir=str(rel))

    def finish(self, job_id: int, result: dict[str, Any] | None = None) -> None:
        """A running job succeeded; ``result`` (JSON) says what it made."""
        self._end(job_id, "done", result=result)

    def fail(self, job_id: int, error: str) -> None:
        """A job failed; ``error`` is kept to its first line (tracebacks belong in the log)."""
        line = next((ln.strip() for ln in str(error).splitlines() if ln.strip()), "failed")
        self._end(job_id, "failed", error=line[:500])

    def mark_cancelled(self, job_id: int, result: dict[str, Any] | None = None) -> None:
        """A running job stopped because it was asked to (``result``: what it made before)."""
        self._end(job_id, "cancelled", result=result)

    def _end(self, job_id: int, status: str, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        # The running status line ("12.5 kimg") means nothing once the job has ended.
        values: dict[str, Any] = {"status": status, "finished": time.time(), "error": error, "message": None}
        if result is not None:
            values["result"] = json.dumps(result, sort_keys=True)
        if status == "done":
            values["progress"] = 1.0
        self._update(job_id, "status IN ('queued', 'running')", **values)

    def request_cancel(self, job_id: int) -> Job:
        """Cancel a job: a queued one at once; a running one gets ``cancel_requested`` (its
        supervisor stops the worker, and a training run saves a checkpoint first). Jobs
        already finished are left alone. Returns the job as it is now."""
        with self._write() as con:
            con.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ? WHERE id = ? AND status = 'queued'",
                (time.time(), int(job_id)),
            )
            con.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (int(job_id),))
        return self.get(job_id)

    def requeue(self, job_id: int, message: str | None = None) -> bool:
        """Put a running job back in the queue (its worker was stopped or died): it keeps
        ``run_dir`` so training resumes; ``attempts`` + 1. A job whose cancel was requested
        becomes ``cancelled`` instead. True if the job was running."""
        with self._write() as con:
            row = con.execute(
                "SELECT cancel_requested FROM jobs WHERE id = ? AND status = 'running'", (int(job_id),)
            ).fetchone()
            if row is None:
                return False
            if row["cancel_requested"]:
                con.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, pid = NULL WHERE id = ?",
                    (time.time(), int(job_id)),
                )
            else:
                con.execute(
                    "UPDATE jobs SET status = 'queued', pid = NULL, attempts = attempts + 1, message = ? WHERE id = ?",
                    (message, int(job_id)),
                )
            return True

    def recover(self, is_alive: Callable[[int], bool] = pid_alive) -> builtins.list[int]:
        """At startup: every ``running`` job whose process is gone goes back to ``queued``
        (see :meth:`requeue`). Returns the ids put back (or cancelled, if that was asked)."""
        with self._connect() as con:
            rows = con.execute("SELECT id, pid FROM jobs WHERE status = 'running'").fetchall()
        back = []
        for row in rows:
            if not is_alive(row["pid"]) and self.requeue(int(row["id"]), "resumed after the studio restarted"):
                back.append(int(row["id"]))
        return back
