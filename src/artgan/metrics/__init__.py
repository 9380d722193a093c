"""Metrics that need no pretrained network (Inception is an optional, local-only extra).

- :func:`swd`: sliced Wasserstein distance of Laplacian-pyramid patches (style/texture).
- :func:`kid`, :func:`fid`, :func:`kid_fid_images`: on features from a pluggable extractor.
- :func:`memorization`: nearest-training-image ratios (near-copy detection).
- :func:`diversity`, :func:`ms_ssim`: mean pairwise MS-SSIM (mode collapse).
- :func:`psnr`, :func:`ssim`, :func:`seam_error`: restoration fidelity and tileability.
- :func:`texture_swd`, :func:`halves_swd`: texture vs its exemplar, and the exemplar vs itself.
- :func:`style_distance`, :func:`content_ssim`, :func:`edge_f1`: style transfer.
"""

from .diversity import diversity, ms_ssim
from .features import FeatureExtractor, InceptionFeatures, RandomConvFeatures, get_extractor
from .fidelity import psnr, seam_error, ssim
from .kid import fid, kid, kid_fid_images
from .memorization import MemorizationResult, memorization, write_worst_pairs
from .style import content_ssim, edge_f1, style_distance
from .swd import swd
from .texture import halves_swd, texture_swd

__all__ = [
    "swd",
    "FeatureExtractor",
    "RandomConvFeatures",
    "InceptionFeatures",
    "get_extractor",
    "kid",
    "fid",
    "kid_fid_images",
    "MemorizationResult",
    "memorization",
    "write_worst_pairs",
    "ms_ssim",
    "diversity",
    "psnr",
    "ssim",
    "seam_error",
    "texture_swd",
    "halves_swd",
    "style_distance",
    "content_ssim",
    "edge_f1",
]
