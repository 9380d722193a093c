"""Style-transfer metrics: how much style an output took on, and how much content it kept.

- :func:`style_distance`: patch SWD between the output and the style image (lower = closer
  in style). Compare it with the unstylized photo's own distance to the same style image.
- :func:`content_ssim`: SSIM of luminance between the output and the content photo (color
  changes are the style's business; structure is the content's).
- :func:`edge_f1`: F1 of edge maps (the strongest gradients of each image, matched
  within one pixel) between the output and the content photo.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .fidelity import ssim
from .texture import texture_swd

__all__ = ["style_distance", "content_ssim", "edge_f1", "luminance", "edge_map"]


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma of RGB images (N, 3, H, W) -> (N, 1, H, W), same range."""
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def style_distance(output: torch.Tensor, style: torch.Tensor, *, patch: int = 64, n: int = 256, seed: int = 0) -> float:
    """Patch SWD (x1e3, pyramid average) between crops of ``output`` (3, H, W) and crops of
    ``style`` (3, h, w), both in [-1, 1]; crops are ``patch`` px or the smaller image side."""
    return texture_swd(output[None], style, patch=patch, n=n, seed=seed)["swd/avg"]


def content_ssim(output: torch.Tensor, content: torch.Tensor) -> float:
    """SSIM of the luminance of ``output`` and ``content`` (3, H, W) in [-1, 1], same size."""
    if output.shape != content.shape:
        raise ValueError(f"output {tuple(output.shape)} and content {tuple(content.shape)} must be the same size")
    return float(ssim(luminance(output[None]), luminance(content[None]))[0])


def edge_map(x: torch.Tensor, top: float = 0.1) -> torch.Tensor:
    """Edges of an image (3, H, W): the ``top`` fraction of Sobel gradient magnitudes of its
    lightly blurred luminance -> bool (H, W). A fraction rather than a fixed threshold, so a
    stylized image with other contrast is judged by *where* its edges are."""
    y = luminance(x[None].float())
    k = torch.tensor([1.0, 2.0, 1.0]) / 4
    blur = (k[:, None] * k[None, :]).view(1, 1, 3, 3)
    y = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), blur)
    sx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    p = F.pad(y, (1, 1, 1, 1), mode="replicate")
    mag = torch.hypot(F.conv2d(p, sx), F.conv2d(p, sx.transpose(-1, -2)))[0, 0]
    k_top = max(1, int(round(top * mag.numel())))
    thresh = mag.flatten().kthvalue(mag.numel() - k_top + 1).values
    return (mag >= thresh) & (mag > 1e-6)


def edge_f1(output: torch.Tensor, content: torch.Tensor, *, top: float = 0.1, tolerance: int = 1) -> float:
    """F1 between the edge maps of ``output`` and ``content`` (3, H, W): an edge pixel counts
    as matched if the other map has an edge within ``tolerance`` px. 1 = same edges."""
    if output.shape != content.shape:
        raise ValueError(f"output {tuple(output.shape)} and content {tuple(content.shape)} must be the same size")
    a, b = edge_map(output, top), edge_map(content, top)
    size = 2 * tolerance + 1

    def grow(m: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(m[None, None].float(), size, stride=1, padding=tolerance)[0, 0] > 0

    if not a.any() or not b.any():
        return float(a.any() == b.any())  # both flat: the same (no) edges
    precision = (a & grow(b)).sum() / a.sum()
    recall = (b & grow(a)).sum() / b.sum()
    return float(2 * precision * recall / (precision + recall).clamp_min(1e-12))
