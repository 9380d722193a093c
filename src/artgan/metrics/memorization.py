"""Memorisation check: is a generated image a near-copy of a training image?

With 1-500 training images a GAN can simply learn to reproduce them, and FID/KID reward
that. For each generated image we find its nearest training image and compare that
distance with how far training images typically are from *each other*:

    ratio = d(fake, nearest real) / median_j d(real_j, nearest other real)

A ratio near 0 is a copy; about 1 or more means the sample is as far from every training
image as training images are from one another. Dividing by the training set's own
spacing makes one threshold work for varied sets (a series of near-identical sketches
and a set of unrelated photos have very different absolute distances).

Feature space, chosen on purpose: images are resized to 32x32 and blurred (Gaussian,
sigma 1 px), and each (window of an) image is flattened, centred (its mean subtracted)
and L2-normalised, so the distance is ``sqrt(2 - 2 * correlation)`` in [0, 2] and
ignores global brightness/contrast changes. Small translations are absorbed by taking
the minimum over shifts of up to ``max_shift`` px at 32 px (2 px by default, i.e. 4 px
of a 64-px image): the fake's centre window is compared with every shifted window of
the real image; the blur covers the half-pixel offsets in between. Pooled features
(mean/std of random conv maps, say) were rejected: they discard layout, so two
different crops of the same texture would look like copies.

Default threshold 0.5, calibrated on synthetic fields and 64-px crops of the shared
paintings: exact copies score 0; copies shifted by 1-3 px (64-px scale) score <= 0.26;
copies with Gaussian noise of std 0.08 (about 10/255) score <= 0.33; distinct images
from the same distribution score 0.75-1.4 (and half of the training images are above
1 by construction). Crops overlapping a training image by ~85% can score ~0.4: they
are flagged, which is arguably right.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..imaging import make_grid, save_png
from .swd import binomial_blur

__all__ = ["MemorizationResult", "memorization", "write_worst_pairs", "DEFAULT_THRESHOLD"]

DEFAULT_THRESHOLD = 0.5
_SIZE = 32
_CHUNK = 256  # fake images compared at once: bounds the (chunk, M) similarity matrix


@dataclass(frozen=True)
class MemorizationResult:
    """Per-sample results for N generated images against M training images.

    ratios: (N,) nearest distance / typical training NN distance; < threshold = near-copy.
    nearest: (N,) long, index of the nearest training image.
    copy_fraction: share of samples with ratio < threshold.
    distances: (N,) the raw nearest distances, in [0, 2].
    typical: median leave-one-out NN distance among training images.
    threshold: the threshold used for copy_fraction.
    """

    ratios: torch.Tensor
    nearest: torch.Tensor
    copy_fraction: float
    distances: torch.Tensor | None = None
    typical: float = float("nan")
    threshold: float = DEFAULT_THRESHOLD


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Centre and L2-normalise each row. (N, D) -> (N, D)."""
    x = x - x.mean(dim=1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)


def _resize(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 3, 32, 32) float32, antialiased when shrinking, then blurred (sigma 1).

    The blur makes the comparison tolerant of what shift search cannot fix: half-pixel
    offsets and mild noise, both of which decorrelate fine detail.
    """
    x = images.detach().float().cpu()
    if x.shape[-2:] != (_SIZE, _SIZE):
        shrink = min(x.shape[-2:]) > _SIZE
        x = F.interpolate(x, size=(_SIZE, _SIZE), mode="bilinear", align_corners=False, antialias=shrink)
    return binomial_blur(x)


def _centre(x: torch.Tensor, m: int) -> torch.Tensor:
    """Normalised centre windows. (N, 3, 32, 32) -> (N, 3 * (32-2m)^2)."""
    return _unit(x[:, :, m : _SIZE - m, m : _SIZE - m].flatten(1))


def _shifted(x: torch.Tensor, m: int) -> torch.Tensor:
    """Normalised windows at every shift in [-m, m]^2. (N, 3, 32, 32) -> (S, N, D), S = (2m+1)^2."""
    wins = [
        _unit(x[:, :, m + dy : _SIZE - m + dy, m + dx : _SIZE - m + dx].flatten(1))
        for dy in range(-m, m + 1)
        for dx in range(-m, m + 1)
    ]
    return torch.stack(wins)


def _overlap_mask(boxes: torch.Tensor, rows: slice) -> torch.Tensor:
    """(len(rows), M) bool: crop i and crop j come from the same image and their boxes intersect.

    boxes: (M, 4) long as image index, y, x, side.
    """
    a, b = boxes[rows], boxes
    same = a[:, None, 0] == b[None, :, 0]
    ya, xa, sa = a[:, None, 1], a[:, None, 2], a[:, None, 3]
    yb, xb, sb = b[None, :, 1], b[None, :, 2], b[None, :, 3]
    apart = (ya + sa <= yb) | (yb + sb <= ya) | (xa + sa <= xb) | (xb + sb <= xa)
    return same & ~apart


def _nearest(
    query: torch.Tensor, bank: torch.Tensor, exclude_self: bool, boxes: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift-tolerant nearest neighbours. query (N, D), bank (S, M, D) -> distances (N,), indices (N,).

    With ``exclude_self`` (query is the bank), a row's own entry is skipped, and with
    ``boxes`` (M, 4) so is every crop overlapping it; a row with no candidate left gets inf.
    """
    dists, idxs = [], []
    for i in range(0, query.shape[0], _CHUNK):
        q = query[i : i + _CHUNK]
        # Best correlation over shifts for every (query, bank) pair: (chunk, M). A running
        # max over shifts keeps memory at one (chunk, M) matrix.
        sim = q @ bank[0].T
        for s in range(1, bank.shape[0]):
            sim = torch.maximum(sim, q @ bank[s].T)
        if exclude_self:
            rows = torch.arange(q.shape[0])
            sim[rows, rows + i] = -float("inf")
            if boxes is not None:
                sim[_overlap_mask(boxes, slice(i, i + q.shape[0]))] = -float("inf")
        best, idx = sim.max(dim=1)
        # |u - v|^2 = 2 - 2 u.v for unit vectors; clamp round-off below zero.
        dists.append((2.0 - 2.0 * best).clamp_min(0).sqrt())
        idxs.append(idx)
    return torch.cat(dists), torch.cat(idxs)


