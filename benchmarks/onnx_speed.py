"""PyTorch against onnxruntime on the CPU, same models, same threads, in one process.

    python benchmarks/onnx_speed.py --threads 2 --repeats 5 > out.json

Two workloads, each timed call by call with the engines alternating (so a busy spell on a
shared machine hits both), the first call of each a warm-up, medians of ``--repeats``:

- **stylize**: one photo (``--photo``, default ``../shared/data/photos/baboon.jpg``, or a
  procedural image) scaled to ``--side`` px on its long side, stylized at strength 1 with
  seed 0: ``Stylizer.__call__`` (palette + net, one tile at 512 px) against
  ``artgan.export.OnnxStylizer.__call__`` on the exported file (the same pre- and
  post-processing, the noise drawn the same way).
- **generate**: ``--n`` images from a ``--resolution`` px generator: ``Generator(n, seed=0)``
  against ``artgan.export.OnnxGenerator(n, seed=0)`` (the same latents and per-latent noise
  maps, drawn in torch, then one onnxruntime run per 64 images).

Models: ``--stylizer RUN`` / ``--generator RUN``, or by default a stylizer with the shipped
settings trained for 2 steps on a procedural painting, and a resgan with the shipped
model settings trained for ``--gen-kimg`` (0.256: 8 steps) on ``../shared/data/art`` (or
procedural artworks). Speed does not depend on the weights; the few steps only make the
outputs image-sized, so each workload's max abs difference between the engines (also
given) means something.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from _common import git_commit, load_average, log, machine_info
from artgan.config import ModelConfig, StylizerConfig, TrainConfig
from artgan.data.procedural import draw_artwork
from artgan.export import OnnxGenerator, OnnxStylizer, export_generator, export_stylizer
from artgan.imaging import fit_long_side, load_image, pil_to_tensor
from artgan.tasks.generate import Generator
from artgan.tasks.stylize import Stylizer
from artgan.training.loop import train
from artgan.training.stylizer import train_stylizer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PHOTO = SHARED / "photos" / "baboon.jpg"


def alternate(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each engine, alternating call by call; one warm-up call each."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for r in range(repeats + 1):
        for name, fn in calls.items():
            t = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t)
    return times


def summary(times: dict[str, list[float]]) -> dict[str, Any]:
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "all_s": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "onnxruntime_speedup": round(med["torch"] / med["onnxruntime"], 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stylizer", metavar="RUN", default=None, help="a stylizer run (default: trained for 2 steps)")
    ap.add_argument("--generator", metavar="RUN", default=None, help="a generator run (default: initial weights)")
    ap.add_argument("--photo", default=None, help=f"photo to stylize (default: {PHOTO.name} or a procedural one)")
    ap.add_argument("--side", type=int, default=512, help="long side of the photo, px (default: 512)")
    ap.add_argument("--n", type=int, default=64, help="images to generate (default: 64)")
    ap.add_argument("--resolution", type=int, default=64, help="generator resolution without --generator")
    ap.add_argument("--gen-kimg", type=float, default=0.256, help="training of the default generator (kimg)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per engine (median; default: 5)")
    ap.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads (default: 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    machine = machine_info()
    machine["onnxruntime"] = onnxruntime.__version__
    result: dict[str, Any] = {
        "benchmark": "onnx_speed",
        "command": shlex.join([sys.executable, *sys.argv]),
        "commit": git_commit(),
        "machine": machine,
        "threads": args.threads,
        "repeats": args.repeats,
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Stylize one photo.
        sty_run = args.stylizer
        if sty_run is None:
            log("training a stylizer with the shipped settings for 2 steps (its speed is all we need)")
            style = pil_to_tensor(draw_artwork(7, 256))
            cfg = StylizerConfig(minutes=None, steps=2, threads=args.threads)
            sty_run = str(train_stylizer(style, [], cfg, tmp / "stylizer", name="procedural", progress=False))
        export_stylizer(sty_run, tmp / "stylizer.onnx")
        src = Path(args.photo) if args.photo else PHOTO
        img = pil_to_tensor(load_image(src)) if src.exists() else pil_to_tensor(draw_artwork(3, args.side))
        x = fit_long_side(img, args.side)
        st, ost = Stylizer.from_pretrained(sty_run), OnnxStylizer(tmp / "stylizer.onnx", threads=args.threads)
        log(f"stylize {x.shape[-1]}x{x.shape[-2]} px: torch vs onnxruntime, {args.repeats} calls each")
        times = alternate(
            {"torch": lambda: st(x, seed=0, output="tensor"), "onnxruntime": lambda: ost(x, seed=0, output="tensor")},
            args.repeats,
        )
        diff = (st(x, seed=0, output="tensor") - ost(x, seed=0, output="tensor")).abs().max()
        result["stylize"] = {
            "model": "given" if args.stylizer else "StylizerConfig() defaults, 2 training steps",
            "photo": src.name if src.exists() else "procedural",
            "size": [int(x.shape[-1]), int(x.shape[-2])],
            **summary(times),
            "max_abs_difference": float(diff),
        }
        # Generate a batch.
        gen_run = args.generator
        if gen_run is None:
            data = SHARED / "art"
            if not data.is_dir():
                data = tmp / "art"
                data.mkdir()
                for i in range(16):
                    draw_artwork(i, 2 * args.resolution).save(data / f"{i:02d}.png")
            log(f"training a {args.resolution} px resgan for {args.gen_kimg:g} kimg on {data}")
            cfg = TrainConfig(
                model=ModelConfig(resolution=args.resolution), data=str(data), kimg=args.gen_kimg, metric_kimg=0
            )
            gen_run = str(train(cfg, tmp / "runs", progress=False))
        export_generator(gen_run, tmp / "gen.onnx")
        g, og = Generator.from_pretrained(gen_run), OnnxGenerator(tmp / "gen.onnx", threads=args.threads)
        log(f"generate {args.n} images at {g.resolution} px: torch vs onnxruntime, {args.repeats} calls each")
        times = alternate(
            {
                "torch": lambda: g(n=args.n, seed=0, output="tensor"),
                "onnxruntime": lambda: og(n=args.n, seed=0, output="tensor"),
            },
            args.repeats,
        )
        diff = (og(n=args.n, seed=0, output="tensor") - g(n=args.n, seed=0, output="tensor")).abs().max()
        result["generate"] = {
            "model": "given" if args.generator else f"ModelConfig() defaults, {args.gen_kimg:g} kimg of training",
            "family": g.config.family,
            "resolution": g.resolution,
            "n": args.n,
            **summary(times),
            "max_abs_difference": float(diff),
        }
    result["load_average_end"] = load_average()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
