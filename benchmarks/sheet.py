"""A look-at-it sheet for a trained run: real training crops on the left, generated
images on the right, at the run's resolution (patch-mode runs show patches of their own
crop size, as ``artgan evaluate`` compares them).

    python benchmarks/sheet.py RUN --real DATA --out sheet.png [--n 16] [--best]

Prints one JSON line (run, checkpoint, sheet path, seeds) to stdout.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from artgan.imaging import make_grid, save_png
from artgan.metrics.evaluate import image_set
from artgan.tasks.generate import Generator


def sheet(run: str, real: str, n: int = 16, seed: int = 0, which: str = "latest", gap: int = 12) -> torch.Tensor:
    """(3, H, W) in [-1, 1]: a square grid of ``n`` real crops, a gap, ``n`` generated images."""
    g = Generator.from_pretrained(run, which)
    crop = int((g.train_config or {}).get("crop_size") or 0) or None
    reals, _ = image_set(real, g.resolution, n, seed, crop)
    fakes = g(n=n, seed=seed, output="tensor")
    nrow = math.ceil(math.sqrt(n))
    left, right = make_grid(reals, nrow=nrow, pad=4), make_grid(fakes, nrow=nrow, pad=4)
    h = max(left.shape[1], right.shape[1])
    out = torch.zeros(3, h, left.shape[2] + gap + right.shape[2])
    out[:, : left.shape[1], : left.shape[2]] = left
    out[:, : right.shape[1], left.shape[2] + gap :] = right
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run, checkpoint or model folder")
    p.add_argument("--real", required=True, help="the training images (folder, zip or one image)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--n", type=int, default=16, help="images per side")
    p.add_argument("--seed", type=int, default=0, help="first generator seed; also seeds the real crops")
    p.add_argument("--best", action="store_true", help="the run's best checkpoint instead of its latest")
    a = p.parse_args()
    which = "best" if a.best else "latest"
    path = save_png(sheet(a.run, a.real, a.n, a.seed, which), a.out)
    print(json.dumps({"run": a.run, "checkpoint": which, "sheet": str(path), "seeds": [a.seed, a.seed + a.n - 1]}))


if __name__ == "__main__":
    main()
