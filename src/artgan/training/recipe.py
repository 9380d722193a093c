"""Training defaults chosen from the dataset: what an expert would set by hand.

Every :class:`~artgan.config.TrainConfig` field listed in :data:`AUTO_FIELDS` may be left
``None``, meaning "choose from the data". :func:`resolve` fills them from the number of
images, their sizes and the resolution, and says why, so the choices can be printed at the
start of training and kept in the run's ``config.json``. Values the user gave are kept.

The rules (the measurements behind them: ``docs/benchmarks/generator-recipe.md``):

- **batch**: 32 up to 64 px, 16 at 128 px, 8 above. On a CPU a step's time grows with
  pixels, and at high resolution more, smaller steps learn faster per minute.
- **lr_g / lr_d**: G 2e-4 (DCGAN/FastGAN's value; Adam betas (0.5, 0.99)); D the family's
  (``families.FAMILIES[family].lr_d``): three times G's for resgan (the two time-scale
  rule), G's own for the dcgan baseline.
- **r1_gamma**: 0.1 at 64 px and batch 32 (measured to work here), scaled with
  resolution^2 / batch as in StyleGAN2-ADA's automatic configuration: the gradient
  penalty must grow with the number of pixels it sums over.
- **ema_kimg**: 2 kimg at batch 32, proportional to the batch, so the EMA averages over
  the same number of steps.
- **augment**: the family's. resgan adds a mild zoom and rotation (``geometric``) before
  colour, translation and cutout, which helped most at the coarse level (colour and
  layout); dcgan, the baseline, keeps DiffAugment's three.
- **augment_p** (ADA's starting value): higher for fewer images, 0.4 for a single image,
  about 0.29 for 14, 0.15 for 300; ADA then adapts it during training.
- **crop_size** (patch mode): with 4 images or fewer, crops of a third of the shorter side
  in source pixels (at least the resolution), so a single painting gives many different
  training images. ``0`` forces whole-image crops.
- **loss**: the family's: hinge for resgan (lower SWD than the non-saturating loss); dcgan
  keeps the paper's non-saturating loss, being the baseline.
- **min_scale**: in whole-image mode 1.0, so every training crop is a whole work's
  shorter side, the distribution ``artgan evaluate`` compares with; zoomed crops are
  measurably further from it. Patch mode keeps 0.6: multi-scale patches are its point.
- **reuse_fakes**: the family's. resgan's G step backpropagates through the fakes of the
  D step just before (one G forward per iteration: more images per second, the same SWD
  per kimg); dcgan, the baseline, draws fresh fakes as the paper does.

Half the training crops are always mirrored (``data.CropSampler``): it doubles a small
set, and training without it scored worse.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..config import TrainConfig
from ..families import DEFAULT_FAMILY, FAMILIES

AUTO_FIELDS = (
    "batch",
    "lr_g",
    "lr_d",
    "r1_gamma",
    "ema_kimg",
    "augment",
    "augment_p",
    "crop_size",
    "min_scale",
    "loss",
    "reuse_fakes",
)
PATCH_MODE_MAX_IMAGES = 4


def suggest(
    n_images: int,
    resolution: int,
    min_short_side: int,
    batch: int | None = None,
    crop_size: int | None = None,
    family: str = DEFAULT_FAMILY,
) -> dict[str, tuple[object, str]]:
    """{field: (value, reason)} for every field in :data:`AUTO_FIELDS`; a given ``batch``
    or ``crop_size`` is used for the rules that depend on it."""
    r = resolution
    batch = batch or (32 if r <= 64 else 16 if r <= 128 else 8)
    gamma = round(0.1 * (r / 64) ** 2 * (32 / batch), 4)
    p0 = round(min(0.4, max(0.1, 0.4 - 0.1 * math.log10(max(1, n_images)))), 3)
    out: dict[str, tuple[object, str]] = {
        "batch": (batch, f"{r} px"),
        "lr_g": (2e-4, "standard"),
        "lr_d": (FAMILIES[family].lr_d, f"{family}'s D rate"),
        "r1_gamma": (gamma, f"0.1 x ({r}/64)^2 x 32/{batch}"),
        "ema_kimg": (round(2.0 * batch / 32, 3), f"batch {batch}"),
        "augment": (FAMILIES[family].augment, f"{family}'s set"),
        "augment_p": (p0, f"{n_images} image(s); ADA adapts it"),
    }
    if n_images <= PATCH_MODE_MAX_IMAGES:
        auto_crop = max(r, min_short_side // 3)
        out["crop_size"] = (
            auto_crop,
            f"patch mode: {n_images} image(s), crops of a third of the shorter side ({min_short_side} px)",
        )
    else:
        auto_crop = 0
        out["crop_size"] = (auto_crop, f"{n_images} images: whole-image crops")
    patch = (crop_size if crop_size is not None else auto_crop) > 0
    out["min_scale"] = (
        (0.6, "patch mode: multi-scale patches") if patch else (1.0, "whole-image crops: whole works, no zoom")
    )
    out["loss"] = (FAMILIES[family].loss, f"{family}'s loss")
    reuse = FAMILIES[family].reuse_fakes
    out["reuse_fakes"] = (reuse, f"{family}: " + ("G's step reuses D's fakes" if reuse else "G draws fresh fakes"))
    return out


def resolve(cfg: TrainConfig, n_images: int, min_short_side: int) -> tuple[TrainConfig, dict[str, str]]:
    """Fill the ``None`` fields of ``cfg``; returns the new config and {field: "value (reason)"}."""
    chosen: dict[str, str] = {}
    updates: dict[str, Any] = {}  # each value of the type of its field (suggest's rules)
    for name, (value, why) in suggest(
        n_images, cfg.model.resolution, min_short_side, cfg.batch, cfg.crop_size, cfg.model.family
    ).items():
        if getattr(cfg, name) is None:
            updates[name] = value
            shown = f"{value:g}" if isinstance(value, float) else ",".join(value) if isinstance(value, tuple) else value
            chosen[name] = f"{shown} ({why})"
    return replace(cfg, **updates), chosen
