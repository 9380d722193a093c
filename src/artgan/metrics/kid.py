"""KID and FID on feature vectors, plus a helper that goes from images to both.

KID (Binkowski et al. 2018, "Demystifying MMD GANs") is the unbiased estimate of the
squared MMD with the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over
random subsets. It is unbiased, so small sample sets (what artists have) do not inflate it
the way they inflate FID; prefer it for sets of a few hundred images.

FID (Heusel et al. 2017) is the Frechet distance between Gaussians fitted to the two
feature sets: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. It is biased
upwards for small n; report n alongside it.

Both are only as meaningful as the extractor: compare figures that share an extractor
name (``kid_fid_images`` puts it in its output).
"""

from __future__ import annotations

import torch

from .features import FeatureExtractor, get_extractor

__all__ = ["kid", "fid", "kid_fid_images"]

# Below this many vectors in total, one Gram matrix over everything is cheaper than
# recomputing kernels per subset (and it fits comfortably in memory as float64).
_FULL_GRAM_MAX = 4096


def _check_features(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected features (N, D) and (M, D), got {tuple(a.shape)} and {tuple(b.shape)}")


def _kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cubic polynomial kernel. (n, d), (m, d) float32 -> (n, m) float64.

    The dot products run in float32 (fast; relative error ~1e-7 per entry, which averages
    out), the cube and everything after it in float64: the MMD is a small difference of
    sums of millions of order-1 terms.
    """
    d = x.shape[1]
    return ((x @ y.T).double() / d + 1.0) ** 3


def _mmd2_unbiased(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> float:
    """Unbiased MMD^2 from kernel blocks (s, s): diagonals of kxx, kyy are left out."""
    s = kxx.shape[0]
    xx = (kxx.sum() - kxx.diagonal().sum()) / (s * (s - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (s * (s - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def kid(
    feat_a: torch.Tensor,
    feat_b: torch.Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance between two feature sets.

    Args:
        feat_a: features (N, D). feat_b: features (M, D).
        subsets: number of random subset pairs to average over.
        subset_size: vectors per subset, capped at ``min(N, M)`` (drawn without replacement).
        seed: seeds the subset draws.

    Returns:
        ``(mean, std)`` of the unbiased MMD^2 over subsets. Can be slightly negative when
        the sets match (it is unbiased); std is 0 when every subset is the whole set.
    """
    _check_features(feat_a, feat_b)
    n, m = feat_a.shape[0], feat_b.shape[0]
    s = min(subset_size, n, m)
    if s < 2:
        raise ValueError(f"KID needs at least 2 feature vectors per set, got {n} and {m}")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    x = feat_a.detach().to("cpu", torch.float32)
    y = feat_b.detach().to("cpu", torch.float32)
    gen = torch.Generator().manual_seed(seed)
    # All subset draws up front (argsort of uniform noise = a random permutation per row).
    ia = torch.rand(subsets, n, generator=gen).argsort(dim=1)[:, :s]  # (subsets, s)
    ib = torch.rand(subsets, m, generator=gen).argsort(dim=1)[:, :s]
    if n + m <= _FULL_GRAM_MAX:
        values = _kid_from_gram(_kernel(torch.cat([x, y]), torch.cat([x, y])), ia, ib + n)
    else:
        # Too many vectors for one Gram matrix: kernels per subset (3 of (s, s) each).
        values = torch.tensor(
            [_mmd2_unbiased(_kernel(x[a], x[a]), _kernel(y[b], y[b]), _kernel(x[a], y[b])) for a, b in zip(ia, ib)],
            dtype=torch.float64,
        )
    std = float(values.std()) if subsets > 1 else 0.0
    return float(values.mean()), std


def _kid_from_gram(k: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 for many subsets at once from one Gram matrix.

    k: (n+m, n+m) kernel over both sets; ia, ib: (subsets, s) row indices of each subset.
    Returns (subsets,) float64. Gathers whole chunks of subsets per op: with small sets a
    Python loop of tiny ops would cost more than the arithmetic.
    """
    subsets, s = ia.shape
    diag = k.diagonal()
    chunk = max(1, 4_000_000 // (s * s))  # bounds each gathered (chunk, s, s) block
    out = []
    for c in range(0, subsets, chunk):
        a, b = ia[c : c + chunk], ib[c : c + chunk]
        xx = k[a[:, :, None], a[:, None, :]].sum(dim=(1, 2)) - diag[a].sum(dim=1)
        yy = k[b[:, :, None], b[:, None, :]].sum(dim=(1, 2)) - diag[b].sum(dim=1)
        xy = k[a[:, :, None], b[:, None, :]].sum(dim=(1, 2))
        out.append((xx + yy) / (s * (s - 1)) - 2.0 * xy / (s * s))
    return torch.cat(out)


def _sqrtm_psd(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric PSD matrix via eigh. (D, D) -> (D, D)."""
    w, v = torch.linalg.eigh(s)
    # Sample covariances of n < D vectors are singular; round-off makes some zero
    # eigenvalues slightly negative, which are truly zero.
    return (v * w.clamp_min(0).sqrt()) @ v.T


def fid(feat_a: torch.Tensor, feat_b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to features (N, D) and (M, D). Returns float >= 0.

    The hard term is ``tr((S_a S_b)^(1/2))``, computed without a general matrix square root
    (hence no scipy), in whichever space is smaller:

    - D-space (N, M >= D): ``tr((S_a^(1/2) S_b S_a^(1/2))^(1/2))``. Same eigenvalues as
      ``S_a S_b``, but symmetric PSD, so ``eigh`` applies.
    - sample space (fewer vectors than dimensions, the usual case with small art sets):
      with centred features A (N, D), B (M, D), ``S_a S_b = A^T A B^T B / c`` has the same
      non-zero eigenvalues as ``(A B^T)(A B^T)^T / c``, so the trace of the root is the sum
      of singular values of ``A B^T`` over ``sqrt(c)``, ``c = (N-1)(M-1)``. An eigh of a
      64x64 matrix instead of two of 2048x2048: exact, and seconds faster.
    """
    _check_features(feat_a, feat_b)
    if feat_a.shape[0] < 2 or feat_b.shape[0] < 2:
        raise ValueError("FID needs at least 2 feature vectors per set")
    x = feat_a.detach().to("cpu", torch.float64)
    y = feat_b.detach().to("cpu", torch.float64)
    n, m, d = x.shape[0], y.shape[0], x.shape[1]
    mu_a, mu_b = x.mean(0), y.mean(0)
    xa, yb = x - mu_a, y - mu_b  # centred (N, D), (M, D)
    tr_a = xa.square().sum() / (n - 1)  # tr(S_a) without forming S_a
    tr_b = yb.square().sum() / (m - 1)
    if min(n, m) < d:
        cross = xa @ yb.T  # (N, M)
        gram = cross @ cross.T if n <= m else cross.T @ cross  # the smaller square
        tr_sqrt = torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().sum() / ((n - 1) * (m - 1)) ** 0.5
    else:
        cov_a, cov_b = xa.T @ xa / (n - 1), yb.T @ yb / (m - 1)  # (D, D)
        root_a = _sqrtm_psd(cov_a)
        middle = root_a @ cov_b @ root_a
        middle = (middle + middle.T) / 2  # remove round-off asymmetry before eigh
        tr_sqrt = torch.linalg.eigvalsh(middle).clamp_min(0).sqrt().sum()
    value = (mu_a - mu_b).square().sum() + tr_a + tr_b - 2.0 * tr_sqrt
    return max(float(value), 0.0)


def kid_fid_images(
    a: torch.Tensor,
    b: torch.Tensor,
    extractor: FeatureExtractor | None = None,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """KID and FID between image sets (N, 3, H, W) and (M, 3, H', W') in [-1, 1].

    ``extractor`` defaults to ``get_extractor("auto")``. Returns
    ``{"kid": mean, "kid_std": std, "fid": float, "n_a": N, "n_b": M, "extractor": name}``.
    """
    extractor = extractor if extractor is not None else get_extractor("auto")
    fa, fb = extractor(a), extractor(b)
    k_mean, k_std = kid(fa, fb, subsets=subsets, subset_size=subset_size, seed=seed)
    return {
        "kid": k_mean,
        "kid_std": k_std,
        "fid": fid(fa, fb),
        "n_a": int(fa.shape[0]),
        "n_b": int(fb.shape[0]),
        "extractor": extractor.name,
    }
