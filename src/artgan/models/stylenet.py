"""StyleNet: a fully convolutional image-to-image generator for style transfer.

photo (B, 3, H, W) -> stylised photo (B, 3, H, W), H and W multiples of 4. Two strided
convs down, residual blocks at 1/4 resolution, two nearest-upsample convs up (the layout
of Johnson et al. 2016's transformer net, without instance norm: per-image statistics
would differ between the tiles of a large image and show as seams). The network predicts
a change to the input rather than a new image, so at initialisation it is the identity
and content survives from the first step. Reflection padding avoids dark borders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import StylizerConfig
from .common import init_he


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride))


class ResBlock(nn.Module):
    """(B, c, h, w) -> same; x + conv(lrelu(conv(x))) scaled small at init."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(c, c), _conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class StyleNet(nn.Module):
    """photo (B, 3, H, W) in [-1, 1] -> stylised (B, 3, H, W) in [-1, 1]; H, W multiples of 4."""

    multiple = 4

    def __init__(self, cfg: StylizerConfig) -> None:
        super().__init__()
        c = cfg.width
        self.head = _conv(3, c, 7)
        self.down1 = _conv(c, 2 * c, 3, 2)
        self.down2 = _conv(2 * c, 4 * c, 3, 2)
        self.blocks = nn.Sequential(*[ResBlock(4 * c) for _ in range(cfg.res_blocks)])
        self.up1 = _conv(4 * c, 2 * c)
        self.up2 = _conv(2 * c, c)
        self.out = _conv(c, 3, 7)
        self.apply(init_he)
        with torch.no_grad():
            for block in self.blocks:  # residual branches start small: a stable deep stack
                block.conv2[1].weight.mul_(0.1)
            self.out[1].weight.zero_()  # the identity at initialisation
            self.out[1].bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.head(x), 0.2)
        h = F.leaky_relu(self.down1(h), 0.2)
        h = F.leaky_relu(self.down2(h), 0.2)
        h = self.blocks(h)
        h = F.leaky_relu(self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)
        h = F.leaky_relu(self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)
        # Change the input in an unbounded space, then squash: identity when out() is 0.
        return torch.tanh(torch.atanh(x.clamp(-0.999, 0.999)) + self.out(h))
