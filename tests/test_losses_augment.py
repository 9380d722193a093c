import math

import pytest
import torch

from artgan.augment import AdaptiveAugment, augment
from artgan.losses import d_loss, g_loss, patch_swd, r1_penalty

OPS = ("color", "translation", "cutout", "geometric")


def test_ns_loss_matches_definition_and_is_stable():
    x = torch.tensor([-200.0, 0.0, 3.0, 200.0])
    assert torch.allclose(g_loss(x[1:3]), -torch.log(torch.sigmoid(x[1:3])).mean())
    assert torch.isfinite(g_loss(x)) and torch.isfinite(d_loss(x, x))
    assert math.isclose(float(d_loss(torch.zeros(4), torch.zeros(4))), 2 * math.log(2), rel_tol=1e-6)


def test_hinge_loss():
    assert float(d_loss(torch.tensor([2.0]), torch.tensor([-2.0]), "hinge")) == 0.0
    assert float(g_loss(torch.tensor([1.5]), "hinge")) == -1.5


def test_r1_of_linear_function_is_weight_norm():
    w = torch.randn(3 * 4 * 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = x.flatten(1) @ w
    assert torch.allclose(r1_penalty(logits, x), w.square().sum())


def test_every_augmentation_the_config_accepts_exists():
    from artgan.augment import OPS as KNOWN
    from artgan.config import AUGMENTS

    assert set(AUGMENTS) == set(KNOWN) == set(OPS)


def test_augment_identity_at_p0_and_shapes():
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    assert torch.equal(augment(x, 0.0, OPS), x)
    y = augment(x, 1.0, OPS)
    assert y.shape == x.shape and not torch.equal(y, x)


def test_augment_is_differentiable():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    augment(x, 1.0, OPS).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content():
    x = torch.zeros(1, 3, 16, 16)
    x[..., 8, 8] = 1
    torch.manual_seed(3)
    moved = [augment(x, 1.0, ("translation",)) for _ in range(8)]
    assert any(not torch.equal(m, x) for m in moved)
    assert all(torch.isclose(m.sum(), x.sum()) for m in moved if m[..., 0:2, :].abs().sum() == 0)


def test_geometric_zooms_and_turns_but_keeps_flat_images_and_undrawn_samples():
    torch.manual_seed(0)
    flat = torch.full((4, 3, 16, 16), 0.3)
    assert torch.allclose(augment(flat, 1.0, ("geometric",)), flat, atol=1e-6)  # reflection: no border
    # A bright dot off-centre: zoom and rotation move it, and sometimes by more than a pixel.
    x = torch.zeros(16, 1, 33, 33)
    x[..., 16, 24] = 1.0
    ys, xs = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    y = augment(x, 1.0, ("geometric",))
    w = y.clamp_min(0).sum((1, 2, 3))
    cx, cy = (y[:, 0] * xs).sum((1, 2)) / w, (y[:, 0] * ys).sum((1, 2)) / w
    shift = torch.hypot(cx - 24, cy - 16)
    assert shift.max() > 1.0 and shift.max() < 8.0  # mild: at most ~15 deg and a ~2^0.6 zoom here
    # Distance to the centre changes only with the zoom; it stays within +-3 sigma of it.
    r = torch.hypot(cx - 16, cy - 16)
    assert (r > 8 * 2**-0.6).all() and (r < 8 * 2**0.6).all()
    half = augment(x, 0.5, ("geometric",))
    kept = [torch.equal(h, x[0]) for h in half]
    assert any(kept) and not all(kept)  # undrawn samples come back bit for bit


def test_adaptive_augment_moves_p_both_ways():
    ada = AdaptiveAugment(p=0.5, target=0.6, kimg=1.0, interval=1)
    ada.accumulate(torch.ones(32))  # D sure of every real: overfitting
    ada.update(batch=32, step=1)
    assert ada.p > 0.5
    ada.accumulate(-torch.ones(32))
    ada.update(batch=32, step=2)
    ada.accumulate(-torch.ones(32))
    ada.update(batch=32, step=3)
    assert ada.p < 0.5
    state = ada.state_dict()
    other = AdaptiveAugment(p=0.0, target=0.6, kimg=1.0)
    other.load_state_dict(state)
    assert other.p == ada.p


def test_losses_with_patch_logits_weigh_image_and_patches_equally():
    from artgan.losses import d_loss, g_loss, image_logits, r1_penalty

    img, patches = torch.full((4, 1), 2.0), torch.full((4, 16), -1.0)
    both = torch.cat([img, patches], 1)
    sp = torch.nn.functional.softplus
    expect = 0.5 * sp(torch.tensor(-2.0)) + 0.5 * sp(torch.tensor(1.0))
    torch.testing.assert_close(g_loss(both), expect)
    torch.testing.assert_close(d_loss(both, both), expect + 0.5 * sp(torch.tensor(2.0)) + 0.5 * sp(torch.tensor(-1.0)))
    assert torch.equal(image_logits(both), img[:, 0]) and torch.equal(image_logits(img[:, 0]), img[:, 0])
    # (B,) and (B, 1) give the same losses; R1 sees the same weighted output.
    torch.testing.assert_close(g_loss(img[:, 0]), g_loss(img))
    x = torch.randn(4, 3, 2, 2, requires_grad=True)
    w = torch.randn(12)
    out = torch.stack([x.flatten(1) @ w, 3 * (x.flatten(1) @ w)], 1)  # image logit, one "patch" logit
    # grad of 0.5*f + 0.5*3f = 2f -> |grad|^2 = 4|w|^2
    torch.testing.assert_close(r1_penalty(out, x), 4 * w.square().sum())


def test_patch_weight_sets_the_share_of_the_patch_term():
    from artgan.config import ConfigError, TrainConfig
    from artgan.losses import g_loss, r1_penalty

    both = torch.cat([torch.full((4, 1), 2.0), torch.full((4, 16), -1.0)], 1)
    sp = torch.nn.functional.softplus
    expect = 0.75 * sp(torch.tensor(-2.0)) + 0.25 * sp(torch.tensor(1.0))
    torch.testing.assert_close(g_loss(both, "ns", 0.25), expect)
    torch.testing.assert_close(g_loss(both, "hinge", 0.0), torch.tensor(-2.0))  # image logit only
    x = torch.randn(4, 3, 2, 2, requires_grad=True)
    w = torch.randn(12)
    out = torch.stack([x.flatten(1) @ w, 3 * (x.flatten(1) @ w)], 1)
    # grad of 0.75*f + 0.25*3f = 1.5f -> |grad|^2 = 2.25|w|^2
    torch.testing.assert_close(r1_penalty(out, x, 0.25), 2.25 * w.square().sum())
    with pytest.raises(ConfigError, match="patch_weight"):
        TrainConfig(patch_weight=1.5).validate()


@pytest.mark.parametrize("reuse", [False, True])
def test_reuse_fakes_runs_g_once_per_iteration_and_still_trains_g(reuse):
    """With reuse_fakes the G step backpropagates through the D step's fakes: one G forward
    per iteration instead of two, and G's weights still move (D's do in both steps' order)."""
    from artgan.config import ModelConfig
    from artgan.models import build_discriminator, build_generator
    from artgan.training.steps import StepContext, d_step, g_step

    torch.manual_seed(0)
    c = ModelConfig(resolution=16, width=8, max_width=32, z_dim=16, d_patch=True, d_mbstd=True)
    G, D = build_generator(c), build_discriminator(c)
    calls = []
    G.register_forward_hook(lambda *_: calls.append(1))
    ctx = StepContext(
        G,
        D,
        torch.optim.Adam(G.parameters(), 1e-3),
        torch.optim.Adam(D.parameters(), 1e-3),
        z_dim=16,
        loss="hinge",
        reuse_fakes=reuse,
    )
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    ds = d_step(ctx, torch.rand(4, 3, 16, 16) * 2 - 1, 0.2, 1)
    fake = ds.fake
    assert (fake is not None) == reuse and (not reuse or fake.requires_grad)
    assert ds.real_logits.shape == (4,) and "loss/D" in ds.stats
    assert any(not torch.equal(a, p) for a, p in zip(d0, D.parameters()))
    d1 = [p.detach().clone() for p in D.parameters()]
    g_step(ctx, 4, 0.2, fake)
    assert len(calls) == (1 if reuse else 2)
    assert any(not torch.equal(a, p) for a, p in zip(g0, G.parameters()))
    assert all(torch.equal(a, p) for a, p in zip(d1, D.parameters()))  # G's step leaves D alone


def _stripes(n: int, size: int, period: int, seed: int) -> torch.Tensor:
    """(n, 3, size, size) red/blue vertical stripes at random phases."""
    g = torch.Generator().manual_seed(seed)
    phase = torch.randint(period, (n, 1, 1, 1), generator=g)
    on = ((torch.arange(size).view(1, 1, 1, -1) + phase) // (period // 2)) % 2 == 0
    red, blue = torch.tensor([0.8, -0.6, -0.6]).view(1, 3, 1, 1), torch.tensor([-0.6, -0.6, 0.8]).view(1, 3, 1, 1)
    return torch.where(on, red, blue).expand(n, 3, size, size).clone()


def test_patch_swd_tells_the_same_texture_from_another_and_pulls_an_image_towards_it():
    g = torch.Generator().manual_seed(0)
    style = _stripes(4, 64, 8, seed=1)
    same, other = _stripes(4, 64, 8, seed=2), torch.zeros(4, 3, 64, 64)
    assert patch_swd(same, style, g).item() < 0.4 * patch_swd(other, style, g).item()
    # Descending the loss from a flat grey image must recover the stripes' two colours and
    # their contrast: the term carries a real style signal to whatever produces x.
    x = (0.05 * torch.randn(2, 3, 64, 64, generator=g)).requires_grad_()
    opt = torch.optim.Adam([x], lr=0.05)
    start = patch_swd(x, style, g).item()
    for _ in range(200):
        loss = patch_swd(x, style, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert patch_swd(x.detach(), style, g).item() < 0.4 * start
    assert x.detach()[:, 0].std() > 0.4 and x.detach()[:, 2].std() > 0.4  # red and blue both vary
    assert x.grad is not None and style.grad is None  # only x is pulled


@pytest.mark.parametrize("kind, r1_gamma", [("ns", 0.0), ("ns", 1.0), ("hinge", 0.5)])
def test_multiscale_d_and_g_losses_match_the_formulas_they_replaced(kind, r1_gamma):
    """multiscale_d_loss / multiscale_g_loss give exactly what training/stylizer.py and
    training/texture.py computed inline before they shared them: the same loss, the same
    R1, the same gradients for D."""
    from artgan.losses import multiscale_d_loss, multiscale_g_loss
    from artgan.models.texgan import MultiScaleDiscriminator

    torch.manual_seed(0)
    D = MultiScaleDiscriminator(8, 32)  # two scales: 32 and 16 px
    real, fake = torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1
    interval = 4

    # The inline code, as it was.
    ref_real = real.clone().requires_grad_(r1_gamma > 0)
    real_maps, fake_maps = D(ref_real), D(fake)
    ref = sum(d_loss(r.flatten(), f.flatten(), kind) for r, f in zip(real_maps, fake_maps)) / D.scales
    if r1_gamma > 0:
        per_sample = torch.stack([m.mean(1) for m in real_maps]).mean(0)
        ref_r1 = r1_penalty(per_sample, ref_real)
        ref = ref + 0.5 * r1_gamma * interval * ref_r1
    ref_grads = torch.autograd.grad(ref, list(D.parameters()))

    loss, r1 = multiscale_d_loss(D, real, fake, kind, r1_gamma=r1_gamma, r1_interval=interval)
    assert torch.equal(loss, ref)
    assert (r1 is None) if r1_gamma == 0 else torch.equal(r1, ref_r1)
    assert all(torch.equal(a, b) for a, b in zip(torch.autograd.grad(loss, list(D.parameters())), ref_grads))
    assert not real.requires_grad  # the caller's crops are left alone
    # Stored figures of this seeded case, from training.stylizer._d_loss before it was shared.
    expected = {("ns", 0.0): 1.455336, ("ns", 1.0): 1.470287, ("hinge", 0.5): 2.039935}[(kind, r1_gamma)]
    assert math.isclose(loss.item(), expected, rel_tol=1e-5), loss.item()

    G_out = fake.clone().requires_grad_(True)
    g_ref = sum(g_loss(f.flatten(), kind) for f in D(G_out)) / D.scales
    assert torch.equal(multiscale_g_loss(D, G_out, kind), g_ref)
