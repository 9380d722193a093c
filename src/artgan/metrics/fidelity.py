"""Reference-based fidelity (PSNR, SSIM) and the seam error of tileable textures.

PSNR and SSIM score restoration and enhancement against a known clean image. The seam
error scores texture generation with no reference: a texture is tileable when the jump
across its wrap-around edges looks like any other step between neighbouring pixels.
"""

from __future__ import annotations

import torch

from .diversity import ssim_components

__all__ = ["psnr", "ssim", "seam_error"]

_PEAK = 2.0  # peak-to-peak range of [-1, 1] images


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB. a, b: (N, C, H, W) in [-1, 1] -> (N,); inf where equal.

    The peak is the full range 2 of [-1, 1] images, so the figures equal the usual PSNR of
    the same images in [0, 1] or 0..255.
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(
            f"expected two batches of the same shape (N, C, H, W), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    mse = (a.double() - b.double()).square().mean(dim=(1, 2, 3))
    # 10*log10(peak^2 / 0) -> +inf in IEEE arithmetic, which is the honest answer for equal images.
    return (10.0 * torch.log10(_PEAK**2 / mse)).float()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Single-scale SSIM (11x11 Gaussian, sigma 1.5), averaged over RGB channels.

    a, b: (N, C, H, W) in [-1, 1], H and W >= 11 -> (N,); 1 where equal.
    """
    s, _ = ssim_components(a, b)
    return s.mean(dim=1)


def seam_error(images: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """How visible the wrap-around seams are. images: (N, C, H, W) -> (N,), ~1 when tileable.

    Mean absolute difference across the wrap-around edges (last column vs first, last row
    vs first) divided by the mean absolute difference between neighbouring pixels inside
    the image. A seamless texture scores about 1; a photo or gradient, whose opposite
    edges differ, scores well above 1. A constant image scores exactly 1.
    """
    if images.dim() != 4 or min(images.shape[-2:]) < 2:
        raise ValueError(f"expected images (N, C, H>=2, W>=2), got {tuple(images.shape)}")
    x = images.double()
    n = x.shape[0]
    seam = torch.cat(
        [
            (x[..., :, -1] - x[..., :, 0]).abs().reshape(n, -1),
            (x[..., -1, :] - x[..., 0, :]).abs().reshape(n, -1),
        ],
        dim=1,
    ).mean(dim=1)
    inner = torch.cat(
        [
            (x[..., :, 1:] - x[..., :, :-1]).abs().reshape(n, -1),
            (x[..., 1:, :] - x[..., :-1, :]).abs().reshape(n, -1),
        ],
        dim=1,
    ).mean(dim=1)
    # eps on both sides: a flat image (no steps anywhere) has no seam either, so 1.
    return ((seam + eps) / (inner + eps)).float()
