"""The mode-seeking term (losses.mode_seeking) and its place in G's step."""

import pytest
import torch

from artgan.config import ConfigError, ModelConfig, TrainConfig
from artgan.losses import mode_seeking
from artgan.models import build_discriminator, build_generator
from artgan.training.steps import StepContext, d_step, g_step


def test_term_is_small_for_different_layouts_and_blind_to_fine_detail():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 16, generator=g)
    varied = torch.rand(8, 3, 64, 64, generator=g) * 2 - 1
    flat = torch.zeros(8, 3, 64, 64)
    # A 1-px checkerboard in half of the batch: different at 64 px, the same at 16 px.
    checker = ((torch.arange(64).view(-1, 1) + torch.arange(64)) % 2 * 2 - 1).float().expand(4, 3, 64, 64)
    fine_only = torch.cat([flat[:4], 0.5 * checker])
    coarse_diff = torch.cat([flat[:4], flat[4:] + 0.5])  # the same contrast, but at the coarse level
    assert mode_seeking(varied, z) < 100
    assert mode_seeking(fine_only, z) > 1e4  # only fine detail differs: as bad as identical images
    assert mode_seeking(coarse_diff, z) < mode_seeking(fine_only, z) / 1e3
    # Pairs further apart in latent space are asked to differ more: the term grows with |dz|.
    assert mode_seeking(coarse_diff, 3 * z) == pytest.approx(3 * float(mode_seeking(coarse_diff, z)))


def test_a_gradient_step_pulls_paired_images_apart_at_the_coarse_level():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 8, generator=g)
    x = (0.05 * torch.randn(6, 3, 32, 32, generator=g)).requires_grad_(True)
    before = mode_seeking(x, z)
    before.backward()
    with torch.no_grad():
        y = x - 1e-4 * x.grad
    small = lambda t: torch.nn.functional.avg_pool2d(t, 2)  # noqa: E731 (32 px -> 16 px)
    assert mode_seeking(y, z) < before
    assert (small(y)[:3] - small(y)[3:]).abs().mean() > (small(x)[:3] - small(x)[3:]).abs().mean()


def _ctx(ms_weight: float, reuse: bool = True) -> StepContext:
    torch.manual_seed(0)
    c = ModelConfig(resolution=16, width=8, max_width=32, z_dim=16)
    G, D = build_generator(c), build_discriminator(c)
    return StepContext(
        G,
        D,
        torch.optim.Adam(G.parameters(), 2e-3, betas=(0.5, 0.99)),
        torch.optim.Adam(D.parameters(), 2e-3),
        z_dim=16,
        loss="hinge",
        reuse_fakes=reuse,
        ms_weight=ms_weight,
    )


def _colour_spread(G: torch.nn.Module) -> float:
    """Std over 64 images of each image's mean colour (averaged over R, G, B). In train mode,
    as the term saw G: batch statistics, not 40 steps' worth of running averages."""
    with torch.no_grad():
        x = G(torch.randn(64, 16, generator=torch.Generator().manual_seed(9)))
    return float(x.mean((2, 3)).std(0).mean())


def test_g_steps_with_the_term_give_more_varied_images_than_without():
    """The same seeded G, D and real batch, 40 iterations with and without the term: with it,
    G's images differ more in overall colour."""
    real = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 0.2  # one dull colour
    spread = {}
    for w in (0.0, 1.0):
        ctx = _ctx(w)
        for step in range(40):
            ds = d_step(ctx, real, 0.0, step + 1)
            gs = g_step(ctx, 8, 0.0, ds.pop("_fake"), ds.pop("_z"))
        assert ("loss/ms" in gs) == (w > 0)
        spread[w] = _colour_spread(ctx.G)
    assert spread[1.0] > 1.5 * spread[0.0], spread


def test_fakes_without_their_latents_are_refused_and_the_weight_is_validated():
    ctx = _ctx(1.0, reuse=False)
    fake = ctx.G(torch.randn(4, 16))
    with pytest.raises(ValueError, match="latents"):
        g_step(ctx, 4, 0.0, fake)
    assert "loss/ms" in g_step(ctx, 4, 0.0)  # G draws its own fakes and knows their latents
    with pytest.raises(ConfigError, match="ms_weight"):
        TrainConfig(ms_weight=-1).validate()
