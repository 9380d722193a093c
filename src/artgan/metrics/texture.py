"""Texture metrics: how close synthesised texture is to its exemplar.

Patch SWD compares crops of the output with crops of the exemplar at full resolution
(texture is about local statistics at their own scale). It is put in context by the
exemplar's *self-distance*: the SWD between crops of its two halves, which is what two
samples of the very same texture score. A ratio near 1 means "as close as the exemplar is
to itself".
"""

from __future__ import annotations

import torch

from ..data.crops import random_crops
from .swd import MIN_LEVEL, swd


def _side(h: int, w: int, patch: int | None) -> int:
    side = min(h, w) if patch is None else min(patch, h, w)
    if side < MIN_LEVEL:
        raise ValueError(f"texture SWD needs crops of at least {MIN_LEVEL} px; the image is {w}x{h}")
    return side


def texture_swd(
    samples: torch.Tensor, exemplar: torch.Tensor, *, patch: int = 64, n: int = 256, seed: int = 0
) -> dict[str, float]:
    """SWD (x1e3, per pyramid level and ``swd/avg``) between ``n`` random crops of the
    samples (N, 3, H, W) and ``n`` of the exemplar (3, h, w), all in [-1, 1]. Crops are
    ``patch`` px, or less if an image is smaller."""
    side = _side(exemplar.shape[-2], exemplar.shape[-1], patch)
    side = _side(samples.shape[-2], samples.shape[-1], side)
    g = torch.Generator().manual_seed(seed)
    per = -(-n // samples.shape[0])
    fake = torch.cat([random_crops(s, per, side, g) for s in samples])[:n]
    real = random_crops(exemplar, n, side, g)
    return swd(fake, real, seed=seed)


def halves_swd(exemplar: torch.Tensor, *, patch: int = 64, n: int = 256, seed: int = 0) -> dict[str, float]:
    """SWD between crops of the exemplar's two halves (split across its longer side): the
    distance two samples of the same texture have, the yardstick for :func:`texture_swd`.
    Crops are ``patch`` px or the half's shorter side, whichever is smaller."""
    _, h, w = exemplar.shape
    if w >= h:
        a, b = exemplar[:, :, : w // 2], exemplar[:, :, w // 2 :]
    else:
        a, b = exemplar[:, : h // 2], exemplar[:, h // 2 :]
    side = _side(a.shape[-2], a.shape[-1], patch)
    g = torch.Generator().manual_seed(seed)
    return swd(random_crops(a, n, side, g), random_crops(b, n, side, g), seed=seed)


def halves_patch(exemplar_hw: tuple[int, int], patch: int = 64) -> int:
    """The crop side :func:`halves_swd` uses for an exemplar of (h, w): compare outputs
    with crops of the same size so the two figures are on one scale."""
    h, w = exemplar_hw
    half = min(h, w // 2) if w >= h else min(h // 2, w)
    return min(patch, half)
