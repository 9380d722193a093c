"""Sliced Wasserstein distance between local patch statistics (after Karras et al. 2018).

Progressive GAN ("Progressive growing of GANs", appendix D) compares two image sets by
the distribution of small patches at every level of a Laplacian pyramid: fine levels
see texture and noise, coarse levels see colour and layout. Each level's distance is a
sliced Wasserstein distance: project both patch sets onto many random unit directions,
where the 1-D Wasserstein-1 distance is just the mean gap between sorted values.

Needs no pretrained network, so figures are comparable across machines and runs as long
as the parameters (seed, patches per image, directions) are the same.

Differences from the paper's recipe, on purpose:

- Descriptors are normalised per channel by the mean/std of the *union* of both sets
  (the original normalised each set by its own statistics, which hides a global colour
  or contrast shift - exactly what a style metric should see).
- Both sets draw their patch positions from identically seeded streams ("common random
  numbers"), so the result does not depend on argument order and a set against itself
  scores exactly zero.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.common import separable_blur

__all__ = ["swd", "laplacian_pyramid", "binomial_blur"]

PATCH = 7  # 7x7 neighbourhoods, as in the paper
MIN_LEVEL = 16  # the coarsest pyramid level is at least this many pixels on its short side
_DIRECTION_CHUNK = 128  # directions projected at once: bounds memory at (K, 128) floats
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # the classic pyramid filter


def binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """Separable 5-tap binomial blur (a Gaussian of sigma 1), reflect padding. (N, C, H, W) -> same shape."""
    return separable_blur(x, _BINOMIAL, (2, 2))


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur then keep every other pixel. (N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2))."""
    return binomial_blur(x)[:, :, ::2, ::2]


