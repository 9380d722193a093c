"""DCGAN (Radford et al. 2016): the classic baseline.

G: transposed 4x4 convolutions, batch norm, ReLU; D: strided 4x4 convolutions, batch
norm, LeakyReLU. Kept close to the paper so it is an honest baseline.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .common import init_weights, stages


class DCGANGenerator(nn.Module):
    """z (B, z_dim) -> image (B, 3, R, R) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.z_dim = cfg.z_dim
        res = stages(cfg.resolution)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.z_dim, cfg.channels(4), 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(cfg.channels(4)),
            nn.ReLU(inplace=True),
        ]
        for r in res[1:-1]:  # 8 .. R/2
            cin, cout = cfg.channels(r // 2), cfg.channels(r)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(cfg.channels(res[-2]), 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """image (B, 3, R, R) -> logits (B,)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        res = stages(cfg.resolution)[::-1]  # R .. 4
        layers: list[nn.Module] = [nn.Conv2d(3, cfg.d_channels(res[1]), 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for r in res[2:]:  # R/4 .. 4
            cin, cout = cfg.d_channels(r * 2), cfg.d_channels(r)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        # The Identity holds the place of a removed dropout option, so the last conv keeps
        # the index (net.<i>) that saved weights are keyed by.
        layers += [nn.Identity(), nn.Conv2d(cfg.d_channels(4), 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
