"""The studio's job system: the SQLite queue, the runner, and the supervisor's worker
processes (a real tiny training job killed mid-run and resumed from its checkpoint)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from artgan.studio.jobs import JobNotFound, JobStore, pid_alive
from artgan.studio.runner import JobError, run_job
from artgan.studio.worker import Supervisor, SupervisorError
from conftest import painting

# A 16 px resgan with 8 channels: a few hundred images a second on two cores.
TINY = {
    "width": 8,
    "max_width": 32,
    "z_dim": 16,
    "batch": 8,
    "snapshot_kimg": 1.0,
    "metric_kimg": 0,
    "log_seconds": 0,
    "grid": 2,
}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with a collection ``art`` of 12 small synthetic paintings."""
    root = tmp_path / "ws"
    (root / "collections" / "art").mkdir(parents=True)
    for i in range(12):
        painting(i, (24, 24)).save(root / "collections" / "art" / f"p{i:02d}.png")
    return root


def wait_for(cond, timeout: float = 60.0, every: float = 0.1):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def ckpt_nimgs(run: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (run / "checkpoints").glob("ckpt-*") if p.is_dir())


# --------------------------------------------------------------------------- the store


def test_queue_order_finish_and_fail(tmp_path):
    store = JobStore(tmp_path / "studio.db")
    ids = [store.enqueue("generate", {"n": i}) for i in range(3)]
    assert ids == sorted(ids) and store.get(ids[0]).status == "queued"
    a = store.claim_next(pid=111)
    assert a is not None and a.id == ids[0] and a.status == "running" and a.pid == 111 and a.started
    b = store.claim_next(pid=111)
    assert b is not None and b.id == ids[1]
    store.set_progress(a.id, 0.5, "half way")
    assert (store.get(a.id).progress, store.get(a.id).message) == (0.5, "half way")
    store.finish(a.id, {"files": ["outputs/1-generate/grid.png"]})
    store.fail(b.id, "RuntimeError: it broke\nTraceback (most recent call last): ...")
    done, failed = store.get(a.id), store.get(b.id)
    assert done.status == "done" and done.progress == 1.0 and done.result == {"files": ["outputs/1-generate/grid.png"]}
    assert failed.status == "failed" and failed.error == "RuntimeError: it broke" and failed.finished
    store.finish(b.id, {})  # a finished job stays as it ended
    assert store.get(b.id).status == "failed"
    assert [j.id for j in store.list()] == ids[::-1]
    assert [j.id for j in store.list(status="queued")] == [ids[2]]
    with pytest.raises(JobNotFound):
        store.get(999)
    # Another connection (another process) sees the same table.
    assert JobStore(tmp_path / "studio.db").get(a.id).params == {"n": 0}


def test_claims_are_atomic(tmp_path):
    store = JobStore(tmp_path / "studio.db")
    for i in range(30):
        store.enqueue("generate", {"i": i})
    got: list[int] = []

    def claimer() -> None:
        s = JobStore(tmp_path / "studio.db")
        while (job := s.claim_next(os.getpid())) is not None:
            got.append(job.id)

    threads = [threading.Thread(target=claimer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 31))  # each job claimed exactly once


def test_cancel_queued_and_running(tmp_path):
    store = JobStore(tmp_path / "studio.db")
    queued, running = store.enqueue("generate", {}), store.enqueue("generate", {})
    store.claim_next(1)  # the first becomes running...
    queued, running = running, queued  # ...so the second is the queued one
    assert store.request_cancel(queued).status == "cancelled"
    assert store.claim_next(1) is None  # a cancelled job is never claimed
    job = store.request_cancel(running)
    assert job.status == "running" and job.cancel_requested
    store.mark_cancelled(running, {"files": []})
    assert store.get(running).status == "cancelled"
    # Requeueing a job whose cancel was requested cancels it instead.
    third = store.enqueue("train", {})
    store.claim_next(1)
    store.request_cancel(third)
    store.requeue(third)
    assert store.get(third).status == "cancelled"


