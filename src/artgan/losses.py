"""Adversarial losses on logits, and the R1 gradient penalty.

All take discriminator logits and return a scalar. Logits are (B,), or (B, 1 + P) for a
discriminator that also judges P patches: column 0 is the whole-image logit, and the
mean patch term then weighs ``patch_weight`` (half by default), the image term the rest. Written with softplus so they
are stable for any logit: -log(sigmoid(x)) == softplus(-x).

:func:`multiscale_d_loss` and :func:`multiscale_g_loss` take a multi-scale patch
discriminator itself (the stylizer's and the texture model's); the D loss includes lazy R1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

PATCH_WEIGHT = 0.5  # default share of the patch-level term when D has one


def _mean(per_logit: torch.Tensor, patch_weight: float = PATCH_WEIGHT) -> torch.Tensor:
    """Mean of a per-logit loss (B,) or (B, 1 + P): image term and mean patch term weighted
    ``1 - patch_weight`` and ``patch_weight``."""
    if per_logit.dim() == 1 or per_logit.shape[1] == 1:
        return per_logit.mean()
    return (1 - patch_weight) * per_logit[:, 0].mean() + patch_weight * per_logit[:, 1:].mean()


def image_logits(logits: torch.Tensor) -> torch.Tensor:
    """The whole-image logits (B,) of a (B,) or (B, 1 + P) output."""
    return logits if logits.dim() == 1 else logits[:, 0]


def d_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "ns", patch_weight: float = PATCH_WEIGHT
) -> torch.Tensor:
    """Discriminator loss. ``ns``: -log D(x) - log(1 - D(G(z))); ``hinge``: relu(1-x) + relu(1+x)."""
    w = patch_weight
    if kind == "ns":
        return _mean(F.softplus(-real_logits), w) + _mean(F.softplus(fake_logits), w)
    if kind == "hinge":
        return _mean(F.relu(1 - real_logits), w) + _mean(F.relu(1 + fake_logits), w)
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(fake_logits: torch.Tensor, kind: str = "ns", patch_weight: float = PATCH_WEIGHT) -> torch.Tensor:
    """Generator loss. ``ns`` (non-saturating): -log D(G(z)); ``hinge``: -D(G(z))."""
    if kind == "ns":
        return _mean(F.softplus(-fake_logits), patch_weight)
    if kind == "hinge":
        return -_mean(fake_logits, patch_weight)
    raise ValueError(f"unknown loss {kind!r}")


def r1_penalty(
    real_logits: torch.Tensor, real_images: torch.Tensor, patch_weight: float = PATCH_WEIGHT
) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E ||grad_x D(x)||^2 on real images x.

    ``real_images`` (B, 3, H, W) must require grad and have produced ``real_logits``.
    Returns the unweighted mean squared gradient norm (scalar), differentiable for D.
    """
    # The gradient of the same weighted mean the losses use, per sample.
    (grad,) = torch.autograd.grad(
        _mean(real_logits, patch_weight) * real_logits.shape[0], real_images, create_graph=True
    )
    return grad.square().flatten(1).sum(1).mean()


