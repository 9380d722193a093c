"""Exponential moving average of generator weights, with a half-life measured in images."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch: int, nimg: int, half_life_kimg: float, rampup: float | None) -> float:
    """Decay per step so the average halves its memory every ``half_life_kimg`` thousand images.

    ``beta = 0.5 ** (batch / half_life_images)`` does not depend on the batch size. With
    ``rampup``, the half-life is at most ``rampup * nimg`` so early averages are not stale.
    """
    half = half_life_kimg * 1000.0
    if rampup is not None and rampup > 0:
        half = min(half, nimg * rampup)
    return 0.5 ** (batch / max(half, 1e-8))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model for parameters; buffers are copied."""
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1.0 - beta)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


@torch.no_grad()
def recalibrate_batchnorm(g: nn.Module, z_dim: int, *, batches: int = 8, batch: int = 32, seed: int = 12345) -> None:
    """Re-estimate BatchNorm running statistics of ``g`` (usually the EMA generator).

    The EMA weights differ from the live ones, so statistics copied from the live
    generator are slightly off; a few forward passes in train mode fix that. Uses its own
    RNG so the training RNG stream is untouched.
    """
    bns = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = g.training
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the passes below
    gen = torch.Generator().manual_seed(seed)
    device = next(g.parameters()).device  # latents drawn on the CPU, as everywhere
    g.train()
    for _ in range(batches):
        g(torch.randn(batch, z_dim, generator=gen).to(device))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    g.train(was_training)
