"""Adversarial losses on logits, and the R1 gradient penalty.

All take discriminator logits (B,) and return a scalar. Written with softplus so they are
stable for any logit: -log(sigmoid(x)) == softplus(-x).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "ns") -> torch.Tensor:
    """Discriminator loss. ``ns``: -log D(x) - log(1 - D(G(z))); ``hinge``: relu(1-x) + relu(1+x)."""
    if kind == "ns":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(fake_logits: torch.Tensor, kind: str = "ns") -> torch.Tensor:
    """Generator loss. ``ns`` (non-saturating): -log D(G(z)); ``hinge``: -D(G(z))."""
    if kind == "ns":
        return F.softplus(-fake_logits).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown loss {kind!r}")


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E ||grad_x D(x)||^2 on real images x.

    ``real_images`` (B, 3, H, W) must require grad and have produced ``real_logits``.
    Returns the unweighted mean squared gradient norm (scalar), differentiable for D.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()
