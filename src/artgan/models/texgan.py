"""TexGAN: a fully convolutional texture GAN trained on one exemplar.

Generator: a grid of noise (one cell per 2**levels output pixels) -> 3x3 convs -> 2x
nearest upsampling blocks, each with per-pixel noise of learned strength -> RGB. Every
convolution pads by wrapping around, so the output is a torus: it tiles without a seam,
and the output size is free (any multiple of the noise cell). Spatial GANs (Jetchev et al.
2016) and PSGAN (Bergmann et al. 2017) showed noise grids give textures of any size.

Discriminator: patch discriminators at several scales of the same crop (full, 1/2,
1/4 ...), each fully convolutional with a map of logits, so fine grain and larger
structures are judged separately. No normalisation; R1 regularises them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TextureConfig
from .common import init_he

# Bump when the network changes in a way old weights would load into silently (same
# parameter shapes, different meaning): it is part of every texture model's cache key.
ARCH_VERSION = 2


def wrap_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv`` (a 3x3 with padding=0) applied with one pixel of wrap-around padding."""
    return conv(F.pad(x, (1, 1, 1, 1), mode="circular"))


class TexUpBlock(nn.Module):
    """(B, cin, h, w) -> (B, cout, 2h, 2w): a 3x3 conv at the coarse size, 2x nearest
    upsampling, a 3x3 conv at the fine size, per-pixel noise after each conv.

    The first conv runs *before* upsampling: 4x fewer FLOPs than after it, which is what
    keeps a 1024 px texture under a second on two cores.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3)
        self.conv2 = nn.Conv2d(cout, cout, 3)
        # Learned per-channel noise strengths: how much fresh randomness each channel takes
        # at this scale (grain, speckle). Not zero at start, so G uses noise from step one.
        self.noise1 = nn.Parameter(torch.full((1, cout, 1, 1), 0.1))
        self.noise2 = nn.Parameter(torch.full((1, cout, 1, 1), 0.1))

    def forward(self, x: torch.Tensor, noise: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        # (noise * strength + h in one pass: these maps are large and the ops memory-bound)
        h = F.leaky_relu_(torch.addcmul(wrap_conv(self.conv1, x), noise[0], self.noise1), 0.2)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        return F.leaky_relu_(torch.addcmul(wrap_conv(self.conv2, h), noise[1], self.noise2), 0.2)


class TextureGenerator(nn.Module):
    """Noise grid (B, z_ch, h/c, w/c) plus per-level noise -> image (B, 3, h, w) in [-1, 1],
    where c = 2**levels. :meth:`sample_noise` draws every input from one seed."""

    def __init__(self, cfg: TextureConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cell = 2**cfg.levels
        self.head1 = nn.Conv2d(cfg.z_ch, cfg.channels(0), 3)
        self.head2 = nn.Conv2d(cfg.channels(0), cfg.channels(0), 3)
        self.blocks = nn.ModuleList([TexUpBlock(cfg.channels(i), cfg.channels(i + 1)) for i in range(cfg.levels)])
        self.to_rgb = nn.Conv2d(cfg.channels(cfg.levels), 3, 3)
        self.apply(init_he)
        with torch.no_grad():  # start near mid-grey rather than saturated
            self.to_rgb.weight.mul_(0.1)

    @property
    def reach(self) -> int:
        """How far (px) an output pixel's receptive field extends each way: the two head
        convs at the noise grid, each block's conv at its coarse and its fine size, the RGB
        conv, plus half a cell of nearest upsampling per block."""
        L = self.cfg.levels
        r = 2 * 2**L + 1
        for level in range(1, L + 1):
            fine = 2 ** (L - level)
            r += 2 * fine + fine + fine  # conv1 (coarse = 2 x fine px), conv2 (fine), upsampling
        return r

    def sample_noise(self, batch: int, size: tuple[int, int], gen: torch.Generator) -> list[torch.Tensor]:
        """Inputs for an output of ``size`` = (h, w), multiples of ``self.cell``: the grid
        (B, z_ch, h/c, w/c), then per block a (B, 1, h_l/2, w_l/2) and a (B, 1, h_l, w_l)
        noise map (its two convs' sizes), coarse to fine."""
        h, w = size
        if h % self.cell or w % self.cell:
            raise ValueError(f"size {size} must be a multiple of {self.cell} on both sides")
        out = [torch.randn(batch, self.cfg.z_ch, h // self.cell, w // self.cell, generator=gen)]
        for level in range(1, self.cfg.levels + 1):
            f = 2 ** (self.cfg.levels - level)
            out += [
                torch.randn(batch, 1, h // (2 * f), w // (2 * f), generator=gen),
                torch.randn(batch, 1, h // f, w // f, generator=gen),
            ]
        return out

    def forward(self, noise: list[torch.Tensor]) -> torch.Tensor:
        x = F.leaky_relu_(wrap_conv(self.head1, noise[0]), 0.2)
        x = F.leaky_relu_(wrap_conv(self.head2, x), 0.2)
        for i, block in enumerate(self.blocks):
            x = block(x, (noise[1 + 2 * i], noise[2 + 2 * i]))
        return torch.tanh(wrap_conv(self.to_rgb, x))

    @torch.no_grad()
    def render(self, size: tuple[int, int], seed: int, *, tileable: bool = True) -> torch.Tensor:
        """One texture (3, h, w) in [-1, 1], the same for the same seed and size.

        Tileable output is G's torus itself (resampled, wrapping, if the size is not a
        multiple of the noise cell). Otherwise it is a window of a larger torus, so
        opposite edges do not match.
        """
        h, w = size
        c = self.cell
        # A window at least one receptive field away from itself around the torus, so its
        # opposite edges are independent.
        margin = 0 if tileable else 2 * self.reach
        hh, ww = -(-(h + margin) // c) * c, -(-(w + margin) // c) * c
        img = self(self.sample_noise(1, (hh, ww), torch.Generator().manual_seed(int(seed))))[0]
        if (hh, ww) == (h, w):
            return img
        if not tileable:
            oy, ox = (hh - h) // 2, (ww - w) // 2
            return img[:, oy : oy + h, ox : ox + w]
        return wrap_resize(img, (h, w))


def wrap_resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a tileable image (C, H, W) -> (C, h, w) on the torus: samples near
    an edge interpolate with the opposite edge, so the result tiles exactly as well."""

    def axis(n_out: int, n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = (torch.arange(n_out, dtype=torch.float64) + 0.5) * n_in / n_out - 0.5
        i0 = torch.floor(pos)
        frac = (pos - i0).float()
        i0 = i0.long()
        return i0 % n_in, (i0 + 1) % n_in, frac

    y0, y1, fy = axis(size[0], img.shape[-2])
    x0, x1, fx = axis(size[1], img.shape[-1])
    rows = img[:, y0, :] * (1 - fy)[:, None] + img[:, y1, :] * fy[:, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


class PatchDiscriminator(nn.Module):
    """image (B, 3, P, P) -> a (P/4 x P/4) map of logits, flattened to (B, P*P/16).
    Each logit judges a patch of about 26 x 26 input pixels."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * width, 4 * width, 3, 1, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(4 * width, 1, 3, 1, 1),
        )
        self.apply(init_he)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class MultiScaleDiscriminator(nn.Module):
    """image (B, 3, P, P) -> list of logit maps (B, N_s), one per scale (P, P/2, P/4 ...).
    ``scales`` 0: every scale whose crop stays >= 16 px (at most 3)."""

    def __init__(self, d_width: int, patch: int, scales: int = 0) -> None:
        super().__init__()
        self.scales = scales or num_scales(patch)
        self.ds = nn.ModuleList([PatchDiscriminator(d_width) for _ in range(self.scales)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, d in enumerate(self.ds):
            out.append(d(x))
            if i + 1 < len(self.ds):
                x = F.avg_pool2d(x, 2)
        return out


def num_scales(patch: int, smallest: int = 16) -> int:
    """How many halvings of a ``patch``-px crop stay at least ``smallest`` px (at most 3)."""
    n = 1
    while n < 3 and patch // 2**n >= smallest:
        n += 1
    return n
