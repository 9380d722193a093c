"""The studio's process model: a supervisor that runs each job in its own worker process.

``python -m artgan.studio.worker --workspace DIR [--workers N]`` runs the supervisor loop
(the ``artgan studio`` app runs the same loop in a thread: :class:`Supervisor`):

1. At start, jobs left ``running`` by a studio that stopped or crashed go back to the
   queue (``JobStore.recover``); a training job keeps its run folder and resumes from its
   last checkpoint.
2. It claims queued jobs, oldest first, up to N at a time, and starts one child per job:
   ``python -m artgan.studio.worker --workspace DIR --run ID`` (stderr to logs/ID.log).
   A job never runs inside a web request, and closing the browser stops nothing.
3. A job whose cancel was requested gets SIGTERM: a training run saves a checkpoint and
   stops, anything else stops at once (SIGKILL if it has not exited after ``grace`` s).
4. The child records its own outcome (done, failed with a one-line error, cancelled, or
   back in the queue when a signal stopped its training). When a child dies without
   recording one, the supervisor does: cancelled if that was asked, retried when the
   process was killed (at most ``MAX_RETRIES`` times), else failed with the log's last
   ``error:`` line. Tracebacks stay in the log.
5. On stop (SIGTERM / SIGINT / :meth:`Supervisor.stop`) every child gets SIGTERM, saves
   its checkpoint, and its job goes back to the queue for the next start.

A child also stops (gracefully, by SIGTERM to itself) when its supervisor's process dies,
so a crashed studio leaves no training running unwatched. One supervisor per workspace:
a lock file (``.supervisor.lock``) refuses a second one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .jobs import Job, JobStore, pid_alive

__all__ = ["EXIT_INTERRUPTED", "MAX_RETRIES", "Supervisor", "SupervisorError", "run_child", "main"]

EXIT_INTERRUPTED = 75  # the child stopped early and put its job back (or cancelled it)
MAX_RETRIES = 2  # times a job whose worker was killed is tried again
LOCK_NAME = ".supervisor.lock"


class SupervisorError(RuntimeError):
    """The supervisor cannot run (another one holds the workspace)."""


@dataclass
class _Child:
    job_id: int
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    term_sent: float | None = None  # when SIGTERM was sent (a cancel)
    extra: dict[str, Any] = field(default_factory=dict)


def _log_path(root: Path, job_id: int) -> Path:
    return root / "logs" / f"{job_id}.log"


def last_error_line(log: Path) -> str | None:
    """The last ``error: ...`` line of a worker's log (its one-line failure), or None."""
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: ") :].strip() or None
    return None