def test_recover_requeues_jobs_whose_process_died(tmp_path):
    store = JobStore(tmp_path / "studio.db")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    a, b = store.enqueue("train", {"collection": "art"}), store.enqueue("train", {"collection": "art"})
    store.claim_next(dead.pid)
    store.set_run_dir(a, "runs/00000-art-resgan-16")
    store.claim_next(os.getpid())  # alive, but not a worker process
    assert not pid_alive(dead.pid) and not pid_alive(os.getpid())
    assert store.recover(lambda pid: pid == os.getpid()) == [a]
    ja, jb = store.get(a), store.get(b)
    assert ja.status == "queued" and ja.attempts == 1 and ja.run_dir == "runs/00000-art-resgan-16" and ja.pid is None
    assert jb.status == "running" and jb.attempts == 0
    assert store.claim_next(5).id == a  # back at its place in the queue


# --------------------------------------------------------------------------- the runner


def test_bad_params_and_paths_are_one_line_errors(ws):
    store = JobStore(ws / "studio.db")
    cases = [
        ("train", {"collection": "nope"}, "collection 'nope'"),
        ("train", {"collection": "../art"}, ".."),
        ("generate", {"run": "/etc"}, "absolute"),
        ("generate", {"run": "runs/../../x"}, ".."),
        ("train", {"collection": "art", "options": {"rm_rf": 1}}, "options.rm_rf"),
        ("stylize", {"photos": ["../../etc/passwd"], "style": "a.jpg"}, ".."),
        ("paint", {}, "unknown job kind"),
    ]
    (ws / "runs").mkdir(exist_ok=True)
    os.symlink("/etc", ws / "runs" / "00009-link")
    cases.append(("generate", {"run": "runs/00009-link"}, "outside the workspace"))
    for kind, params, expect in cases:
        store.enqueue(kind, params)
        job = store.claim_next(1)
        with pytest.raises(ValueError, match=None) as info:
            run_job(job, ws, store)
        assert expect in str(info.value) and "\n" not in str(info.value), (kind, params, str(info.value))
    assert isinstance(JobError("x"), ValueError)


def test_generate_job_writes_pngs_with_provenance(ws):
    from artgan.config import ModelConfig, TrainConfig
    from artgan.training.loop import train

    cfg = TrainConfig(
        model=ModelConfig(resolution=16, width=8, max_width=32, z_dim=16),
        data=str(ws / "collections" / "art"),
        batch=8,
        kimg=0.016,
        metric_kimg=0,
        grid=2,
        threads=1,
    )
    run = train(cfg, ws / "runs", progress=False)
    store = JobStore(ws / "studio.db")
    jid = store.enqueue(
        "generate", {"run": f"runs/{run.name}", "n": 3, "seed": 7, "truncation": 0.8, "interpolate": 2, "frames": 2}
    )
    job = store.claim_next(os.getpid())
    result = run_job(job, ws, store, threading.Event())
    out = ws / "outputs" / f"{jid}-generate"
    assert result["outputs"] == f"outputs/{jid}-generate"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.png", "job.json", "seed00007.png", "seed00008.png", "seed00009.png", "walk.gif"]
    with Image.open(out / "seed00008.png") as im:
        assert im.size == (16, 16)
        assert im.info["artgan:seed"] == "8" and im.info["artgan:truncation"] == "0.8"
        assert im.info["artgan:model"].startswith(run.name) and im.info["Software"].startswith("artgan ")
        assert str(ws) not in json.dumps(im.info)  # no file paths in provenance
    assert json.loads((out / "job.json").read_text())["params"]["seed"] == 7
    # A train job that continues a run (as the Train tab's Resume does) trains in the same folder.
    store.enqueue("train", {"resume": run.name, "kimg": 0.032, "threads": 1})
    resumed = run_job(store.claim_next(os.getpid()), ws, store)
    assert resumed["run"] == f"runs/{run.name}" and resumed["kimg"] == pytest.approx(0.032)
    # A stop before the next chunk ends the job early, keeping what it made.
    store.enqueue("generate", {"run": f"runs/{run.name}", "n": 2})
    stopped = threading.Event()
    stopped.set()
    from artgan.studio.runner import Interrupted

    with pytest.raises(Interrupted):
        run_job(store.claim_next(os.getpid()), ws, store, stopped)


