"""One discriminator step and one generator step. Knows nothing about architectures."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import augment
from ..losses import PATCH_WEIGHT, d_loss, g_loss, image_logits, mode_seeking, r1_penalty


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
    channels_last: bool = False
    recon_weight: float = 1.0  # weight of D's self-reconstruction loss, for a D that reconstructs
    # G's step reuses the fakes of D's step (one G forward per iteration instead of two:
    # the D step's forward keeps its graph, and G's step backpropagates through it).
    reuse_fakes: bool = False
    # Weight of the mode-seeking term in G's loss (losses.mode_seeking, on 16 px copies:
    # different latents should give different colour and layout). 0: off.
    ms_weight: float = 0.0


def recon_loss(recon: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """L1 between D's rebuild (B, 3, s, s) and the (augmented) reals it saw (B, 3, R, R),
    area-resized to s. Scalar."""
    return (recon - F.interpolate(seen.detach(), size=recon.shape[-2:], mode="area")).abs().mean()


def _fmt(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _works(G: nn.Module, z: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """D's keyword for fakes drawn from ``z``: {"works": (B,)} for a conditional G, else {}."""
    if not getattr(G, "works", 0):
        return {}
    if z is None:
        raise ValueError("a conditional generator's fakes need their latents")
    return {"works": G.work_of(z)}


def d_step(
    ctx: StepContext, real: torch.Tensor, p: float, step: int, works: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Update D on a real batch (B, 3, R, R) and as many fakes. ``works`` (B,): the training
    work of each real, for a conditional G/D. Returns detached stats; with
    ``ctx.reuse_fakes`` also ``"_fake"``, the fakes with G's graph, and ``"_z"``, their
    latents, for :func:`g_step`."""
    b = real.shape[0]
    z = torch.randn(b, ctx.z_dim)
    fake_kw = _works(ctx.G, z)
    if bool(fake_kw) != (works is not None):
        raise ValueError("a conditional generator needs the works of the real batch, an unconditional one takes none")
    real_kw = {} if works is None else {"works": works}
    if ctx.reuse_fakes:
        fake_g = ctx.G(z)
        fake = fake_g.detach()
    else:
        with torch.no_grad():
            fake = ctx.G(z)
    do_r1 = ctx.r1_gamma > 0 and step % ctx.r1_interval == 0
    real_in = real.detach().requires_grad_(do_r1)
    # A D with a decoder also rebuilds the reals it sees (FastGAN's self-supervision).
    recon_kw = {"reconstruct": True} if getattr(ctx.D, "reconstructs", False) else {}
    recon = None
    # Reals and fakes in one batch (the else branch): one pass through D instead of two. Only
    # for a D whose output for a sample does not depend on the rest of the batch.
    if not getattr(ctx.D, "batch_independent", False):
        real_seen = augment(real_in, p, ctx.augment_ops)
        real_logits = ctx.D(_fmt(real_seen, ctx.channels_last), **recon_kw, **real_kw)
        if recon_kw:
            real_logits, recon = real_logits
        fake_logits = ctx.D(_fmt(augment(fake, p, ctx.augment_ops), ctx.channels_last), **fake_kw)
    else:
        both = augment(torch.cat([real_in, fake]), p, ctx.augment_ops)
        both_kw = {"works": torch.cat([works, fake_kw["works"]])} if works is not None else {}
        logits = ctx.D(_fmt(both, ctx.channels_last), **recon_kw, **both_kw)
        if recon_kw:
            logits, recon = logits
            recon = recon[:b]
        real_logits, fake_logits, real_seen = logits[:b], logits[b:], both[:b]
    loss = d_loss(real_logits, fake_logits, ctx.loss, ctx.patch_weight)
    stats = {
        "loss/D": loss.detach(),
        "D/real": image_logits(real_logits).detach().mean(),
        "D/fake": image_logits(fake_logits).detach().mean(),
    }
    if recon is not None:
        rec = recon_loss(recon, real_seen)
        loss = loss + ctx.recon_weight * rec
        stats["D/recon"] = rec.detach()
    if do_r1:
        # Lazy R1: every r1_interval steps, weighted by the interval so the average
        # strength matches a penalty applied every step (StyleGAN2).
        penalty = r1_penalty(real_logits, real_in, ctx.patch_weight)
        loss = loss + penalty * (ctx.r1_gamma / 2 * ctx.r1_interval)
        stats["r1"] = penalty.detach()
    ctx.opt_D.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_D.step()
    stats["_real_logits"] = image_logits(real_logits).detach()  # ADA judges whole images
    if ctx.reuse_fakes:
        stats["_fake"], stats["_z"] = fake_g, z
    return stats


def g_step(
    ctx: StepContext, batch: int, p: float, fake: torch.Tensor | None = None, z: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Update G through D (whose parameters get no gradients). ``fake`` (B, 3, R, R): fakes
    still attached to G's graph (from :func:`d_step`), drawn from ``z`` (B, z_dim); else G
    draws new ones. Returns detached stats."""
    ctx.D.requires_grad_(False)
    try:
        if fake is None:
            z = torch.randn(batch, ctx.z_dim)
            fake = ctx.G(z)
        logits = ctx.D(_fmt(augment(fake, p, ctx.augment_ops), ctx.channels_last), **_works(ctx.G, z))
        loss = g_loss(logits, ctx.loss, ctx.patch_weight)
        stats = {"loss/G": loss.detach()}
        if ctx.ms_weight > 0:
            if z is None:
                raise ValueError("the mode-seeking term needs the latents of the given fakes")
            ms = mode_seeking(fake, z)
            loss = loss + ctx.ms_weight * ms
            stats["loss/ms"] = ms.detach()
        ctx.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        ctx.opt_G.step()
    finally:
        ctx.D.requires_grad_(True)
    return stats
