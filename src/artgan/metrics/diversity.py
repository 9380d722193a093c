"""Sample diversity as mean pairwise MS-SSIM (higher = more alike = less diverse).

Odena et al. (2017, "Conditional image synthesis with auxiliary classifier GANs") used the
mean MS-SSIM between random pairs of samples to detect mode collapse: a collapsed
generator produces near-identical images (MS-SSIM near 1), a diverse one scores about as
low as random pairs of real images. Compare against the same figure on the training set.

SSIM (Wang et al. 2004) is computed per RGB channel with an 11x11 Gaussian window
(sigma 1.5) and no padding ("valid"), with C1 = (0.01 L)^2, C2 = (0.03 L)^2 for the
dynamic range L = 2 of [-1, 1] images, whose luminance term is taken on the intensities
shifted to [0, 2] as the formula expects (until 2026-11-30 it used the signed values,
which made it meaningless near mid-grey; diversity figures from before then differ). MS-SSIM (Wang et al. 2003) multiplies contrast-
structure terms from 5 scales (2x average-pool between scales) with the standard weights
and the luminance term of the coarsest scale. Small images cannot have 5 scales with an
11-px window, so we use as many scales as fit (the coarsest must be >= 11 px) and
renormalise the first weights to sum to 1: a 64-px image uses 3 scales (64, 32, 16), a
32-px one 2. Scores are comparable only between images of the same size.
Negative contrast-structure terms (anti-correlated images) are clamped to 0 before the
fractional powers, as common implementations do.

``ssim_components`` is shared with :mod:`artgan.metrics.fidelity` (one SSIM in the package).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ssim_components", "ms_ssim", "diversity", "MS_SSIM_WEIGHTS"]

WINDOW = 11
SIGMA = 1.5
DATA_RANGE = 2.0  # images live in [-1, 1]
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gaussian_1d(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian filter per channel. (N, C, H, W) -> (N, C, H-10, W-10)."""
    c, k = x.shape[1], g.numel()
    x = F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(
            f"expected two batches of the same shape (N, C, H, W), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if min(a.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW} px, got {tuple(a.shape[-2:])}")


def ssim_components(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel SSIM and its contrast-structure term.

    a, b: (N, C, H, W) in [-1, 1], H and W >= 11. Returns ``(ssim, cs)``, each (N, C),
    the means of the SSIM map and of the contrast-structure map over the valid region.
    """
    _check_pair(a, b)
    a, b = a.float(), b.float()
    g = _gaussian_1d().to(a.device)
    c1 = (0.01 * DATA_RANGE) ** 2
    c2 = (0.03 * DATA_RANGE) ** 2
    mu_a, mu_b = _filter(a, g), _filter(b, g)
    # Local (co)variances as E[xy] - E[x]E[y] under the Gaussian window.
    var_a = _filter(a * a, g) - mu_a**2
    var_b = _filter(b * b, g) - mu_b**2
    cov = _filter(a * b, g) - mu_a * mu_b
    cs_map = (2 * cov + c2) / (var_a + var_b + c2)
    # The luminance term assumes non-negative intensities in [0, L]: shift [-1, 1] to [0, 2].
    # (On signed values, means of opposite sign near 0 gave a term near -1 for a tiny change.)
    mu_a, mu_b = mu_a + 1, mu_b + 1
    lum_map = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    return (lum_map * cs_map).mean(dim=(2, 3)), cs_map.mean(dim=(2, 3))


def ms_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Multi-scale SSIM of matching images. a, b: (N, C, H, W) in [-1, 1] -> (N,) in [0, 1].

    Uses up to 5 scales, as many as keep the coarsest >= 11 px (see module docstring).
    """
    _check_pair(a, b)
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and min(a.shape[-2:]) // 2**scales >= WINDOW:
        scales += 1
    w = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=torch.float32, device=a.device)
    w = w / w.sum()
    a, b = a.float(), b.float()
    factors = []
    for i in range(scales):
        s, cs = ssim_components(a, b)  # (N, C) each
        # Fine scales contribute contrast-structure only; the coarsest adds luminance
        # (its full SSIM, i.e. l * cs).
        term = s if i == scales - 1 else cs
        factors.append(term.clamp_min(0) ** w[i])
        if i < scales - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    per_channel = torch.stack(factors).prod(dim=0)  # (N, C)
    return per_channel.mean(dim=1)


def diversity(images: torch.Tensor, *, pairs: int = 256, seed: int = 0, batch: int = 64) -> float:
    """Mean MS-SSIM over random pairs of distinct samples. images: (N, 3, H, W), N >= 2.

    Uses every unordered pair when there are at most ``pairs`` of them, else ``pairs``
    random pairs (seeded). Higher = less diverse; ~1 means collapse.
    """
    if images.dim() != 4 or images.shape[0] < 2:
        raise ValueError(f"diversity needs a batch (N, C, H, W) with N >= 2, got {tuple(images.shape)}")
    n = images.shape[0]
    if n * (n - 1) // 2 <= pairs:
        i, j = torch.triu_indices(n, n, offset=1)
    else:
        gen = torch.Generator().manual_seed(seed)
        i = torch.randint(n, (pairs,), generator=gen)
        # j = i + offset in [1, n-1] (mod n) guarantees j != i without rejection sampling.
        j = (i + torch.randint(1, n, (pairs,), generator=gen)) % n
    x = images.detach()
    scores = []
    with torch.no_grad():
        for k in range(0, i.numel(), batch):
            scores.append(ms_ssim(x[i[k : k + batch]], x[j[k : k + batch]]))
    return float(torch.cat(scores).mean())