def test_stylize_and_texture_jobs(ws, monkeypatch):
    from artgan.studio.workspace import Workspace

    monkeypatch.setenv("ARTGAN_CACHE", str(ws / "cache"))
    w = Workspace(ws)
    files = {}
    for name, seed in (("photo.png", 1), ("style.png", 2)):
        painting(seed, (56, 48)).save(ws / name)
        files[name] = w.save_upload(name, ws / name, token="t1")  # "uploads/t1/<name>"
    store = JobStore(ws / "studio.db")
    photo, style = files["photo.png"], files["style.png"]
    params = {"photos": [photo, photo.removeprefix("uploads/")], "style": style, "steps": 2, "strength": 0.7}
    jid = store.enqueue("stylize", {**params, "preserve_color": True, "threads": 1})
    result = run_job(store.claim_next(os.getpid()), ws, store)
    assert result["files"] == [f"outputs/{jid}-stylize/photo-1.png", f"outputs/{jid}-stylize/photo.png"]
    with Image.open(ws / result["files"][1]) as im:
        assert (
            im.size == (56, 48) and im.info["artgan:strength"] == "0.7" and im.info["artgan:preserve_color"] == "true"
        )
    jid = store.enqueue(
        "texture",
        {
            "exemplar": style,
            "region": [0, 0, 48, 48],
            "size": [40, 24],
            "n": 2,
            "steps": 2,
            "tileable": True,
            "threads": 1,
        },
    )
    result = run_job(store.claim_next(os.getpid()), ws, store)
    out = f"outputs/{jid}-texture"
    assert result["files"] == [f"{out}/sheet.png", f"{out}/style-region-seed0.png", f"{out}/style-region-seed1.png"]
    with Image.open(ws / out / "style-region-seed1.png") as im:
        assert im.size == (40, 24) and im.info["artgan:tileable"] == "true" and im.info["artgan:seed"] == "1"
    with Image.open(ws / out / "sheet.png") as im:  # each output tiled 2x2
        assert im.size[1] == 2 * 24 + 2 * 6


# --------------------------------------------------------------------------- the supervisor


def test_failing_job_ends_failed_with_one_line(ws):
    store = JobStore(ws / "studio.db")
    bad = store.enqueue("train", {"collection": "missing", "kimg": 0.01})
    empty = ws / "collections" / "empty"
    empty.mkdir()
    (empty / "junk.png").write_bytes(b"not a png")
    no_images = store.enqueue("train", {"collection": "empty", "kimg": 0.01, "threads": 1})
    sup = Supervisor(ws, workers=2, poll=0.1)
    sup.start()
    try:
        with pytest.raises(SupervisorError):
            Supervisor(ws).start()  # one supervisor per workspace
        wait_for(lambda: store.get(bad).done and store.get(no_images).done)
    finally:
        sup.stop()
    for jid in (bad, no_images):
        job = store.get(jid)
        assert job.status == "failed" and job.error and "\n" not in job.error, job
        assert "Traceback" not in job.error and str(ws) not in job.error
        log = (ws / "logs" / f"{jid}.log").read_text()
        assert "Traceback" in log and f"error: {job.error}" in log  # the details stay in the log
    assert "collection 'missing'" in store.get(bad).error
    assert "collections/empty" in store.get(no_images).error and "no usable images" in store.get(no_images).error


