"""How far the training crops are from the crops `artgan evaluate` compares with.

    python benchmarks/crop_fidelity.py ../shared/data/art --resolution 64

Both sides are *real* images, so this is the floor under any generator's SWD: a model that
learned the training crops perfectly still scores this against the evaluation set. It
draws the evaluation crops (``metrics.evaluate.image_set``: PIL Lanczos to the resolution,
full shorter side) twice with different seeds (the sampling noise), and the training path
(``CropSampler`` on images kept at resolution / min_scale) with each resampling filter and
crop-scale range. Prints JSON: command, commit, machine, and per setting the SWD x1e3
(per level and average) and the std of the finest Laplacian band (sharpness).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from unittest import mock

import torch
import torch.nn.functional as F

from _common import git_commit, machine_info

from artgan.data import CropSampler, crop_short_side, ingest
from artgan.metrics.evaluate import image_set
from artgan.metrics.swd import laplacian_pyramid, swd


def _figures(reference: torch.Tensor, crops: torch.Tensor) -> dict[str, float]:
    out = {k: round(v, 1) for k, v in swd(reference, crops).items()}
    out["fine_band_std"] = round(float(laplacian_pyramid(crops)[0].std()), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--n", type=int, default=256)
    a = p.parse_args()
    r = a.resolution
    reference, _ = image_set(a.data, r, a.n, seed=0)
    again, _ = image_set(a.data, r, a.n, seed=1)
    rows: dict[str, dict[str, float]] = {"evaluate crops, another draw": _figures(reference, again)}
    real_interpolate = F.interpolate
    for mode in ("bilinear", "bicubic"):
        def interpolate(x, *args, mode_=mode, **kw):  # the sampler's filter, swapped per row
            kw["mode"] = mode_
            return real_interpolate(x, *args, **kw)

        for min_scale in (1.0, 0.6):
            data = ingest(a.data, target_short=crop_short_side(r, min_scale), min_short=r, progress=False)
            sampler = CropSampler(data.images, r, min_scale=min_scale, hflip=min_scale < 1)
            with mock.patch("artgan.data.crops.F.interpolate", interpolate):
                crops = sampler.sample(a.n, torch.Generator().manual_seed(5))
            rows[f"training crops, {mode}, min_scale {min_scale}"] = _figures(reference, crops)
    rows["evaluate crops, another draw"]["fine_band_std_reference"] = round(float(laplacian_pyramid(reference)[0].std()), 4)
    doc = {"benchmark": "crop_fidelity", "command": shlex.join([sys.executable, *sys.argv]), "commit": git_commit(),
           "machine": machine_info(), "resolution": r, "n": a.n, "rows": rows}
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
