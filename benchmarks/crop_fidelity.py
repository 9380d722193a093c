"""How far the training crops are from the crops `artgan evaluate` compares with.

    python benchmarks/crop_fidelity.py ../shared/data/art --resolution 64 --draws 9 --below 27.1

Both sides are *real* images, so each row is a floor under a generator's SWD: a model that
learned that distribution of crops perfectly still scores it against the evaluation set.
Rows: another draw of the evaluation crops (``metrics.evaluate.image_set``: full shorter
side, never mirrored; the pure sampling noise of SWD with ``--n`` images), and the training
path (``CropSampler`` on images kept at resolution / min_scale) for whole crops of which
half are mirrored (whole-image mode's recipe) and for zoomed, mirrored crops (``min_scale``
0.6, patch mode's range). Whole crops without mirroring are the evaluation crops
themselves (the same sampler; the draws come out identical), so they get no row.

Every row is measured on ``--draws`` independent draws (seed s: evaluation crops of seed s
against the row's crops of seed s + 7919, SWD seeded with s, as ``quality.py``'s floor
does) and reports the median per level, every draw's average, and with ``--below X`` the
share of draws whose average is at most X: how often *real* images would meet an SWD
target of X. Prints JSON: command, commit, machine, rows.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys

import torch

from _common import git_commit, log, machine_info
from artgan.data import CropSampler, crop_short_side, ingest
from artgan.metrics.evaluate import image_set
from artgan.metrics.swd import laplacian_pyramid, swd

# (row name, min_scale, mirrored); None = the evaluation crops themselves
ROWS: tuple[tuple[str, float | None, bool], ...] = (
    ("evaluate crops, another draw", None, False),
    ("training crops, whole, half mirrored (the whole-image recipe)", 1.0, True),
    ("training crops, min_scale 0.6, half mirrored (patch mode's range)", 0.6, True),
)


def summarise(draws: list[dict[str, float]], below: float | None) -> dict[str, object]:
    """Median of each key over the draws, every draw's ``swd/avg``, and the share at or under ``below``."""
    out: dict[str, object] = {
        k: round(statistics.median(d[k] for d in draws), 4 if k.startswith("fine") else 1) for k in draws[0]
    }
    avgs = [d["swd/avg"] for d in draws]
    out["swd/avg_per_draw"] = [round(v, 1) for v in avgs]
    if below is not None:
        out[f"share_of_draws_at_most_{below:g}"] = round(sum(v <= below for v in avgs) / len(avgs), 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--n", type=int, default=256, help="images per side (quality.py's default)")
    p.add_argument("--draws", type=int, default=9, help="independent draws per row (median reported)")
    p.add_argument("--below", type=float, default=None, help="also report the share of draws with SWD <= this")
    a = p.parse_args()
    if a.draws < 1 or a.n < 1:
        raise SystemExit("--draws and --n must be at least 1")
    r = a.resolution
    samplers = {}  # row name -> the training path's sampler (the evaluation row has none)
    for name, min_scale, mirrored in ROWS:
        if min_scale is not None:
            data = ingest(a.data, target_short=crop_short_side(r, min_scale), min_short=r, progress=False)
            samplers[name] = CropSampler(data.images, r, min_scale=min_scale, hflip=mirrored)
    per_row: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in ROWS}
    for s in range(a.draws):
        log(f"draw {s + 1}/{a.draws}")
        reference, _ = image_set(a.data, r, a.n, seed=s)
        for name, _, _ in ROWS:
            if name in samplers:
                crops = samplers[name].sample(a.n, torch.Generator().manual_seed(s + 7919))
            else:
                crops, _ = image_set(a.data, r, a.n, seed=s + 7919)
            figures = swd(crops, reference, seed=s)
            figures["fine_band_std"] = float(laplacian_pyramid(crops)[0].std())
            per_row[name].append(figures)
    rows = {name: summarise(draws, a.below) for name, draws in per_row.items()}
    doc = {
        "benchmark": "crop_fidelity",
        "command": shlex.join([sys.executable, *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        "resolution": r,
        "n": a.n,
        "draws": a.draws,
        "rows": rows,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
