"""Training throughput in one process and in several (torchrun + DDP), on this machine.

Prints ONE JSON document to stdout (progress to stderr)::

    python benchmarks/scaling.py > scaling.json                 # about 5 minutes on 2 cores
    python benchmarks/scaling.py --data ../shared/data/art --resolution 64 --batch 32 \
        --warmup 4 --steps 32 --rounds 2

Cases (CPU): ``1x2`` one process with 2 threads, ``1x1`` one process with 1 thread,
``2x1`` two processes with 1 thread each (``torchrun --nproc_per_node 2``, gloo), and the
control ``2x1-apart``: two independent single-thread trainings started together, no DDP, their
images/s added. ``2x1-apart`` over ``1x1`` is what two processes can gain on this machine at
all (shared caches, memory bandwidth, whatever else runs); ``2x1`` over ``2x1-apart`` is the
share of it DDP keeps. With CUDA:
``cuda1`` one process on one GPU and, with several GPUs, ``cudaN`` one process per GPU (NCCL).

Every case is the real training loop (``artgan.train``: data sampling, augmentation, lazy
R1, EMA, DDP's gradient all-reduce, the ADA all-reduce and the per-step stop agreement)
on the same data and config, with ``--batch`` images per process per step, in a fresh
process. Rank 0 logs a stats row after every step; a case's figure is the images of all
processes trained between step ``--warmup`` and step ``--warmup + --steps`` over the
seconds between them (model building, data loading, the first steps, the sample grids
and the final checkpoint are outside the window; ``--steps`` of 32 includes R1 twice,
at its real rate of one step in 16). ``--rounds`` runs every case that many times, the
cases alternating, and the median is reported with every value.

``figures``: ``img_per_s`` per case; ``speedup_2x1_over_1x1`` and ``efficiency_2x1``
(speedup / 2; the target of issue 29 is a speedup >= 1.7, efficiency >= 0.85),
``speedup_2x1_over_1x2`` (two processes against one process using both cores),
``ceiling_2x1_apart_over_1x1`` and ``ddp_share_of_ceiling`` (see the control above).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git_commit, load_average, log, machine_info  # noqa: E402

HERE = Path(__file__).resolve()
DEFAULT_DATA = HERE.parents[2] / "shared" / "data" / "art"


def _worker(a: argparse.Namespace) -> int:
    """One training run (one rank under torchrun), stats row after every step."""
    from artgan.config import ModelConfig, TrainConfig
    from artgan.training.loop import train

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cfg = TrainConfig(
        model=ModelConfig(family=a.family, resolution=a.resolution),
        data=a.data,
        batch=a.batch,
        kimg=(a.warmup + a.steps) * a.batch * world / 1000,
        threads=a.threads,
        metric_kimg=0.0,
        snapshot_kimg=1e6,
        checkpoint_kimg=1e6,
        log_seconds=0.0,
        seed=0,
    )
    train(cfg, a.out, progress=False, device=a.device)
    return 0


def _window(run: Path, warmup: int, steps: int) -> dict[str, float]:
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    by_step = {r["step"]: r for r in rows if "loss/D" in r}
    a, b = by_step[warmup], by_step[warmup + steps]
    images = (b["kimg"] - a["kimg"]) * 1000
    sec = b["sec"] - a["sec"]
    return {"images": round(images), "seconds": round(sec, 2), "img_per_s": round(images / sec, 2)}


def _run_case(
    name: str, procs: int, threads: int, device: str, a: argparse.Namespace, work: Path, apart: bool = False
) -> dict[str, Any]:
    """One case; ``apart``: ``procs`` independent one-process trainings at once, no DDP."""
    outs = [work / f"{name}-{time.time_ns()}-{i}" for i in range(procs if apart else 1)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmds = []
    for out in outs:
        worker = [str(HERE), "--worker", "--data", a.data, "--out", str(out), "--family", a.family]
        worker += ["--resolution", str(a.resolution), "--batch", str(a.batch), "--warmup", str(a.warmup)]
        worker += ["--steps", str(a.steps), "--threads", str(threads), "--device", device]
        if procs == 1 or apart:
            cmds.append([sys.executable, *worker])
        else:
            launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
            cmds.append([*launcher, *worker])
    t0 = time.time()
    running = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    for proc in running:
        _, err = proc.communicate()
        if proc.returncode != 0:
            log(err[-3000:])
            raise SystemExit(f"case {name} failed (exit {proc.returncode})")
    windows = []
    for out in outs:
        (run,) = [p for p in out.iterdir() if p.is_dir()]
        windows.append(_window(run, a.warmup, a.steps))
    result: dict[str, Any] = {
        "images": sum(w["images"] for w in windows),
        "seconds": max(w["seconds"] for w in windows),
        "img_per_s": round(sum(w["img_per_s"] for w in windows), 2),
    }
    if apart:
        result["each_img_per_s"] = [w["img_per_s"] for w in windows]
    result["wall_seconds"] = round(time.time() - t0, 1)
    log(f"{name}: {result['img_per_s']} img/s ({result['images']} images in {result['seconds']} s)")
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="training images (default: ../shared/data/art)")
    p.add_argument("--family", default="resgan")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch", type=int, default=32, help="images per process per step")
    p.add_argument("--warmup", type=int, default=4, help="steps before the timed window")
    p.add_argument("--steps", type=int, default=32, help="steps in the timed window")
    p.add_argument("--rounds", type=int, default=2, help="times every case runs, cases alternating")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return _worker(a)
    if not Path(a.data).is_dir():
        raise SystemExit(f"{a.data}: no such folder (give --data)")

    import torch

    cases = [("1x2", 1, 2, "cpu"), ("1x1", 1, 1, "cpu"), ("2x1", 2, 1, "cpu"), ("2x1-apart", 2, 1, "cpu")]
    if torch.cuda.is_available():
        cases.append(("cuda1", 1, 2, "cuda"))
        if torch.cuda.device_count() > 1:
            cases.append((f"cuda{torch.cuda.device_count()}", torch.cuda.device_count(), 2, "cuda"))
    info = machine_info()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in cases}
    with tempfile.TemporaryDirectory(prefix="artgan-scaling-") as tmp:
        for r in range(a.rounds):
            log(f"round {r + 1} of {a.rounds}")
            for name, procs, threads, device in cases:
                apart = name.endswith("-apart")
                runs[name].append(_run_case(name, procs, threads, device, a, Path(tmp), apart))
    figures: dict[str, Any] = {}
    for name, procs, threads, device in cases:
        rates = [x["img_per_s"] for x in runs[name]]
        figures[name] = {
            "processes": procs,
            "threads_per_process": threads,
            "device": device,
            "img_per_s": round(statistics.median(rates), 2),
            "all_img_per_s": rates,
            "runs": runs[name],
        }
    speedup = figures["2x1"]["img_per_s"] / figures["1x1"]["img_per_s"]
    figures["speedup_2x1_over_1x1"] = round(speedup, 3)
    figures["efficiency_2x1"] = round(speedup / 2, 3)
    figures["target_speedup_2x1"] = 1.7
    figures["speedup_2x1_over_1x2"] = round(figures["2x1"]["img_per_s"] / figures["1x2"]["img_per_s"], 3)
    ceiling = figures["2x1-apart"]["img_per_s"]
    figures["ceiling_2x1_apart_over_1x1"] = round(ceiling / figures["1x1"]["img_per_s"], 3)
    figures["ddp_share_of_ceiling"] = round(figures["2x1"]["img_per_s"] / ceiling, 3)
    doc = {
        "benchmark": "scaling",
        "machine": {**info, "load_average_end": load_average()},
        "command": " ".join([sys.executable, *sys.argv]),
        "git_commit": git_commit(),
        "started_utc": started,
        "config": {
            "data": a.data,
            "family": a.family,
            "resolution": a.resolution,
            "batch_per_process": a.batch,
            "warmup_steps": a.warmup,
            "timed_steps": a.steps,
            "rounds": a.rounds,
        },
        "figures": figures,
    }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