def test_training_killed_mid_job_resumes_from_its_checkpoint(ws):
    store = JobStore(ws / "studio.db")
    opts = {**TINY, "checkpoint_kimg": 0.128}
    jid = store.enqueue(
        "train", {"collection": "art", "kimg": 1.28, "resolution": 16, "seed": 1, "threads": 1, "options": opts}
    )
    sup = Supervisor(ws, poll=0.1)
    sup.start()
    try:
        run_rel = wait_for(lambda: store.get(jid).run_dir)
        run = ws / run_rel
        assert run.parent == ws / "runs"
        wait_for(lambda: ckpt_nimgs(run) and ckpt_nimgs(run)[-1] >= 256 and store.get(jid).progress > 0)
        first = store.get(jid)
        assert first.status == "running" and 0 < first.progress < 1 and "kimg" in (first.message or "")
        os.kill(first.pid, signal.SIGKILL)  # a crash: no final checkpoint
        at_kill = ckpt_nimgs(run)[-1]
    finally:
        sup.stop()
    assert store.get(jid).status in ("queued", "running")  # not failed: it will resume
    sup = Supervisor(ws, poll=0.1)  # the studio restarts
    sup.start()
    try:
        job = wait_for(lambda: (j := store.get(jid)).done and j, timeout=90)
    finally:
        sup.stop()
    assert job.status == "done", job
    assert job.run_dir == run_rel and job.result["run"] == run_rel and job.attempts >= 1
    assert job.result["kimg"] == pytest.approx(1.28) and job.result["stopped"] == "budget reached"
    assert sorted(p.name for p in (ws / "runs").iterdir()) == [run.name]  # the same run folder
    assert ckpt_nimgs(run)[-1] == 1280 > at_kill
    log = (ws / "logs" / f"{jid}.log").read_text()
    resumed_from = [int(line.split("ckpt-")[1]) for line in log.splitlines() if line.startswith("resuming ")]
    assert resumed_from and resumed_from[-1] >= at_kill  # continued from its checkpoint, not from zero
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    kimgs = [r["kimg"] for r in rows]
    assert kimgs == sorted(kimgs) and kimgs[-1] == pytest.approx(1.28)  # image count kept growing


def test_cancel_running_training_saves_a_checkpoint(ws):
    store = JobStore(ws / "studio.db")
    jid = store.enqueue(
        "train",
        {"collection": "art", "kimg": 100, "resolution": 16, "threads": 1, "options": {**TINY, "checkpoint_kimg": 50}},
    )
    queued = store.enqueue("generate", {"run": "runs/none"})
    sup = Supervisor(ws, poll=0.1)
    sup.start()
    try:
        wait_for(lambda: "kimg" in (store.get(jid).message or "") and store.get(jid).progress > 0)
        store.request_cancel(queued)
        store.request_cancel(jid)
        job = wait_for(lambda: (j := store.get(jid)).done and j)
    finally:
        sup.stop()
    assert job.status == "cancelled" and job.error is None
    assert job.result["run"] == job.run_dir and job.result["stopped"] == "stopped by SIGTERM"
    assert ckpt_nimgs(ws / job.run_dir)  # the final checkpoint, although none was due
    assert store.get(queued).status == "cancelled" and store.get(queued).started is None


def test_a_crashed_studio_leaves_no_job_running_unwatched(ws):
    """The supervisor process is SIGKILLed: its worker notices, saves a checkpoint and puts
    its job back in the queue for the next start."""
    store = JobStore(ws / "studio.db")
    jid = store.enqueue(
        "train",
        {"collection": "art", "kimg": 100, "resolution": 16, "threads": 1, "options": {**TINY, "checkpoint_kimg": 50}},
    )
    cmd = [sys.executable, "-m", "artgan.studio.worker", "--workspace", str(ws), "--poll", "0.1"]
    sup = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "kimg" in (store.get(jid).message or ""))
    finally:
        sup.kill()
        sup.wait()
    job = wait_for(lambda: (j := store.get(jid)).status == "queued" and j, timeout=30)
    assert job.attempts == 1 and job.run_dir and ckpt_nimgs(ws / job.run_dir)  # saved although none was due
    assert "stopped by SIGTERM" in (ws / "logs" / f"{jid}.log").read_text()
    store.request_cancel(jid)
    assert store.get(jid).status == "cancelled"
