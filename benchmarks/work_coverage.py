"""Work coverage: how evenly a trained model's samples spread over the training works.

    python benchmarks/work_coverage.py RUN [RUN ...] --data ../shared/data/art --n 512

For each run, ``n`` samples of its EMA generator (seeds 0..n-1) and ``n`` real evaluation
crops of ``--data`` are each assigned to the training work whose crop is nearest at 16 px
(area-averaged, L2; the bank is ``--bank`` random whole-short-side crops of every work).
At 16 px only colour and layout are left: the level at which SWD finds our generators
furthest from the paintings. A generator that drops or over-weights works scores badly
there even when every single sample looks right.

Prints one JSON document: ``machine``, ``command``, and per run ``fake_counts`` /
``real_counts`` (samples per work, in the source's sorted file order), ``works``,
``max_share_ratio`` / ``min_share_ratio`` (the most and least sampled work's share over
1 / works; 1 / 1 is perfectly even), ``empty_works`` (works no sample is nearest to), and
``median_nn_distance`` (fakes' median 16 px distance to their nearest crop: lower means
closer to the training crops). The real crops' own counts show the method's noise.
Caveat: nearest-neighbour assignment favours works whose crops sit near the middle of
colour space, so a blurry sample tends to land on dark, low-contrast works.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import torch
import torch.nn.functional as F

from _common import git_commit, log, machine_info
from artgan.metrics.evaluate import image_set
from artgan.tasks.generate import Generator

SIDE = 16


def small(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, R, R) -> (N, 3 * 16 * 16): exact area averages (R is a power of two >= 16)."""
    return F.adaptive_avg_pool2d(x, SIDE).flatten(1)


def assign(images: torch.Tensor, bank: torch.Tensor, bank_works: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest bank crop of every image: (work (N,), distance (N,))."""
    works, dists = [], []
    b = small(bank)
    for chunk in images.split(256):
        d = torch.cdist(small(chunk), b)
        dist, idx = d.min(1)
        works.append(bank_works[idx])
        dists.append(dist)
    return torch.cat(works), torch.cat(dists)


def coverage(counts: torch.Tensor) -> dict[str, float | int]:
    share = counts.double() / counts.sum() * len(counts)
    return {
        "max_share_ratio": round(float(share.max()), 3),
        "min_share_ratio": round(float(share.min()), 3),
        "empty_works": int((counts == 0).sum()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run or model folders")
    ap.add_argument("--data", required=True, help="the training images (a folder)")
    ap.add_argument("--n", type=int, default=512, help="samples and real crops per run")
    ap.add_argument("--bank", type=int, default=4096, help="real crops the samples are matched against")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    bank, boxes = image_set(a.data, 64, a.bank, seed=11)
    bank_works = boxes[:, 0]
    n_works = int(bank_works.max()) + 1
    results = []
    for run in a.runs:
        log(f"sampling {run}")
        g = Generator.from_pretrained(run)
        fakes = g(n=a.n, seed=0, output="tensor")
        # Any resolution against the 64 px bank: both sides are compared as 16 px copies.
        reals, _ = image_set(a.data, g.resolution, a.n, seed=0)
        fw, fd = assign(fakes, bank, bank_works)
        rw, _ = assign(reals, bank, bank_works)
        fc, rc = torch.bincount(fw, minlength=n_works), torch.bincount(rw, minlength=n_works)
        results.append(
            {
                "run": str(run),
                "works": n_works,
                "fake_counts": fc.tolist(),
                "real_counts": rc.tolist(),
                **coverage(fc),
                "real": coverage(rc),
                "median_nn_distance": round(float(fd.median()), 3),
            }
        )
    print(
        json.dumps(
            {
                "machine": machine_info(),
                "commit": git_commit(),
                "command": shlex.join([sys.executable, *sys.argv]),
                "n": a.n,
                "bank": a.bank,
                "seconds": round(time.time() - t0, 1),
                "results": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