def memorization(
    fake: torch.Tensor,
    real: torch.Tensor,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_shift: int = 2,
    real_boxes: torch.Tensor | None = None,
) -> MemorizationResult:
    """Nearest-training-image ratios for generated images.

    Args:
        fake: generated images (N, 3, H, W) in [-1, 1].
        real: training images (M, 3, H', W') in [-1, 1], M >= 2 (sizes may differ from fake;
            both are resized to 32x32).
        threshold: ratio below which a sample counts as a near-copy.
        max_shift: largest translation, in pixels at 32x32, that is searched.
        real_boxes: (M, 4) image index, y, x, side of each real crop (from
            ``CropSampler.sample_with_boxes``). When the reals are crops, two overlapping
            crops of one image are nearly the same picture; the typical spacing is then
            measured only between crops that do not overlap, otherwise it would be tiny
            and no copy would ever be flagged.

    Returns:
        :class:`MemorizationResult` with ``ratios`` (N,), ``nearest`` (N,) and ``copy_fraction``.
    """
    if real.dim() != 4 or real.shape[0] < 2:
        raise ValueError(f"memorization needs at least 2 training images (M, 3, H, W), got {tuple(real.shape)}")
    if fake.dim() != 4 or fake.shape[0] < 1:
        raise ValueError(f"memorization needs generated images (N, 3, H, W), got {tuple(fake.shape)}")
    if not 0 <= max_shift < _SIZE // 4:
        raise ValueError(f"max_shift must be in [0, {_SIZE // 4}), got {max_shift}")
    with torch.no_grad():
        xr, xf = _resize(real), _resize(fake)
        bank = _shifted(xr, max_shift)  # (S, M, D)
        real_nn, _ = _nearest(_centre(xr, max_shift), bank, exclude_self=True, boxes=real_boxes)
        real_nn = real_nn[torch.isfinite(real_nn)]
        if real_nn.numel() == 0:  # every crop overlaps every other: fall back to leave-one-out
            real_nn, _ = _nearest(_centre(xr, max_shift), bank, exclude_self=True)
        # A set with exact duplicates can have a median of 0; the floor keeps ratios finite.
        typical = float(real_nn.median().clamp_min(1e-6))
        dist, idx = _nearest(_centre(xf, max_shift), bank, exclude_self=False)
    ratios = dist / typical
    return MemorizationResult(
        ratios=ratios,
        nearest=idx.long(),
        copy_fraction=float((ratios < threshold).float().mean()),
        distances=dist,
        typical=typical,
        threshold=threshold,
    )


def write_worst_pairs(
    result: MemorizationResult,
    fake: torch.Tensor,
    real: torch.Tensor,
    path: str | os.PathLike,
    k: int = 8,
) -> Path:
    """Save a PNG of the ``k`` most copy-like samples: one row per pair, fake left, nearest real right.

    fake (N, 3, H, W) and real (M, 3, H', W') are the tensors passed to :func:`memorization`;
    real images are resized to the fake size for display. Rows are ordered by ratio, lowest first.
    """
    k = max(1, min(k, result.ratios.numel()))
    order = torch.argsort(result.ratios)[:k]
    h, w = fake.shape[-2:]
    rows = []
    for i in order.tolist():
        r = real[int(result.nearest[i])].unsqueeze(0).detach().float().cpu()
        if r.shape[-2:] != (h, w):
            shrink = min(r.shape[-2:]) > min(h, w)
            r = F.interpolate(r, size=(h, w), mode="bilinear", align_corners=False, antialias=shrink)
        rows += [fake[i].detach().float().cpu(), r[0]]
    grid = make_grid(torch.stack(rows), nrow=2)
    shown = ",".join(f"{float(result.ratios[i]):.3f}" for i in order.tolist())
    return save_png(grid, path, metadata={"artgan-metric": "memorization", "ratios": shown})
