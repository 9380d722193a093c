"""One discriminator step and one generator step. Knows nothing about architectures."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..augment import augment
from ..losses import PATCH_WEIGHT, d_loss, g_loss, image_logits, r1_penalty
from .device import Precision


@dataclass
class StepContext:
    """What a step needs besides the batch: nets, optimisers and recipe numbers.

    In several processes ``G`` and ``D`` are DDP wrappers (their backward averages the
    gradients over the ranks) and ``G_net``/``D_net`` the networks inside; in one process
    both pairs are the same modules. ``precision`` autocasts forward passes on a GPU, with
    ``scaler_d``/``scaler_g`` for fp16; on the CPU it does nothing."""

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
    G_net: nn.Module | None = None  # the networks inside G and D (None: G and D themselves)
    D_net: nn.Module | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: Precision = field(default_factory=Precision)
    scaler_d: torch.amp.GradScaler | None = None
    scaler_g: torch.amp.GradScaler | None = None

    def __post_init__(self) -> None:
        self.G_net = self.G_net or self.G
        self.D_net = self.D_net or self.D


def _latents(ctx: StepContext, b: int) -> torch.Tensor:
    # Drawn on the CPU from torch's global generator and moved: the numbers do not depend on the device.
    return torch.randn(b, ctx.z_dim).to(ctx.device)


def _optimise(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:  # fp16: scale the loss so small gradients do not underflow; skip steps that overflowed
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


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
    """Update D on a real batch (B, 3, R, R) (on ``ctx.device``) and as many fakes."""
    assert ctx.G_net is not None  # set by StepContext.__post_init__
    b = real.shape[0]
    z = _latents(ctx, b)
    do_r1 = ctx.r1_gamma > 0 and step % ctx.r1_interval == 0
    # R1 steps run in float32 whole: the penalty differentiates D's gradient, which
    # bf16/fp16 would round away.
    with ctx.precision.autocast(enabled=not do_r1):
        if ctx.reuse_fakes:
            fake_g = ctx.G(z)  # through DDP: G's step backpropagates into it
            fake = fake_g.detach()
        else:
            fake_g = None
            with torch.no_grad():
                fake = ctx.G_net(z)
        real_in = real.detach().requires_grad_(do_r1)
        if getattr(ctx.D_net, "batch_independent", False):
            # Reals and fakes in one batch: one pass through D instead of two. Only for a D
            # whose output for a sample does not depend on the rest of the batch.
            logits = ctx.D(_channels_last(augment(torch.cat([real_in, fake.to(real_in.dtype)]), p, ctx.augment_ops)))
            real_logits, fake_logits = logits[:b], logits[b:]
        else:
            real_logits = ctx.D(_channels_last(augment(real_in, p, ctx.augment_ops)))
            fake_logits = ctx.D(_channels_last(augment(fake, p, ctx.augment_ops)))
        loss = d_loss(real_logits.float(), fake_logits.float(), ctx.loss, ctx.patch_weight)
    stats = {
        "loss/D": loss.detach(),
        "D/real": image_logits(real_logits).detach().float().mean(),
        "D/fake": image_logits(fake_logits).detach().float().mean(),
    }
    if do_r1:
        # Lazy R1: every r1_interval steps, weighted by the interval so the average
        # strength matches a penalty applied every step (StyleGAN2). The gradient is taken
        # with respect to the reals (not D's weights), so DDP sees one ordinary backward.
        penalty = r1_penalty(real_logits, real_in, ctx.patch_weight)
        loss = loss + penalty * (ctx.r1_gamma / 2 * ctx.r1_interval)
        stats["r1"] = penalty.detach()
    _optimise(loss, ctx.opt_D, ctx.scaler_d)
    # ADA judges whole images.
    return DStepResult(stats, image_logits(real_logits).detach().float(), fake_g)


def g_step(ctx: StepContext, batch: int, p: float, fake: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Update G through D (whose parameters get no gradients). ``fake`` (B, 3, R, R): fakes
    still attached to G's graph (:attr:`DStepResult.fake`); else G draws ``batch`` new
    ones. Returns detached stats."""
    # D's network itself, not its DDP wrapper: D is not updated here, so there is nothing
    # to average, and a DDP forward would wait for gradients that never come.
    D = ctx.D_net
    assert D is not None  # set by StepContext.__post_init__
    D.requires_grad_(False)
    try:
        with ctx.precision.autocast():
            if fake is None:
                fake = ctx.G(_latents(ctx, batch))
            loss = g_loss(D(_channels_last(augment(fake, p, ctx.augment_ops))).float(), ctx.loss, ctx.patch_weight)
        _optimise(loss, ctx.opt_G, ctx.scaler_g)
    finally:
        D.requires_grad_(True)
    return {"loss/G": loss.detach()}
