"""StyleNet: a fully convolutional image-to-image generator for style transfer.

photo (B, 3, H, W) -> stylized photo (B, 3, H, W), H and W multiples of 4. Two strided
convs down, residual blocks at 1/4 resolution, two nearest-upsample convs up (the layout
of Johnson et al. 2016's transformer net, without instance norm: per-image statistics
would differ between the tiles of a large image and show as seams). The network predicts
a change to the input rather than a new image, so at initialisation it is the identity
and content survives from the first step. Reflection padding avoids dark borders.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..config import StylizerConfig
from .common import init_he
from .palette import Palette

# Memory format of StyleNet's inputs at inference; training and tasks.stylize keep the net
# itself channels-last too (training/stylizer.py says what it gains).
MEMORY_FORMAT = torch.channels_last


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride))


def _conv_of(block: nn.Sequential) -> nn.Conv2d:
    """The Conv2d of a :func:`_conv` block (after its padding)."""
    return cast(nn.Conv2d, block[1])


class ResBlock(nn.Module):
    """(B, c, h, w) -> same; x + conv(lrelu(conv(x))) scaled small at init."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(c, c), _conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class StyleNet(nn.Module):
    """photo (B, 3, H, W) in [-1, 1] -> stylized (B, 3, H, W) in [-1, 1]; H, W multiples of 4."""

    multiple = 4

    def __init__(self, cfg: StylizerConfig) -> None:
        super().__init__()
        c = cfg.width
        # Per-pixel noise beside the photo: a deterministic net maps a flat wall or sky to a
        # flat result, but a painting has brushwork everywhere; noise is what it paints from.
        self.noise_channels = cfg.noise
        self.head = _conv(3 + cfg.noise, c, 7)
        self.down1 = _conv(c, 2 * c, 3, 2)
        self.down2 = _conv(2 * c, 4 * c, 3, 2)
        res_blocks = [ResBlock(4 * c) for _ in range(cfg.res_blocks)]
        self.blocks = nn.Sequential(*res_blocks)
        self.up1 = _conv(4 * c, 2 * c)
        self.up2 = _conv(2 * c, c)
        self.out = _conv(c, 3, 7)
        # The style's palette, applied to a whole photo before G (see recolor); fitted by
        # training and saved with the weights. None: G starts from the photo's own colors.
        self.palette = Palette(cfg.palette) if cfg.palette != "none" else None
        self.apply(init_he)
        with torch.no_grad():
            for block in res_blocks:  # residual branches start small: a stable deep stack
                _conv_of(block.conv2).weight.mul_(0.1)
            out = _conv_of(self.out)
            assert out.bias is not None  # built with a bias (nn.Conv2d's default)
            out.weight.zero_()  # the identity at initialisation
            out.bias.zero_()

    def recolor(self, x: torch.Tensor) -> torch.Tensor:
        """Whole images (B, 3, H, W) -> the same in the style's palette (unchanged without
        one). Call it on whole images, before tiling or cropping: it uses each image's own
        color statistics."""
        return x if self.palette is None else self.palette(x)

    def make_noise(self, b: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor | None:
        """Standard normal noise (b, noise, h, w) for :meth:`forward`, or None without noise
        channels. Drawn for a whole image at once, so tiles of it agree with one pass."""
        if not self.noise_channels:
            return None
        return torch.randn(b, self.noise_channels, h, w, generator=gen)

    def _input(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if not self.noise_channels:
            return x
        if noise is None or noise.shape[-2:] != x.shape[-2:] or noise.shape[1] != self.noise_channels:
            raise ValueError(
                f"this StyleNet needs noise ({self.noise_channels}, H, W) the size of the image; use make_noise()"
            )
        return torch.cat([x, noise.to(x.dtype).expand(x.shape[0], -1, -1, -1)], 1)

    def encode(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The encoder's feature maps for ``x`` (B, 3, H, W) and its ``noise`` (B, k, H, W):
        full, 1/2, 1/4 resolution and the middle of the residual stack, channels
        (c, 2c, 4c, 4c). PatchNCE compares these between a photo and its stylized version."""
        f1 = F.leaky_relu(self.head(self._input(x, noise)), 0.2)
        f2 = F.leaky_relu(self.down1(f1), 0.2)
        f3 = F.leaky_relu(self.down2(f2), 0.2)
        f4 = self.blocks[: len(self.blocks) // 2](f3)
        return [f1, f2, f3, f4]

    def feature_channels(self) -> list[int]:
        c = _conv_of(self.head).out_channels
        return [c, 2 * c, 4 * c, 4 * c]

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None, *, return_features: bool = False):
        """(B, 3, H, W) and noise (B, k, H, W) from :meth:`make_noise` -> (B, 3, H, W); with
        ``return_features`` also :meth:`encode`'s maps."""
        feats = self.encode(x, noise)
        h = self.blocks[len(self.blocks) // 2 :](feats[3])
        h = F.leaky_relu(self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)
        h = F.leaky_relu(self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)
        # Change the input in an unbounded space, then squash: identity when out() is 0.
        y = torch.tanh(torch.atanh(x.clamp(-0.999, 0.999)) + self.out(h))
        return (y, feats) if return_features else y


@torch.no_grad()
def stylize_image(
    G: StyleNet, x: torch.Tensor, noise: torch.Tensor | None = None, seed: int = 0, *, recolor: bool = True
) -> torch.Tensor:
    """Stylize one image (3, H, W) of any size -> (3, H, W), in one pass.

    The image is reflect-padded to a multiple of 4 and cropped back. ``noise`` (1, k, H, W)
    for G's noise channels; by default drawn from ``seed``. ``recolor``: move the image onto
    G's palette first (False for a tile of an image that already was, see
    ``tasks.stylize.tiled_stylize``).
    """
    if recolor:
        x = G.recolor(x[None])[0]
    _, h, w = x.shape
    if noise is None:
        noise = G.make_noise(1, h, w, torch.Generator().manual_seed(seed))
    ph, pw = (-h) % G.multiple, (-w) % G.multiple
    xp = F.pad(x[None], (0, pw, 0, ph), mode="reflect") if ph or pw else x[None]
    xp = xp.contiguous(memory_format=MEMORY_FORMAT)
    if noise is not None and (ph or pw):
        noise = F.pad(noise, (0, pw, 0, ph), mode="reflect")
    return G(xp, noise)[0, :, :h, :w]


class PatchProjector(nn.Module):
    """Training-only heads for PatchNCE: for each encoder map (B, c_i, h_i, w_i), sample
    ``n`` places and project their features with a small MLP to ``dim`` unit vectors.

    The same places must be used for the photo and its stylized version, so sampling
    takes explicit indices: :meth:`places` draws them, :meth:`forward` applies them.
    """

    def __init__(self, channels: list[int], dim: int = 128) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, dim), nn.ReLU(), nn.Linear(dim, dim)) for c in channels)

    @staticmethod
    def places(feats: list[torch.Tensor], n: int, gen: torch.Generator) -> list[torch.Tensor]:
        """Per map, ``n`` (or all, if fewer) distinct flat positions (n_i,)."""
        out = []
        for f in feats:
            hw = f.shape[-2] * f.shape[-1]
            out.append(torch.randperm(hw, generator=gen)[: min(n, hw)])
        return out

    def forward(self, feats: list[torch.Tensor], places: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per map (B, n_i, dim), L2-normalised."""
        out = []
        for f, idx, mlp in zip(feats, places, self.mlps):
            v = f.flatten(2)[:, :, idx].transpose(1, 2)  # (B, n_i, c_i)
            out.append(F.normalize(mlp(v), dim=-1))
        return out