def _pyr_up(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Zero-insertion upsampling then blur x4 (keeps brightness). -> (N, C, *size)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return (binomial_blur(up) * 4.0)[:, :, : size[0], : size[1]]


def laplacian_pyramid(images: torch.Tensor, min_size: int = MIN_LEVEL) -> list[torch.Tensor]:
    """Laplacian pyramid, finest level first. (N, C, H, W) -> [(N, C, H, W), (N, C, H/2, W/2), ...].

    Halves the resolution while the next level's short side stays >= ``min_size``; the
    last entry is the Gaussian (low-pass) residual rather than a band-pass level.
    """
    levels: list[torch.Tensor] = []
    current = images
    while min(current.shape[-2:]) // 2 >= min_size:
        down = _pyr_down(current)
        levels.append(current - _pyr_up(down, current.shape[-2:]))
        current = down
    levels.append(current)
    return levels


def _sample_patches(level: torch.Tensor, count: int, gen: torch.Generator) -> torch.Tensor:
    """``count`` random 7x7 patches per image. (N, C, H, W) -> (N * count, C, 7, 7)."""
    n, c, h, w = level.shape
    ys = torch.randint(0, h - PATCH + 1, (n, count, 1, 1), generator=gen)
    xs = torch.randint(0, w - PATCH + 1, (n, count, 1, 1), generator=gen)
    offs = torch.arange(PATCH)
    rows = ys + offs.view(1, 1, PATCH, 1)  # (N, P, 7, 1)
    cols = xs + offs.view(1, 1, 1, PATCH)  # (N, P, 1, 7)
    idx = torch.arange(n).view(n, 1, 1, 1)
    # Advanced indexing broadcasts to (N, P, 7, 7) and appends the channel axis last.
    patches = level.permute(0, 2, 3, 1)[idx, rows, cols]  # (N, P, 7, 7, C)
    return patches.permute(0, 1, 4, 2, 3).reshape(n * count, c, PATCH, PATCH)


def _sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: int, gen: torch.Generator) -> float:
    """Mean over random unit directions of W1 between projections. a, b: (K, D) -> float."""
    d = a.shape[1]
    total, done = 0.0, 0
    while done < directions:
        m = min(_DIRECTION_CHUNK, directions - done)
        dirs = torch.randn(d, m, generator=gen, dtype=a.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        # Sorting dominates the cost; numpy's vectorised sort is ~3x faster than torch's on
        # CPU, so project to contiguous rows (m, K) and sort those there.
        pa = np.sort((dirs.T @ a.T).numpy(), axis=1)  # (m, K)
        pb = np.sort((dirs.T @ b.T).numpy(), axis=1)
        # For equal-size 1-D samples, W1 is the mean gap between matching order statistics.
        total += float(np.abs(pa - pb).mean(axis=1).sum())
        done += m
    return total / directions


def swd(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    seed: int = 0,
    patches_per_image: int = 128,
    directions: int = 512,
) -> dict[str, float]:
    """Sliced Wasserstein distance (x1e3) between two image sets, per pyramid level.

    Args:
        a: images (N, 3, H, W) in [-1, 1].
        b: images (M, 3, H, W) in [-1, 1], the same H and W as ``a``.
        seed: seeds patch positions, the subsample of the larger set, and the directions.
        patches_per_image: random 7x7 patches drawn per image and level.
        directions: random projections per level (the paper used 4 repeats x 128).

    Returns:
        ``{"swd/64": ..., "swd/32": ..., "swd/16": ..., "swd/avg": ...}``, keys named by
        each level's short side (finest first), values multiplied by 1e3. Lower is closer.
        Deterministic for a seed and symmetric in ``a`` and ``b``.
    """
    if a.dim() != 4 or b.dim() != 4 or a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"swd needs two batches (N, C, H, W) of the same image size, got {tuple(a.shape)} "
            f"and {tuple(b.shape)}; resize one set first"
        )
    if min(a.shape[-2:]) < MIN_LEVEL:
        raise ValueError(f"swd needs images of at least {MIN_LEVEL} px, got {tuple(a.shape[-2:])}")
    if a.shape[0] < 1 or b.shape[0] < 1:
        raise ValueError("swd needs at least one image in each set")

    with torch.no_grad():
        pyr_a = laplacian_pyramid(a.detach().float().cpu())
        pyr_b = laplacian_pyramid(b.detach().float().cpu())
        # Each set gets its own generator with the same seed: a set's patches depend only on
        # the seed and the set itself, never on whether it was passed first or second.
        gen_a = torch.Generator().manual_seed(seed)
        gen_b = torch.Generator().manual_seed(seed)
        gen_dir = torch.Generator().manual_seed(seed + 1)
        out: dict[str, float] = {}
        for la, lb in zip(pyr_a, pyr_b):
            da = _sample_patches(la, patches_per_image, gen_a)  # (Ka, C, 7, 7)
            db = _sample_patches(lb, patches_per_image, gen_b)  # (Kb, C, 7, 7)
            # Per-level, per-channel normalisation by the union of both sets: Laplacian
            # levels have very different amplitudes, and this puts each on a unit scale
            # without hiding differences between the two sets.
            union = torch.cat([da, db])
            mean = union.mean(dim=(0, 2, 3), keepdim=True)
            std = union.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
            da = ((da - mean) / std).flatten(1)  # (Ka, C*49)
            db = ((db - mean) / std).flatten(1)
            # Sorting-based W1 needs equal counts: keep a seeded random subset of the
            # larger set (which set is larger does not depend on argument order).
            if da.shape[0] != db.shape[0]:
                k = min(da.shape[0], db.shape[0])
                g = torch.Generator().manual_seed(seed + 2)
                if da.shape[0] > k:
                    da = da[torch.randperm(da.shape[0], generator=g)[:k]]
                else:
                    db = db[torch.randperm(db.shape[0], generator=g)[:k]]
            out[f"swd/{min(la.shape[-2:])}"] = _sliced_wasserstein(da, db, directions, gen_dir) * 1e3
        out["swd/avg"] = sum(out.values()) / len(out)
    return out
