"""ResGAN: a residual GAN for small datasets (the default family).

Generator: residual up-blocks (nearest upsample + two 3x3 convs + batch norm, 1x1 skip),
skip-layer excitation (SLE, Liu et al. 2021 "FastGAN") that lets coarse 4-8 px features
gate the channels of fine ones, cheap global structure for a few extra FLOPs.
Discriminator: residual down-blocks with strided convs, no normalisation (R1 and
augmentation regularise it).
"""

from __future__ import annotations

import math
import zlib

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .common import init_he, init_weights, stages


class UpBlock(nn.Module):
    """(B, cin, r, r) -> (B, cout, 2r, 2r); with ``noise``, two (B, 1, 2r, 2r) noise maps are
    added after each conv, scaled per channel by learned strengths that start at zero."""

    def __init__(self, cin: int, cout: int, noise: bool = False) -> None:
        super().__init__()
        # (2, C, 1, 1), not 5-D: channels-last conversion needs rank-4 parameters.
        self.noise_strength = nn.Parameter(torch.zeros(2, cout, 1, 1)) if noise else None
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise``: (2, B, 1, 2r, 2r) when the block was built with ``noise``."""
        # The 1x1 skip commutes with upsampling: applying it first costs 4x fewer FLOPs.
        s = F.interpolate(self.skip(x), scale_factor=2.0, mode="nearest")
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.bn1(self.conv1(x))
        if self.noise_strength is not None:
            # After batch norm, so the learned strength is relative to unit-scale features.
            assert noise is not None, "a block built with noise needs its noise maps"
            h = h + self.noise_strength[0] * noise[0]
        # In-place activations: one less full-size tensor written per layer (memory-bound ops).
        h = self.bn2(self.conv2(F.leaky_relu_(h, 0.2)))
        if self.noise_strength is not None and noise is not None:
            h = h + self.noise_strength[1] * noise[1]
        return F.leaky_relu_(h.add_(s), 0.2)


class SLE(nn.Module):
    """Skip-layer excitation: coarse (B, cs, rs, rs) gates fine (B, cd, rd, rd) per channel."""

    def __init__(self, c_src: int, c_dst: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_src, c_dst, 4, 1, 0)
        self.conv2 = nn.Conv2d(c_dst, c_dst, 1)

    def forward(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        g = F.adaptive_avg_pool2d(src, 4)
        g = torch.sigmoid(self.conv2(F.leaky_relu(self.conv1(g), 0.2)))  # (B, c_dst, 1, 1)
        return dst * g


def _sle_pairs(resolution: int) -> list[tuple[int, int]]:
    """(source, destination) sizes: 4->32, 8->64, 16->128, 32->256 where they exist."""
    return [(s, s * 8) for s in (4, 8, 16, 32) if s * 8 <= resolution]


class ResGenerator(nn.Module):
    """z (B, z_dim) -> image (B, 3, R, R) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.z_dim = cfg.z_dim
        self.res = stages(cfg.resolution)
        c4 = cfg.channels(4)
        self.fc = nn.Linear(cfg.z_dim, c4 * 16, bias=False)
        self.bn0 = nn.BatchNorm2d(c4)
        self.noise = bool(cfg.g_noise)
        # Eval-mode override: every sample gets the noise of this seed (a latent walk keeps
        # its fine detail still instead of re-drawing it every frame). Not saved.
        self.noise_seed: int | None = None
        blocks = {str(r): UpBlock(cfg.channels(r // 2), cfg.channels(r), self.noise) for r in self.res[1:]}
        self.blocks = nn.ModuleDict(blocks)
        self.sle_pairs = _sle_pairs(cfg.resolution)
        self.sle = nn.ModuleDict({f"{s}to{d}": SLE(cfg.channels(s), cfg.channels(d)) for s, d in self.sle_pairs})
        self.to_rgb = nn.Conv2d(cfg.channels(cfg.resolution), 3, 3, 1, 1)
        self.apply(init_weights)
        # Residual branches start small so the untrained net is close to its skip path.
        for block in blocks.values():  # the same modules, typed as UpBlock
            nn.init.normal_(block.bn2.weight, 0.2, 0.02)

    def draw_noise(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        """{r: (2, B, 1, r, r)} noise maps for every block. Training draws fresh noise; in
        eval mode each sample's maps are seeded by its own z, so an image depends only on
        its latent (``--seed 5 --n 1`` still reproduces image 5 of a batch)."""
        b = z.shape[0]
        if self.training:
            return {r: torch.randn(2, b, 1, r, r, device=z.device, dtype=z.dtype) for r in self.res[1:]}
        if self.noise_seed is not None:
            gen = torch.Generator().manual_seed(self.noise_seed)
            return {
                r: torch.randn(2, 1, 1, r, r, generator=gen).expand(2, b, 1, r, r).to(z.device, z.dtype)
                for r in self.res[1:]
            }
        out = {r: torch.empty(2, b, 1, r, r, dtype=z.dtype) for r in self.res[1:]}
        for i, zi in enumerate(z.detach().float().cpu()):
            gen = torch.Generator().manual_seed(zlib.crc32(zi.numpy().tobytes()))
            for r in self.res[1:]:
                out[r][:, i] = torch.randn(2, 1, r, r, generator=gen)
        return {r: n.to(z.device) for r, n in out.items()}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        noise = self.draw_noise(z) if self.noise else {}
        x = self.fc(z).view(z.shape[0], -1, 4, 4)
        x = F.leaky_relu_(self.bn0(x), 0.2)
        feats = {4: x}
        for r in self.res[1:]:
            x = self.blocks[str(r)](x, noise.get(r))
            for s, d in self.sle_pairs:
                if d == r:
                    x = self.sle[f"{s}to{d}"](feats[s], x)
            feats[r] = x
        return torch.tanh(self.to_rgb(x))


class DownBlock(nn.Module):
    """(B, cin, r, r) -> (B, cout, r/2, r/2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, 3, 1, 1)
        self.conv2 = nn.Conv2d(cin, cout, 4, 2, 1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.leaky_relu_(self.conv1(x), 0.2))
        s = self.skip(F.avg_pool2d(x, 2))
        # The sum is not rescaled here: init_scaled() puts the 1/sqrt(2) that keeps its
        # variance equal to its parts' into conv2 and skip (LeakyReLU is positively
        # homogeneous), saving an element-wise pass per block.
        return F.leaky_relu_(h.add_(s), 0.2)

    def init_scaled(self) -> None:
        with torch.no_grad():
            for conv in (self.conv2, self.skip):
                conv.weight.mul_(1 / math.sqrt(2))


MBSTD_GROUP = 4


def minibatch_std(h: torch.Tensor, group: int = MBSTD_GROUP) -> torch.Tensor:
    """(B, C, H, W) -> (B, C + 1, H, W): appends, as a constant map, the standard deviation
    of the features over each group of consecutive samples (Karras et al. 2018), so D can
    see a batch whose images are too alike. Groups are consecutive and B is split evenly,
    so when ``group`` divides the number of reals, a batch of reals followed by as many
    fakes never mixes the two in one group."""
    b, c, hh, ww = h.shape
    g = max(d for d in range(1, min(group, b) + 1) if b % d == 0)
    y = h.float().view(b // g, g, c, hh, ww)
    std = (y.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/g,)
    feat = std.repeat_interleave(g).view(b, 1, 1, 1).expand(b, 1, hh, ww).to(h.dtype)
    return torch.cat([h, feat], dim=1)


class ResDiscriminator(nn.Module):
    """image (B, 3, R, R) -> logits (B,), or (B, 1 + 64) with ``d_patch``: the whole-image
    logit, then one per cell of the 8x8 feature map (each sees a patch of the image), so D
    also says *where* an image looks wrong - a denser signal for local texture."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        res = stages(cfg.resolution)[::-1]  # R .. 4
        self.from_rgb = nn.Conv2d(3, cfg.d_channels(res[0]), 3, 1, 1)
        blocks = [DownBlock(cfg.d_channels(r), cfg.d_channels(r // 2)) for r in res[:-1]]
        self.blocks = nn.Sequential(*blocks)
        c4 = cfg.d_channels(4)
        self.mbstd = bool(cfg.d_mbstd)
        # Without batch norm or minibatch std a sample's logit does not depend on the rest of
        # its batch, so reals and fakes may share one pass (training/steps.py reads this).
        # With minibatch std they take separate passes: a shared one would be exact when the
        # group size divides the batch, but measured no faster.
        self.batch_independent = not self.mbstd
        self.conv4 = nn.Conv2d(c4 + int(self.mbstd), c4, 3, 1, 1)
        self.fc = nn.Linear(c4 * 16, 1)
        self.patch = nn.Conv2d(cfg.d_channels(8), 1, 1) if cfg.d_patch else None
        self.apply(init_he)
        for block in blocks:  # the same modules, typed as DownBlock
            block.init_scaled()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B,), or (B, 1 + 64) with patch logits."""
        h = F.leaky_relu_(self.from_rgb(x), 0.2)
        patch = None
        for block in self.blocks:
            h = block(h)
            if h.shape[-1] == 8 and self.patch is not None:
                patch = self.patch(h).flatten(1)  # (B, 64)
        if self.mbstd:
            h = minibatch_std(h)
        h = F.leaky_relu_(self.conv4(h), 0.2)
        logit = self.fc(h.flatten(1))  # (B, 1)
        return logit.flatten() if patch is None else torch.cat([logit, patch], dim=1)
