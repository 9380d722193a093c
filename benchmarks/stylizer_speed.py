"""Stylizer speed, channels-last against contiguous memory, in the same run.

    python benchmarks/stylizer_speed.py --seconds 60 --rounds 2 > out.json

Trains the real stylizer loop (``train_stylizer``, shipped settings, generic content, a
procedural painting as the style, so no data is needed) for ``--seconds`` in each memory
format, alternating the formats ``--rounds`` times, and reads its training steps per
second from ``stats.jsonl`` (the median of its 10-second rows, the first row dropped as
warm-up). Then times inference (``models.stylenet.stylize_image``) at 256, 512 and 1024 px
in both formats on the same weights, alternating call by call. The format is switched
through ``training.stylizer.CL`` (the loop's) and ``models.stylenet.MEMORY_FORMAT``
(the one ``stylize_image`` reads).

Prints JSON (command, commit, machine, per-round and median figures) to stdout.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from _common import git_commit, load_average, log, machine_info
from artgan.config import StylizerConfig
from artgan.data.procedural import draw_artwork
from artgan.imaging import pil_to_tensor
from artgan.models import stylenet
from artgan.models.stylenet import StyleNet, stylize_image
from artgan.training import stylizer

FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def train_rate(fmt: str, seconds: float, style: torch.Tensor, threads: int) -> dict[str, float]:
    """Steps per second of ``seconds`` of the real training loop in memory format ``fmt``."""
    stylizer.CL = stylenet.MEMORY_FORMAT = FORMATS[fmt]  # the loop's, and its health checks'
    with tempfile.TemporaryDirectory() as tmp:
        cfg = StylizerConfig(minutes=seconds / 60, threads=threads)
        folder = stylizer.train_stylizer(style, [], cfg, Path(tmp) / "run", progress=False)
        rows = [json.loads(line) for line in (folder.parent / "stats.jsonl").read_text().splitlines()]
        steps = json.loads((folder / "config.json").read_text())["step"]
    rates = [r["steps_per_sec"] for r in rows[1:]] or [r["steps_per_sec"] for r in rows]
    return {"steps_per_sec": round(statistics.median(rates), 3), "steps": steps}


def infer_ms(G: StyleNet, repeats: int) -> dict[str, dict[str, float]]:
    """Per format, median ms of ``stylize_image`` on a random square image of 256, 512 and 1024 px.
    The formats alternate call by call, so a busy spell on a shared machine hits both."""
    nets = {f: copy.deepcopy(G).to(memory_format=m) for f, m in FORMATS.items()}
    times: dict[str, dict[str, list[float]]] = {f: {} for f in FORMATS}
    for side in (256, 512, 1024):
        x = torch.rand(3, side, side, generator=torch.Generator().manual_seed(side)) * 2 - 1
        with torch.no_grad():
            for r in range(repeats + 1):  # the first call of each is a warm-up
                for f, net in nets.items():
                    stylenet.MEMORY_FORMAT = FORMATS[f]
                    t = time.perf_counter()
                    stylize_image(net, x)
                    if r:
                        times[f].setdefault(str(side), []).append(time.perf_counter() - t)
    return {f: {s: round(1000 * statistics.median(v), 1) for s, v in per.items()} for f, per in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="training seconds per format and round")
    ap.add_argument("--rounds", type=int, default=2, help="times each format is trained (alternating)")
    ap.add_argument("--repeats", type=int, default=9, help="timed inferences per size (median)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    style = pil_to_tensor(draw_artwork(7, 512))
    result = {
        "benchmark": "stylizer_speed",
        "command": shlex.join([sys.executable, *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        "train": {f: [] for f in FORMATS},
    }
    for r in range(args.rounds):
        for fmt in FORMATS if r % 2 == 0 else list(FORMATS)[::-1]:
            log(f"round {r + 1}: training {args.seconds:g} s, {fmt}")
            result["train"][fmt].append(train_rate(fmt, args.seconds, style, args.threads))
    G = StyleNet(StylizerConfig()).eval().requires_grad_(False)
    result["infer_ms"] = infer_ms(G, args.repeats)
    med = {f: statistics.median(r["steps_per_sec"] for r in v) for f, v in result["train"].items()}
    result["median_steps_per_sec"] = med
    result["speedup_train"] = round(med["channels_last"] / med["contiguous"], 3)
    result["speedup_infer"] = {
        s: round(result["infer_ms"]["contiguous"][s] / result["infer_ms"]["channels_last"][s], 3)
        for s in result["infer_ms"]["contiguous"]
    }
    result["load_average_end"] = load_average()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
