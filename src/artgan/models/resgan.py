"""ResGAN: a residual GAN for small datasets (the default family).

Generator: residual up-blocks (nearest upsample + two 3x3 convs + batch norm, 1x1 skip),
skip-layer excitation (SLE, Liu et al. 2021 "FastGAN") that lets coarse 4-8 px features
gate the channels of fine ones, cheap global structure for a few extra FLOPs.
Discriminator: residual down-blocks with strided convs, no normalisation (R1 and
augmentation regularise it; spectral norm and dropout are options).
"""

from __future__ import annotations

import math
import zlib

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .common import init_he, init_weights, maybe_sn, separable_blur, stages, work_of


class UpBlock(nn.Module):
    """(B, cin, r, r) -> (B, cout, 2r, 2r); with ``noise``, two (B, 1, 2r, 2r) noise maps are
    added after each conv, scaled per channel by learned strengths that start at zero."""

    def __init__(self, cin: int, cout: int, mode: str = "nearest", noise: bool = False) -> None:
        super().__init__()
        self.mode = mode
        # (2, C, 1, 1), not 5-D: channels-last conversion needs rank-4 parameters.
        self.noise_strength = nn.Parameter(torch.zeros(2, cout, 1, 1)) if noise else None
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise``: (2, B, 1, 2r, 2r) when the block was built with ``noise``."""
        # The 1x1 skip commutes with (linear) upsampling: applying it first costs 4x fewer FLOPs.
        s = self._up(self.skip(x))
        x = self._up(x)
        h = self.bn1(self.conv1(x))
        if self.noise_strength is not None:
            # After batch norm, so the learned strength is relative to unit-scale features.
            h = h + self.noise_strength[0] * noise[0]
        # In-place activations: one less full-size tensor written per layer (memory-bound ops).
        h = self.bn2(self.conv2(F.leaky_relu_(h, 0.2)))
        if self.noise_strength is not None:
            h = h + self.noise_strength[1] * noise[1]
        return F.leaky_relu_(h.add_(s), 0.2)

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        # Bilinear avoids nearest's 2x2 blocks, which the convs can turn into a faint grid.
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


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


def _block_upsample(mode: str, r: int, resolution: int) -> str:
    """The interpolation of the up-block that outputs ``r`` px. "mixed" keeps nearest for
    the coarse blocks (layout, where bilinear measured worse) and uses bilinear for the last
    two, where nearest's 2x2 copies become a fine hatching the convs cannot smooth away."""
    if mode == "mixed":
        return "bilinear" if r >= resolution // 2 else "nearest"
    return mode


