"""One discriminator step and one generator step. Knows nothing about architectures."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..augment import augment
from ..losses import PATCH_WEIGHT, d_loss, g_loss, image_logits, r1_penalty


@dataclass
class StepContext:
    """What a step needs besides the batch: nets, optimisers and recipe numbers."""

    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    z_dim: int
    loss: str = "ns"
    patch_weight: float = PATCH_WEIGHT  # share of D's patch term in both losses (for a D with patch logits)
    augment_ops: tuple[str, ...] = ("color", "translation", "cutout")
    r1_gamma: float = 0.1
    r1_interval: int = 16
    # G's step reuses the fakes of D's step (one G forward per iteration instead of two:
    # the D step's forward keeps its graph, and G's step backpropagates through it).
    reuse_fakes: bool = False


@dataclass
class DStepResult:
    """What :func:`d_step` hands on: detached ``stats``, D's whole-image logits on the
    reals (B,) for the augmentation controller, and with ``reuse_fakes`` the fakes
    (B, 3, R, R) still attached to G's graph, for :func:`g_step`."""

    stats: dict[str, torch.Tensor]
    real_logits: torch.Tensor
    fake: torch.Tensor | None = None


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    # The training loop keeps G and D channels-last (faster convolutions and nearest
    # upsampling on CPU); augmentation hands back NCHW, so D's inputs are converted here.
    return x.contiguous(memory_format=torch.channels_last)


def d_step(ctx: StepContext, real: torch.Tensor, p: float, step: int) -> DStepResult:
    """Update D on a real batch (B, 3, R, R) and as many fakes."""
    b = real.shape[0]
    z = torch.randn(b, ctx.z_dim)
    if ctx.reuse_fakes:
        fake_g = ctx.G(z)
        fake = fake_g.detach()
    else:
        fake_g = None
        with torch.no_grad():
            fake = ctx.G(z)
    do_r1 = ctx.r1_gamma > 0 and step % ctx.r1_interval == 0
    real_in = real.detach().requires_grad_(do_r1)
    if getattr(ctx.D, "batch_independent", False):
        # Reals and fakes in one batch: one pass through D instead of two. Only for a D
        # whose output for a sample does not depend on the rest of the batch.
        logits = ctx.D(_channels_last(augment(torch.cat([real_in, fake]), p, ctx.augment_ops)))
        real_logits, fake_logits = logits[:b], logits[b:]
    else:
        real_logits = ctx.D(_channels_last(augment(real_in, p, ctx.augment_ops)))
        fake_logits = ctx.D(_channels_last(augment(fake, p, ctx.augment_ops)))
    loss = d_loss(real_logits, fake_logits, ctx.loss, ctx.patch_weight)
    stats = {
        "loss/D": loss.detach(),
        "D/real": image_logits(real_logits).detach().mean(),
        "D/fake": image_logits(fake_logits).detach().mean(),
    }
    if do_r1:
        # Lazy R1: every r1_interval steps, weighted by the interval so the average
        # strength matches a penalty applied every step (StyleGAN2).
        penalty = r1_penalty(real_logits, real_in, ctx.patch_weight)
        loss = loss + penalty * (ctx.r1_gamma / 2 * ctx.r1_interval)
        stats["r1"] = penalty.detach()
    ctx.opt_D.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_D.step()
    # ADA judges whole images.
    return DStepResult(stats, image_logits(real_logits).detach(), fake_g)


def g_step(ctx: StepContext, batch: int, p: float, fake: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Update G through D (whose parameters get no gradients). ``fake`` (B, 3, R, R): fakes
    still attached to G's graph (:attr:`DStepResult.fake`); else G draws ``batch`` new
    ones. Returns detached stats."""
    ctx.D.requires_grad_(False)
    try:
        if fake is None:
            fake = ctx.G(torch.randn(batch, ctx.z_dim))
        loss = g_loss(ctx.D(_channels_last(augment(fake, p, ctx.augment_ops))), ctx.loss, ctx.patch_weight)
        ctx.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        ctx.opt_G.step()
    finally:
        ctx.D.requires_grad_(True)
    return {"loss/G": loss.detach()}
