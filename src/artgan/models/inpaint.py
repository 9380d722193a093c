"""An inpainting GAN for one painting: gated convolutions with dilations, and a patch D.

Generator: (image with holes, mask) -> the image with the holes painted. Gated
convolutions (Yu et al. 2019, "Free-form image inpainting with gated convolution") learn
per pixel and channel how much to trust what they see, so a hole's zeros do not leak
into features as if they were dark paint. Two stride-2 stages, then dilated 3x3 convs
(dilations 2, 4, 8, 16 at 1/4 resolution) give each output pixel about 250 px of
context: enough to see past a 48 px hole from its middle. Skip connections carry the
full-resolution features back up, so brushwork near the hole's rim is not blurred.

Discriminator: a patch D on (image, mask), as SN-PatchGAN does; it sees where the
holes are, so its logits judge whether the filled region fits what surrounds it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import init_he

# Bump when the network changes in a way old weights would load into silently; it is
# part of every restorer's cache key.
ARCH_VERSION = 1
DILATIONS = (2, 4, 8, 16)


class GatedConv(nn.Module):
    """(B, cin, H, W) -> (B, cout, H/stride, W/stride): LeakyReLU(features) * sigmoid(gate),
    both from one convolution (one pass over the input instead of two)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride, padding=dilation * (kernel - 1) // 2, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.leaky_relu(features, 0.2) * torch.sigmoid(gate)


class InpaintGenerator(nn.Module):
    """(image (B, 3, H, W) in [-1, 1], mask (B, 1, H, W), 1 = hole) -> (B, 3, H, W) in [-1, 1].

    Pixels under the mask are zeroed before G sees them, so what was there (damage)
    cannot matter. Any H and W work (inputs are padded to a multiple of 4 inside). The
    output covers every pixel; callers keep the input outside the mask."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        c = width
        self.width = width
        # Input: masked image (3), mask (1), and ones (1), so the first layer can tell the
        # zero padding at image borders from a hole.
        self.head = GatedConv(5, c, 5)
        self.down1 = GatedConv(c, 2 * c, 3, 2)
        self.down2 = GatedConv(2 * c, 4 * c, 3, 2)
        self.body = nn.Sequential(*[GatedConv(4 * c, 4 * c, 3, 1, d) for d in DILATIONS], GatedConv(4 * c, 4 * c))
        self.up1 = GatedConv(4 * c + 2 * c, 2 * c)
        self.up2 = GatedConv(2 * c + c, c)
        self.out = nn.Conv2d(c, 3, 3, padding=1)
        self.apply(init_he)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        ph, pw = -h % 4, -w % 4
        x = torch.cat([image * (1 - mask), mask, torch.ones_like(mask)], dim=1)
        # Replicate padding to a multiple of 4: two stride-2 stages must land on whole pixels.
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        f0 = self.head(x)  # (B, c, H, W)
        f1 = self.down1(f0)  # (B, 2c, H/2, W/2)
        y = self.body(self.down2(f1))  # (B, 4c, H/4, W/4)
        y = self.up1(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), f1], dim=1))
        y = self.up2(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), f0], dim=1))
        return torch.tanh(self.out(y))[..., :h, :w]


class InpaintDiscriminator(nn.Module):
    """(image (B, 3, P, P), mask (B, 1, P, P)) -> a map of logits flattened to (B, P*P/64).
    Each logit judges about 46 x 46 input pixels."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(4, width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(4 * width, 1, 3, 1, 1),
        )
        self.apply(init_he)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, mask], dim=1)).flatten(1)


__all__ = ["ARCH_VERSION", "GatedConv", "InpaintGenerator", "InpaintDiscriminator"]