class ResGenerator(nn.Module):
    """z (B, z_dim) -> image (B, 3, R, R) in [-1, 1].

    With ``cfg.works`` > 0 the latent also picks a training work (:func:`work_of`), whose
    learned embedding is added to it: an image is still a function of z alone, and random
    latents cover the works evenly (the discriminator checks each image against its work).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.z_dim = cfg.z_dim
        self.works = cfg.works
        # (works, z_dim), unit variance like z: the work moves the latent as far as z itself.
        self.work_embed = nn.Parameter(torch.randn(self.works, cfg.z_dim)) if self.works else None
        self.res = stages(cfg.resolution)
        c4 = cfg.channels(4)
        self.fc = nn.Linear(cfg.z_dim, c4 * 16, bias=False)
        self.bn0 = nn.BatchNorm2d(c4)
        self.noise = bool(cfg.g_noise)
        # Eval-mode override: every sample gets the noise of this seed (a latent walk keeps
        # its fine detail still instead of re-drawing it every frame). Not saved.
        self.noise_seed: int | None = None
        self.blocks = nn.ModuleDict(
            {
                str(r): UpBlock(
                    cfg.channels(r // 2), cfg.channels(r), _block_upsample(cfg.upsample, r, cfg.resolution), self.noise
                )
                for r in self.res[1:]
            }
        )
        self.sle_pairs = _sle_pairs(cfg.resolution)
        self.sle = nn.ModuleDict({f"{s}to{d}": SLE(cfg.channels(s), cfg.channels(d)) for s, d in self.sle_pairs})
        self.to_rgb = nn.Conv2d(cfg.channels(cfg.resolution), 3, 3, 1, 1)
        self.apply(init_weights)
        # Residual branches start small so the untrained net is close to its skip path.
        for block in self.blocks.values():
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

    def work_of(self, z: torch.Tensor) -> torch.Tensor | None:
        """(B, z_dim) -> (B,) the work each latent stands for; None when unconditional."""
        return work_of(z, self.works) if self.works else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        noise = self.draw_noise(z) if self.noise else {}
        h = z
        if self.work_embed is not None:
            # Sum of two unit-variance vectors, scaled back to unit variance.
            h = (z + self.work_embed[self.work_of(z)]) * (1 / math.sqrt(2))
        x = self.fc(h).view(z.shape[0], -1, 4, 4)
        x = F.leaky_relu_(self.bn0(x), 0.2)
        feats = {4: x}
        for r in self.res[1:]:
            x = self.blocks[str(r)](x, noise.get(r))
            for s, d in self.sle_pairs:
                if d == r:
                    x = self.sle[f"{s}to{d}"](feats[s], x)
            feats[r] = x
        return torch.tanh(self.to_rgb(x))


_BLUR4 = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8.0  # binomial low-pass, as before StyleGAN2's strided convs


def blur4(x: torch.Tensor) -> torch.Tensor:
    """Separable [1, 3, 3, 1] / 8 blur, reflect-padded to keep the size. (B, C, H, W) -> same."""
    return separable_blur(x, _BLUR4, (1, 2))


class DownBlock(nn.Module):
    """(B, cin, r, r) -> (B, cout, r/2, r/2). With ``blur``, the strided conv sees a
    low-passed input: without it, a pattern at the stride's period aliases to something D
    may not notice, which is where G can hide a fine lattice."""

    def __init__(self, cin: int, cout: int, sn: bool, blur: bool = False) -> None:
        super().__init__()
        self.blur = blur
        self.conv1 = maybe_sn(nn.Conv2d(cin, cin, 3, 1, 1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(cin, cout, 4, 2, 1), sn)
        self.skip = maybe_sn(nn.Conv2d(cin, cout, 1, bias=False), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu_(self.conv1(x), 0.2)
        h = self.conv2(blur4(h) if self.blur else h)
        s = self.skip(F.avg_pool2d(x, 2))
        # The sum is not rescaled here: init_scaled() puts the 1/sqrt(2) that keeps its
        # variance equal to its parts' into conv2 and skip (LeakyReLU is positively
        # homogeneous), saving an element-wise pass per block.
        return F.leaky_relu_(h.add_(s), 0.2)

    def init_scaled(self) -> None:
        with torch.no_grad():
            for conv in (self.conv2, self.skip):
                w = conv.parametrizations.weight.original if hasattr(conv, "parametrizations") else conv.weight
                w.mul_(1 / math.sqrt(2))


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


class ReconDecoder(nn.Module):
    """D's self-reconstruction head (Liu et al. 2021, "FastGAN"): (B, c, 8, 8) features ->
    (B, 3, 32, 32) in ~[-1, 1]. Tiny on purpose: it must be D's features that carry the
    image, not the decoder's own capacity."""

    def __init__(self, cin: int, width: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, 1, 1)
        self.conv2 = nn.Conv2d(width, width // 2, 3, 1, 1)
        self.to_rgb = nn.Conv2d(width // 2, 3, 3, 1, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)  # 16 px
        h = F.leaky_relu(self.conv2(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)  # 32 px
        return torch.tanh(self.to_rgb(h))


COARSE_SIZE = 16  # side of the copy D's coarse head judges


class CoarseHead(nn.Module):
    """A small second discriminator on a 16 px copy of the image (multi-scale D, as in
    pix2pixHD): (B, 3, R, R) -> (B, 1). At 16 px only colour and layout are left, the
    level at which resgan's samples are furthest from the paintings. Tried at 64 px / 15
    min (2026-12-01): that level got worse (SWD 165 against 101), so it is off by default."""

    def __init__(self, width: int, sn: bool, blur: bool) -> None:
        super().__init__()
        self.from_rgb = maybe_sn(nn.Conv2d(3, width, 3, 1, 1), sn)
        self.blocks = nn.Sequential(DownBlock(width, 2 * width, sn, blur), DownBlock(2 * width, 2 * width, sn, blur))
        self.fc = maybe_sn(nn.Linear(2 * width * 16, 1), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = x.shape[-1] // COARSE_SIZE
        small = F.avg_pool2d(x, k) if k > 1 else x  # exact area average: R is a power of two
        h = self.blocks(F.leaky_relu(self.from_rgb(small), 0.2))  # (B, 2w, 4, 4)
        return self.fc(h.flatten(1))


class ResDiscriminator(nn.Module):
    """image (B, 3, R, R) -> logits (B,), or (B, 1 + 64) with ``d_patch``: the whole-image
    logit, then one per cell of the 8x8 feature map (each sees a patch of the image), so D
    also says *where* an image looks wrong - a denser signal for local texture. With
    ``d_recon``, ``forward(x, reconstruct=True)`` also returns a (B, 3, 32, 32) rebuild of
    ``x`` from the 8x8 features (the training step asks for it on reals only). With
    ``d_coarse`` the whole-image logit also has a :class:`CoarseHead` term."""

    batch_independent = True  # no batch norm: reals and fakes may share one forward pass

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        sn = cfg.spectral_norm
        res = stages(cfg.resolution)[::-1]  # R .. 4
        self.from_rgb = maybe_sn(nn.Conv2d(3, cfg.d_channels(res[0]), 3, 1, 1), sn)
        self.blocks = nn.Sequential(
            *[DownBlock(cfg.d_channels(r), cfg.d_channels(r // 2), sn, bool(cfg.d_blur)) for r in res[:-1]]
        )
        c4 = cfg.d_channels(4)
        self.mbstd = bool(cfg.d_mbstd)
        # With minibatch std a sample's logit depends on its group, so reals and fakes go
        # through D in separate passes (training/steps.py checks this flag). One shared pass
        # would be exact when the group size divides the batch, but measured no faster:
        # 23.4 / 23.1 img/s against 24.8 / 23.8 with two passes (resgan, 64 px,
        # benchmarks/results/2026-12-01-train-throughput-resgan-64px-{shared,split}-d-pass-*.json).
        self.batch_independent = not self.mbstd
        self.conv4 = maybe_sn(nn.Conv2d(c4 + int(self.mbstd), c4, 3, 1, 1), sn)
        self.dropout = nn.Dropout(cfg.d_dropout) if cfg.d_dropout > 0 else nn.Identity()
        self.fc = maybe_sn(nn.Linear(c4 * 16, 1), sn)
        self.patch = maybe_sn(nn.Conv2d(cfg.d_channels(8), 1, 1), sn) if cfg.d_patch else None
        # Position-aware patch verdicts: the shared 1x1 conv judges a cell the same wherever
        # it is, so a motif that is plausible somewhere passes everywhere (G then tiles it).
        # A weight vector per cell, added to the shared one and starting at zero, lets D
        # learn what belongs where. (64, C, 1, 1): rank 4 for channels-last.
        self.patch_pos = (
            nn.Parameter(torch.zeros(64, cfg.d_channels(8), 1, 1)) if cfg.d_patch and cfg.d_patch_pos else None
        )
        self.decoder = ReconDecoder(cfg.d_channels(8)) if cfg.d_recon else None
        self.reconstructs = self.decoder is not None
        self.coarse = CoarseHead(32, sn, bool(cfg.d_blur)) if cfg.d_coarse else None
        # Projection discriminator (Miyato and Koyama 2018): a conditional D adds
        # <embedding of the work, pooled 4x4 features> to the whole-image logit, so an image
        # is judged as a sample of the work it claims to be. (works, c4).
        self.works = cfg.works
        self.work_proj = nn.Parameter(torch.randn(self.works, c4) / math.sqrt(c4)) if self.works else None
        self.apply(init_he)
        for block in [*self.blocks, *(self.coarse.blocks if self.coarse is not None else [])]:
            block.init_scaled()

    def forward(self, x: torch.Tensor, reconstruct: bool = False, works: torch.Tensor | None = None):
        """Logits (B,) or (B, 1 + 64); with ``reconstruct``, (logits, (B, 3, 32, 32)).
        ``works`` (B,) long: which training work each image should be of; a conditional D
        needs it."""
        if (works is None) != (self.work_proj is None):
            raise ValueError(
                "a conditional discriminator needs the works of its images, an unconditional one takes none"
            )
        h = F.leaky_relu_(self.from_rgb(x), 0.2)
        patch = recon = None
        for block in self.blocks:
            h = block(h)
            if h.shape[-1] == 8:
                if self.patch is not None:
                    patch = self.patch(h).flatten(1)  # (B, 64)
                    if self.patch_pos is not None:  # cell p adds <h[:, :, p], patch_pos[p]>
                        patch = patch + (h.flatten(2) * self.patch_pos.view(64, -1).t()).sum(1)
                if reconstruct:
                    if self.decoder is None:
                        raise ValueError("this discriminator was built without d_recon")
                    recon = self.decoder(h)
        if self.mbstd:
            h = minibatch_std(h)
        h = F.leaky_relu_(self.conv4(h), 0.2)
        logit = self.fc(self.dropout(h.flatten(1)))  # (B, 1)
        if self.work_proj is not None:
            logit = logit + (self.work_proj[works] * h.mean(dim=(2, 3))).sum(1, keepdim=True)
        if self.coarse is not None:  # one whole-image verdict: the sum of both scales' logits
            logit = logit + self.coarse(x)
        out = logit.flatten() if patch is None else torch.cat([logit, patch], dim=1)
        return (out, recon) if reconstruct else out
