"""How responsive the studio stays while a job trains: page load and a gallery request,
median and p95 latency, with no job running and with a training job running.

Starts ``artgan studio`` in its own process on a fresh workspace (so the server has the
machine to itself, as it would, and the measuring client does not share its interpreter),
fills the workspace through the HTTP API the way the page does (a collection of paintings,
a short training, ``--gallery`` generated images), then measures, in turn:

- ``page``: ``GET /`` on a new connection (the HTML a browser loads first);
- ``gallery``: the page's gallery refresh through ``gradio_client`` (``/gallery``: the
  queue, the handler listing every output with its provenance, the reply; the images
  themselves are not downloaded, a browser caches them);
- ``noop``: the same round trip through the queue to a handler that does nothing (``/stop``
  with no job), the floor under ``gallery``.

``--n`` requests of each (after ``--warmup`` unmeasured rounds), first with the worker
idle, then while a training job (``--train-minutes`` at ``--resolution`` px) runs in the
worker process; the job is cancelled afterwards. ``during_training.job_running_throughout`` says
whether it really was running for every measured request. Figures in milliseconds.

    python benchmarks/studio_latency.py > out.json            # about 4 minutes
    python benchmarks/studio_latency.py --n 200 --data DIR    # DIR: paintings (default the shared set)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit, load_average, log, machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_ART = ROOT.parent / "shared" / "data" / "art"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_page(port: int) -> float:
    """Seconds for ``GET /`` on a new connection, the whole body read; fails on non-200."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    dt = time.perf_counter() - t0
    if resp.status != 200 or b"<html" not in body[:2000].lower():
        raise RuntimeError(f"GET / answered {resp.status}")
    return dt


def _gallery(client: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    items = client.predict(api_name="/gallery")
    return time.perf_counter() - t0, len(items)


def _noop(client: Any) -> float:
    t0 = time.perf_counter()
    client.predict(None, api_name="/stop")  # "No job to stop."
    return time.perf_counter() - t0


def _figures(seconds: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in seconds)
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]  # nearest rank
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(p95, 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
        "n": len(ms),
    }


def _wait_job(client: Any, job: int, until: tuple[str, ...], timeout: float) -> str:
    t0 = time.time()
    status = ""
    while time.time() - t0 < timeout:
        status, _ = client.predict(job, api_name="/job")
        if any(word in status for word in until):
            return status
        if any(word in status for word in ("**failed**", "**cancelled**")):
            raise RuntimeError(f"job {job}: {status}")
        time.sleep(0.5)
    raise RuntimeError(f"job {job} not {until} after {timeout:.0f} s: {status}")


def _measure(port: int, client: Any, n: int, warmup: int, check: Any = None) -> dict[str, Any]:
    """``n`` page loads, gallery and no-op requests, in turn; ``check()`` every few rounds
    (False when the condition being measured no longer holds)."""
    for _ in range(warmup):
        _get_page(port)
        _gallery(client)
        _noop(client)
    page, gallery, noop, items, held = [], [], [], 0, True
    for i in range(n):
        page.append(_get_page(port))
        dt, items = _gallery(client)
        gallery.append(dt)
        noop.append(_noop(client))
        if check is not None and i % 5 == 4:
            held = held and bool(check())
        if (i + 1) % 25 == 0:
            log(f"  {i + 1}/{n}")
    out: dict[str, Any] = {
        "page": _figures(page),
        "gallery": _figures(gallery),
        "noop": _figures(noop),
        "gallery_items": items,
    }
    if check is not None:
        out["job_running_throughout"] = held and bool(check())
    return out


