"""Small building blocks shared by the model families."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def stages(resolution: int) -> list[int]:
    """Feature sizes from 4 up to ``resolution``: [4, 8, ..., resolution]."""
    return [2**k for k in range(2, int(math.log2(resolution)) + 1)]


def init_weights(module: nn.Module) -> None:
    """DCGAN-style init: N(0, 0.02) convs, BN scale around 1. Applied with ``model.apply``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def seeds_to_z(seeds: list[int], z_dim: int) -> torch.Tensor:
    """One latent per seed: (len(seeds), z_dim). Image ``s`` is the same whatever else is
    generated with it, so ``--seed 5 --n 1`` reproduces image 5 of ``--seed 0 --n 64``."""
    out = torch.empty(len(seeds), z_dim)
    for i, s in enumerate(seeds):
        out[i] = torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s)))
    return out


def init_he(module: nn.Module) -> None:
    """He init for LeakyReLU(0.2) nets without normalisation (keeps activations ~unit scale
    through many layers; N(0, 0.02) shrinks them ~3x per layer in a deep residual D)."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def separable_blur(x: torch.Tensor, taps: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Blur each channel with the 1-D kernel ``taps`` along rows then columns, reflect-padded
    by ``pad`` = (before, after) on both axes. (N, C, H, W) -> (N, C, H', W')."""
    c, k = x.shape[1], taps.to(x)
    # Reflect padding keeps image borders from darkening, which would add fake "edges".
    x = F.pad(x, (*pad, *pad), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, len(k)), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, len(k), 1), groups=c)
