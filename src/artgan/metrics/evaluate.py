"""`artgan evaluate`: every pretrained-free metric for a set of generated images.

Real images are random crops of the training data at the evaluation resolution (the same
crops training sees, full shorter side, seeded); fakes are a folder of images or samples
of a run's EMA generator.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from ..data import CropSampler, DatasetError, crop_short_side, ingest
from .diversity import diversity
from .kid import kid_fid_images
from .memorization import memorization, write_worst_pairs
from .swd import swd


def image_set(
    source: str | os.PathLike, resolution: int, n: int, seed: int, crop_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random square crops (n, 3, R, R) in [-1, 1] of the images under ``source``,
    and their boxes (n, 4) (image index, y, x, side). Crops cover the full shorter side,
    or with ``crop_size`` (patch mode) that many source pixels."""
    if crop_size:
        data = ingest(source, target_short=1 << 30, min_short=crop_size, progress=False)
    else:
        data = ingest(source, target_short=crop_short_side(resolution, 1.0), min_short=resolution, progress=False)
    if not data.images:
        raise DatasetError(f"{source}: no usable images" + (f"; rejected:\n{data.report()}" if data.rejected else ""))
    sampler = CropSampler(data.images, resolution, crop_size=crop_size or None, min_scale=1.0, hflip=False)
    return sampler.sample_with_boxes(n, torch.Generator().manual_seed(seed))


def evaluate(
    real: str | os.PathLike,
    *,
    fake: str | os.PathLike | None = None,
    run: str | os.PathLike | None = None,
    resolution: int | None = None,
    n: int = 256,
    seed: int = 0,
    worst_pairs: str | os.PathLike | None = None,
    which: str = "latest",
    crop_size: int | None = None,
) -> dict[str, Any]:
    """Compare ``fake`` (a folder) or ``run`` (a model/run folder) with ``real``.

    Returns a flat dict: swd/* (x1e3), kid, kid_std, fid, extractor, diversity
    (mean pairwise MS-SSIM, lower = more varied), copies (fraction of near-copies),
    plus n, resolution and seconds. ``which`` picks a run's latest or best checkpoint.
    ``crop_size`` compares with patches of that many source pixels (patch mode); for a
    run trained in patch mode it defaults to the run's own crop size.
    """
    if (fake is None) == (run is None):
        raise ValueError("give exactly one of fake (a folder of images) or run (a model/run folder)")
    t0 = time.time()
    if run is not None:
        from ..tasks.generate import Generator

        g = Generator.from_pretrained(run, which)
        resolution = resolution or g.resolution
        fakes = g(n=n, seed=seed, output="tensor")
        if fakes.shape[-1] != resolution:
            fakes = torch.nn.functional.interpolate(
                fakes, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
            )
        source = str(g.folder)
        if crop_size is None:
            crop_size = int((g.train_config or {}).get("crop_size") or 0) or None
    else:
        assert fake is not None  # exactly one of fake / run, checked above
        resolution = resolution or 64
        fakes, _ = image_set(fake, resolution, n, seed + 1)
        source = str(fake)
    reals, boxes = image_set(real, resolution, n, seed, crop_size)
    out: dict[str, Any] = {
        "real": str(real),
        "fake": source,
        "resolution": resolution,
        "n": n,
        "seed": seed,
        "crop_size": crop_size or 0,
    }
    out.update(swd(fakes, reals, seed=seed))
    out.update(kid_fid_images(fakes, reals, seed=seed))
    out["diversity"] = diversity(fakes, seed=seed)
    mem = memorization(fakes, reals, real_boxes=boxes)
    out["copies"] = mem.copy_fraction
    if worst_pairs is not None:
        out["worst_pairs"] = str(write_worst_pairs(mem, fakes, reals, worst_pairs))
    out["seconds"] = round(time.time() - t0, 1)
    return out


def format_table(result: dict[str, Any]) -> str:
    """A readable two-column table of ``evaluate``'s result."""
    rows = [(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in result.items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