def multiscale_d_loss(
    D: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    real: torch.Tensor,
    fake: torch.Tensor,
    kind: str = "ns",
    *,
    r1_gamma: float = 0.0,
    r1_interval: int = 1,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Loss of a multi-scale patch discriminator (``models.texgan.MultiScaleDiscriminator``).

    ``D`` maps crops (B, 3, P, P) to one logit map per scale, each (B, N_s). ``real``
    (B, 3, P, P) and ``fake`` (B', 3, P, P) are crops of real and generated images; ``fake``
    is detached here, so only D gets gradients. Each scale counts equally, and within a map
    every logit does: the ``kind`` loss (``ns`` or ``hinge``) is averaged over the maps.

    Lazy R1 (StyleGAN2): the caller passes ``r1_gamma`` > 0 only on the steps that pay the
    penalty, one in ``r1_interval``; it is then weighted ``0.5 * r1_gamma * r1_interval``,
    so its average strength is that of a penalty paid every step. It is taken on each real
    crop's mean logit over all maps.

    Returns ``(loss, r1)``: the scalar loss (R1 included) and the unweighted R1 penalty
    (scalar), or None on a step without it.
    """
    real = real.detach().requires_grad_(r1_gamma > 0)
    real_maps, fake_maps = D(real), D(fake.detach())
    loss = _mean_of([d_loss(r.flatten(), f.flatten(), kind) for r, f in zip(real_maps, fake_maps)])
    if r1_gamma <= 0:
        return loss, None
    per_sample = torch.stack([m.mean(1) for m in real_maps]).mean(0)  # (B,)
    r1 = r1_penalty(per_sample, real)
    return loss + 0.5 * r1_gamma * r1_interval * r1, r1


def multiscale_g_loss(
    D: Callable[[torch.Tensor], Sequence[torch.Tensor]], fake: torch.Tensor, kind: str = "ns"
) -> torch.Tensor:
    """G's ``kind`` loss through a multi-scale patch discriminator: ``fake`` (B, 3, P, P),
    attached to G's graph -> scalar, each of D's logit maps (B, N_s) counting equally."""
    return _mean_of([g_loss(f.flatten(), kind) for f in D(fake)])


def _mean_of(terms: list[torch.Tensor]) -> torch.Tensor:
    """The mean of scalar tensors, added left to right (as ``sum(terms) / len(terms)``)."""
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total / len(terms)


def patch_nce(query: torch.Tensor, key: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """PatchNCE (Park et al. 2020, CUT): each output patch must pick out the input patch at
    the same place among the other places of the same image.

    ``query`` (B, N, C): projected features of N sampled places of the output; ``key``
    (B, N, C): the same places of the input (no gradient needed). Both L2-normalised.
    Returns the mean cross-entropy over B*N queries (scalar); log(N) for random features.
    """
    logits = torch.bmm(query, key.detach().transpose(1, 2)) / tau  # (B, N, N): the diagonal is positive
    target = torch.arange(query.shape[1], device=query.device).expand(query.shape[0], -1)
    return F.cross_entropy(logits.flatten(0, 1), target.flatten())


def _grid_patches(x: torch.Tensor, patch: int, gen: torch.Generator) -> torch.Tensor:
    """Every ``patch`` x ``patch`` tile of x (B, C, H, W) on a grid at a random offset ->
    (B * tiles, C * patch^2). Tiles do not overlap, so each pixel gets at most one gradient
    contribution: the backward pass is a reshape, deterministic (scattering gradients of
    overlapping patches accumulates in a thread-dependent order)."""
    b, c, h, w = x.shape
    oy, ox = (int(v) for v in torch.randint(patch, (2,), generator=gen))
    gh, gw = (h - oy) // patch, (w - ox) // patch
    t = x[:, :, oy : oy + gh * patch, ox : ox + gw * patch].reshape(b, c, gh, patch, gw, patch)
    return t.permute(0, 2, 4, 1, 3, 5).reshape(b * gh * gw, c * patch * patch)


def patch_swd(
    x: torch.Tensor,
    y: torch.Tensor,
    gen: torch.Generator,
    *,
    patch: int = 5,
    levels: int = 3,
    samples: int = 1024,
    directions: int = 64,
) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between the raw ``patch`` x ``patch`` RGB patches of
    ``x`` (B, 3, H, W) and those of ``y`` (B', 3, H', W'), averaged over ``levels`` of a
    2x average-pooling pyramid. A direct, dense style signal (patch statistics, as in
    texture synthesis by patch-distribution matching); only ``x`` gets a gradient.

    Each call takes up to ``samples`` non-overlapping patches per set and level (a tiling at
    a random offset) and ``directions`` fresh random unit directions from ``gen``, so over
    many steps it matches whole distributions, not a fixed set of projections. Returns a
    scalar in pixel units (images in [-1, 1]).
    """
    y = y.detach()
    total, done = x.new_zeros(()), 0
    for level in range(levels):
        if level:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        if min(*x.shape[-2:], *y.shape[-2:]) < 2 * patch:
            break
        a, b = _grid_patches(x, patch, gen), _grid_patches(y, patch, gen)
        k = min(samples, a.shape[0], b.shape[0])  # W1 by sorting needs equal counts
        a = a[torch.randperm(a.shape[0], generator=gen)[:k]]  # distinct rows: still deterministic
        b = b[torch.randperm(b.shape[0], generator=gen)[:k]]
        dirs = torch.randn(a.shape[1], directions, generator=gen).to(a)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        # In 1-D, W1 between equal-size samples is the mean gap between sorted values.
        pa, _ = torch.sort(a @ dirs, dim=0)
        pb, _ = torch.sort(b @ dirs, dim=0)
        total = total + (pa - pb).abs().mean()
        done = level + 1
    return total / max(done, 1)