class Supervisor:
    """Runs the queued jobs of the workspace ``root``, ``workers`` at a time, each in a
    child process. :meth:`start` runs the loop in a thread, :meth:`run` in this one.

    ``threads``: torch threads per job when its params give none (default: the CPU count
    divided by ``workers`` when ``workers > 1``, else torch's choice). ``grace``: seconds a
    cancelled or stopped child gets to save its checkpoint before SIGKILL (cancel) or
    before :meth:`stop` returns (stop: the child finishes on its own).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        workers: int = 1,
        *,
        poll: float = 0.5,
        grace: float = 60.0,
        threads: int | None = None,
        python: str = sys.executable,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.root = Path(os.path.realpath(root))
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.store = JobStore(self.root / "studio.db")
        self.workers = workers
        self.poll = poll
        self.grace = grace
        self.threads = (
            threads if threads is not None else (max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None)
        )
        self.python = python
        self.children: dict[int, _Child] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._last_recover = 0.0

    # ---- lifetime
    def start(self) -> None:
        """Recover interrupted jobs and run the loop in a background thread."""
        if self._thread is not None:
            raise SupervisorError("this supervisor is already running")
        self._begin()
        self._thread = threading.Thread(target=self._loop, name="artgan-supervisor", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Recover interrupted jobs and run the loop here until :meth:`stop` (or a signal
        handler calling it)."""
        self._begin()
        self._loop()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming jobs, send SIGTERM to every child and wait (up to ``timeout``,
        default ``grace``) for them to save and exit; their jobs go back to the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=(self.grace if timeout is None else timeout) + 10)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _begin(self) -> None:
        self._lock()
        self._stop.clear()
        back = self.store.recover(self._alive)
        if back:
            print(f"studio: {len(back)} interrupted job(s) back in the queue: {back}", file=sys.stderr, flush=True)

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one studio per workspace by convention
            return
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SupervisorError(
                f"{self.root}: another artgan studio is already running jobs in this workspace"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _alive(self, pid: int) -> bool:
        """A job's pid counts as alive if it is one of our children, ourselves (between a
        claim and its child's start), or a worker process still running on its own."""
        return pid == os.getpid() or any(c.proc.pid == pid for c in self.children.values()) or pid_alive(pid)

    # ---- the loop
    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception as exc:  # noqa: BLE001 - a locked or full disk must not end the loop
                    print(f"studio: supervisor: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    self._stop.wait(max(self.poll, 2.0))
                self._stop.wait(self.poll)
            self._shutdown()
        finally:
            self._unlock()

    def poll_once(self) -> None:
        """One pass: reap finished children, deliver cancels, adopt orphans, claim jobs."""
        for child in list(self.children.values()):
            rc = child.proc.poll()
            if rc is not None:
                self._reap(child, rc)
        self._cancels()
        now = time.time()
        if now - self._last_recover > 5.0:
            # Jobs left running by a worker that outlived an earlier supervisor: once that
            # process is gone, they go back to the queue.
            self._last_recover = now
            self.store.recover(self._alive)
        while not self._stop.is_set() and len(self.children) < self.workers:
            job = self.store.claim_next(os.getpid())
            if job is None:
                break
            self._spawn(job)

    def _spawn(self, job: Job) -> None:
        cmd = [self.python, "-m", "artgan.studio.worker", "--workspace", str(self.root), "--run", str(job.id)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        log = open(_log_path(self.root, job.id), "ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"==== {stamp} job {job.id} ({job.kind}), attempt {job.attempts + 1}\n".encode())
        log.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=self.root,
                start_new_session=True,  # Ctrl-C at the terminal reaches the supervisor, not the jobs
            )
        except OSError as exc:
            log.close()
            self.store.fail(job.id, f"could not start a worker process: {exc}")
            return
        self.store.set_pid(job.id, proc.pid)
        self.children[job.id] = _Child(job.id, proc, log)

    def _cancels(self) -> None:
        for child in list(self.children.values()):
            if child.term_sent is None:
                try:
                    job = self.store.get(child.job_id)
                except KeyError:
                    continue
                if job.cancel_requested:
                    self._signal(child, signal.SIGTERM)
                    child.term_sent = time.time()
            elif time.time() - child.term_sent > self.grace:
                self._signal(child, signal.SIGKILL)

    @staticmethod
    def _signal(child: _Child, sig: signal.Signals) -> None:
        try:
            child.proc.send_signal(sig)
        except (ProcessLookupError, OSError):
            pass

    def _reap(self, child: _Child, rc: int) -> None:
        """Record the outcome of a child that exited without recording one itself."""
        self.children.pop(child.job_id, None)
        child.log.close()
        job = self.store.get(child.job_id)
        if job.status != "running" or job.pid not in (child.proc.pid, os.getpid()):
            return  # the child recorded done / failed / cancelled / back in the queue
        if job.cancel_requested:
            self.store.mark_cancelled(job.id)
        elif self._stop.is_set():
            self.store.requeue(job.id, "interrupted: the studio stopped")
        elif rc < 0:
            name = signal.Signals(-rc).name if -rc in signal.valid_signals() else f"signal {-rc}"
            if job.attempts < MAX_RETRIES:
                self.store.requeue(job.id, f"its worker was killed by {name}; trying again")
            else:
                self.store.fail(job.id, f"its worker process was killed by {name} (see logs/{job.id}.log)")
        else:
            why = last_error_line(_log_path(self.root, job.id))
            self.store.fail(job.id, why or f"its worker process exited with code {rc} (see logs/{job.id}.log)")

    def _shutdown(self) -> None:
        """SIGTERM to every child, then wait up to ``grace`` for them to save and exit."""
        for child in self.children.values():
            self._signal(child, signal.SIGTERM)
        deadline = time.time() + self.grace
        while self.children and time.time() < deadline:
            for child in list(self.children.values()):
                rc = child.proc.poll()
                if rc is not None:
                    self._reap(child, rc)
            time.sleep(0.1)
        # Children still saving finish on their own and put their jobs back themselves; the
        # next supervisor re-queues any that cannot.
        for child in list(self.children.values()):
            child.log.close()
        self.children.clear()


# --------------------------------------------------------------------------- the child


def _watch_parent(ppid: int) -> None:
    """SIGTERM ourselves once if the supervisor's process goes away (we were orphaned):
    training saves a checkpoint and the job goes back to the queue."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != ppid:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_child(root: Path, job_id: int, threads: int | None = None) -> int:
    """Run job ``job_id`` in this process and record its outcome; returns the exit code
    (0 done or cancelled, 1 failed, ``EXIT_INTERRUPTED`` stopped early and re-queued)."""
    import traceback

    root = Path(os.path.realpath(root))
    store = JobStore(root / "studio.db")
    try:
        job = store.get(job_id)
    except KeyError:
        print(f"error: no job {job_id} in {root / 'studio.db'}", file=sys.stderr)
        return 1
    if job.status != "running":
        print(f"job {job_id} is {job.status}, not running: nothing to do", file=sys.stderr)
        return 0
    store.set_pid(job_id, os.getpid())
    _watch_parent(os.getppid())

    def cancelled() -> bool:
        return store.get(job_id).cancel_requested

    from .runner import Interrupted, one_line, run_job

    try:
        result = run_job(job, root, store, cancelled, threads=threads)
    except Interrupted as exc:
        if cancelled():
            store.mark_cancelled(job_id, exc.result)
            print(f"cancelled: {exc}", file=sys.stderr)
        else:
            store.requeue(job_id, f"interrupted ({exc}); it resumes from its checkpoint")
            print(f"interrupted: {exc}; the job is back in the queue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as exc:  # noqa: BLE001 - every failure becomes one line in the store
        traceback.print_exc()
        line = one_line(exc, root)
        print(f"error: {line}", file=sys.stderr, flush=True)
        store.fail(job_id, line)
        return 1
    if cancelled():
        store.mark_cancelled(job_id, result)
    else:
        store.finish(job_id, result)
    return 0


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """``python -m artgan.studio.worker --workspace DIR [--workers N] [--run ID]``."""
    ap = argparse.ArgumentParser(
        prog="python -m artgan.studio.worker", description="Run the studio's queued jobs (or one job with --run)."
    )
    ap.add_argument("--workspace", required=True, metavar="DIR", help="the studio workspace")
    ap.add_argument("--workers", type=int, default=1, help="jobs that run at the same time (default: 1)")
    ap.add_argument("--run", type=int, default=None, metavar="JOB_ID", help="run this one claimed job here (internal)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per job (default: torch's choice)")
    ap.add_argument("--poll", type=float, default=0.5, help="seconds between looks at the queue (default: 0.5)")
    a = ap.parse_args(argv)
    if a.run is not None:
        return run_child(Path(a.workspace), a.run, a.threads)
    if a.workers < 1:
        ap.error(f"--workers {a.workers}: must be at least 1")
    sup = Supervisor(a.workspace, a.workers, poll=a.poll, threads=a.threads)

    def handler(signum: int, _frame: Any) -> None:
        sup._stop.set()  # the loop sends SIGTERM to the children and waits for them

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        sup.run()
    except SupervisorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