def _collection_files(data: Path | None, k: int, tmp: Path) -> list[Path]:
    if data is not None and data.is_dir():
        files = sorted(p for p in data.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))[:k]
        if files:
            return files
    log("no paintings found: using synthetic images")
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(k):
        p = tmp / f"synthetic{i}.png"
        Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(p)
        out.append(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="measured requests of each kind per condition (default 100)")
    ap.add_argument("--warmup", type=int, default=5, help="unmeasured requests first (default 5)")
    ap.add_argument("--data", type=Path, default=SHARED_ART, help="paintings for the collection (default: shared)")
    ap.add_argument("--images", type=int, default=6, help="paintings uploaded (default 6)")
    ap.add_argument("--gallery", type=int, default=32, help="images generated for the gallery (default 32)")
    ap.add_argument("--resolution", type=int, choices=(32, 64, 128), default=64, help="training job (default 64)")
    ap.add_argument("--train-minutes", type=float, default=10.0, help="the training job's budget (default 10)")
    ap.add_argument("--workspace", type=Path, default=None, help="keep the workspace here (default: a temp dir)")
    a = ap.parse_args(argv)
    if a.n < 1 or a.warmup < 0 or a.images < 1 or a.gallery < 1:
        ap.error("--n, --images and --gallery must be at least 1, --warmup at least 0")

    from gradio_client import Client, handle_file

    tmp = Path(tempfile.mkdtemp(prefix="studio-latency-"))
    root = a.workspace or tmp / "workspace"
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "artgan", "studio", "--workspace", str(root), "--port", str(port)]
    log(f"starting: {' '.join(cmd)}")
    server_log = open(tmp / "studio.log", "wb")
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=server_log)
    ok = False
    result: dict[str, Any] = {
        "benchmark": "studio_latency",
        "machine": machine_info(),
        "commit": git_commit(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
    }
    try:
        t0 = time.time()
        while True:
            try:
                _get_page(port)
                break
            except (OSError, RuntimeError):
                if server.poll() is not None or time.time() - t0 > 120:
                    raise RuntimeError(f"the studio did not start; see {tmp / 'studio.log'}") from None
                time.sleep(0.5)
        result["startup_seconds"] = round(time.time() - t0, 1)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False, analytics_enabled=False)

        log("filling the workspace: a collection, a short training, generated images")
        files = _collection_files(a.data, a.images, tmp)
        report, _, _ = client.predict("bench", [handle_file(str(p)) for p in files], api_name="/add_collection")
        if "Added" not in report:
            raise RuntimeError(f"upload refused: {report}")
        _, job = client.predict("bench", 0.5, "32", api_name="/train")
        _wait_job(client, job, ("**done**",), 600)
        run = sorted(p.name for p in (root / "runs").iterdir())[-1]
        _, job = client.predict(run, a.gallery, 0, 1.0, False, api_name="/generate")
        _wait_job(client, job, ("**done**",), 600)

        log(f"idle worker: {a.n} rounds (page load, gallery, no-op)")
        result["idle"] = _measure(port, client, a.n, a.warmup)

        _, job = client.predict("bench", a.train_minutes, str(a.resolution), api_name="/train")
        # Measure once the loop trains (images loaded, first SWD taken), not while it starts.
        _wait_job(client, job, ("kimg",), 600)

        def running() -> bool:
            status, _ = client.predict(job, api_name="/job")
            return "**running**" in status

        log(f"training job {job} running: {a.n} rounds (page load, gallery, no-op)")
        result["during_training"] = {
            "job": {"resolution": a.resolution, "minutes": a.train_minutes},
            **_measure(port, client, a.n, a.warmup, check=running),
        }
        client.predict(job, api_name="/cancel")
        result["ratio_median"] = {
            k: round(result["during_training"][k]["median_ms"] / max(result["idle"][k]["median_ms"], 1e-9), 2)
            for k in ("page", "gallery", "noop")
        }
        result["load_average_end"] = load_average()
        ok = True
    finally:
        server.send_signal(signal.SIGINT)  # the studio stops its workers (jobs go back to the queue)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        if ok and a.workspace is None:
            shutil.rmtree(tmp, ignore_errors=True)
        elif not ok:
            log(f"kept for a look: {tmp} (studio.log, the workspace)")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
