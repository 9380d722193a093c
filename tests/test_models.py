"""The contract every registered family passes."""

from dataclasses import replace

import pytest
import torch

from artgan.config import ConfigError, ModelConfig
from artgan.models import FAMILIES, build_discriminator, build_generator
from artgan.training.checkpoint import _tensors

FAMS = sorted(FAMILIES)


def cfg(family: str, resolution: int = 32) -> ModelConfig:
    return ModelConfig(family=family, resolution=resolution, width=8, max_width=32, z_dim=16).validate()


@pytest.mark.parametrize("family", FAMS)
@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_shapes_and_range(family, resolution):
    c = cfg(family, resolution)
    G, D = build_generator(c), build_discriminator(c)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 3, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1
    out = D(x)  # (B,) or (B, 1 + P): image logit first, then patch logits
    assert out.shape[0] == 3 and out.dim() in (1, 2)


@pytest.mark.parametrize("family", FAMS)
def test_deterministic_construction_and_eval(family):
    torch.manual_seed(0)
    G1 = build_generator(cfg(family)).eval()
    torch.manual_seed(0)
    G2 = build_generator(cfg(family)).eval()
    z = torch.randn(2, 16)
    assert torch.equal(G1(z), G2(z))


@pytest.mark.parametrize("family", FAMS)
def test_eval_output_does_not_depend_on_batch(family):
    G = build_generator(cfg(family)).eval()
    z = torch.randn(4, 16)
    torch.testing.assert_close(G(z)[:1], G(z[:1]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("family", FAMS)
def test_save_load_equality(family, tmp_path):
    from safetensors.torch import load_file, save_file

    c = cfg(family)
    G = build_generator(c).eval()
    save_file(_tensors(G), str(tmp_path / "g.safetensors"))
    G2 = build_generator(c).eval()
    G2.load_state_dict(load_file(str(tmp_path / "g.safetensors")))
    z = torch.randn(2, 16)
    assert torch.equal(G(z), G2(z))


@pytest.mark.parametrize("family", FAMS)
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_gradients_reach_every_parameter(family, spectral_norm):
    c = ModelConfig(family=family, resolution=32, width=8, max_width=32, z_dim=16, spectral_norm=spectral_norm)
    G, D = build_generator(c), build_discriminator(c)
    D(G(torch.randn(4, 16))).sum().backward()
    for net in (G, D):
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{type(net).__name__}.{name} got no gradient"


def test_config_validation_errors():
    with pytest.raises(ConfigError, match="unknown family"):
        ModelConfig(family="nope").validate()
    with pytest.raises(ConfigError, match="power of two"):
        ModelConfig(resolution=48).validate()


@pytest.mark.parametrize("upsample", ["nearest", "bilinear", "mixed"])
@pytest.mark.parametrize("resolution", [16, 64])
def test_resgan_options_patch_logits_and_upsampling(upsample, resolution):
    c = ModelConfig(resolution=resolution, width=8, max_width=32, z_dim=16, upsample=upsample, d_patch=True)
    G, D = build_generator(c), build_discriminator(c)
    out = D(G(torch.randn(3, 16)))
    assert out.shape == (3, 1 + 64)  # the image logit, then one per 8x8 cell
    out.sum().backward()
    assert all(p.grad is not None for p in (*G.parameters(), *D.parameters()))
    modes = {int(r): block.mode for r, block in G.blocks.items()}
    if upsample == "mixed":  # bilinear only in the last two blocks
        assert modes == (
            {8: "nearest", 16: "nearest", 32: "bilinear", 64: "bilinear"}
            if resolution == 64
            else {8: "bilinear", 16: "bilinear"}
        )
    else:
        assert set(modes.values()) == {upsample}
    with pytest.raises(ConfigError, match="upsample"):
        ModelConfig(upsample="cubic").validate()


def test_patch_logits_only_see_their_region():
    """A patch logit changes when its own region of the image changes, not a far one."""
    c = ModelConfig(resolution=64, width=8, max_width=32, z_dim=16, d_patch=True)
    D = build_discriminator(c).eval()
    x = torch.randn(1, 3, 64, 64)
    y = x.clone()
    y[:, :, :8, :8] += 1.0  # top-left corner only
    delta = (D(y) - D(x))[0, 1:].view(8, 8).abs()
    assert delta[0, 0] > 0 and delta[7, 7] == 0


def test_family_defaults_and_legacy_files():
    from artgan.config import read_model_file_dict, to_dict
    from artgan.models import FAMILIES

    assert ModelConfig().width == FAMILIES["resgan"].defaults["width"]
    assert ModelConfig(family="dcgan").width == 32 and ModelConfig(family="dcgan").d_patch is False
    assert ModelConfig(width=24).width == 24  # the user's value wins
    # A config.json written before upsample/d_patch existed loads as what it was trained as.
    old = {
        "format_version": 1,
        "model": {k: v for k, v in to_dict(ModelConfig(width=8)).items() if k not in ("upsample", "d_patch")},
    }
    m = read_model_file_dict(old, "old/config.json")
    assert m.upsample == "nearest" and m.d_patch is False and m.width == 8


def test_resgan_noise_inputs_seeded_by_latent_in_eval():
    """With g_noise, training draws fresh noise (same z, different images once the
    strengths are non-zero), while eval seeds each sample's noise from its own latent,
    so an image never depends on the rest of its batch; the strengths get gradients."""
    c = ModelConfig(resolution=32, width=8, max_width=32, z_dim=16, g_noise=True)
    torch.manual_seed(0)
    G = build_generator(c)
    with torch.no_grad():
        for block in G.blocks.values():
            block.noise_strength.fill_(0.5)
    z = torch.randn(4, 16)
    assert not torch.allclose(G(z), G(z))  # train mode: fresh noise every call
    G.eval()
    torch.testing.assert_close(G(z)[2:3], G(z[2:3]), atol=1e-5, rtol=1e-4)
    assert torch.equal(G(z), G(z))
    G.noise_seed = 3  # a latent walk: one noise draw shared by every frame
    maps = G.draw_noise(z)
    assert all(torch.equal(m[:, 0], m[:, 3]) for m in maps.values())
    G.noise_seed = None
    G.train()
    G(z).square().mean().backward()
    assert all(b.noise_strength.grad.abs().sum() > 0 for b in G.blocks.values())


def test_resgan_d_width_sets_discriminator_channels_only():
    c = ModelConfig(resolution=32, width=8, max_width=64, z_dim=16, d_width=16).validate()
    G, D = build_generator(c), build_discriminator(c)
    assert D.from_rgb.out_channels == 16 and G.to_rgb.in_channels == 8
    assert D(G(torch.randn(2, 16))).shape[0] == 2
    with pytest.raises(ConfigError, match="d_width"):
        ModelConfig(d_width=2).validate()


@pytest.mark.parametrize("family", ["resgan", "dcgan"])
def test_g_coarse_mult_widens_only_the_generators_layout_levels(family):
    base = ModelConfig(family=family, resolution=64, width=8, max_width=128, z_dim=16).validate()
    wide = ModelConfig(family=family, resolution=64, width=8, max_width=128, z_dim=16, g_coarse_mult=2).validate()
    # 64 / 32 px keep their channels; 16 / 8 px double; 4 px doubles up to max_width.
    assert [base.channels(r) for r in (64, 32, 16, 8, 4)] == [8, 16, 32, 64, 128]
    assert [wide.channels(r) for r in (64, 32, 16, 8, 4)] == [8, 16, 64, 128, 128]
    assert [wide.d_channels(r) for r in (64, 32, 16, 8, 4)] == [base.d_channels(r) for r in (64, 32, 16, 8, 4)]
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(build_generator(wide)) > n(build_generator(base))
    assert n(build_discriminator(wide)) == n(build_discriminator(base))
    assert build_generator(wide)(torch.randn(2, 16)).shape == (2, 3, 64, 64)
    with pytest.raises(ConfigError, match="g_coarse_mult"):
        ModelConfig(g_coarse_mult=0).validate()


def test_files_without_noise_or_d_width_load_as_trained():
    from artgan.config import read_model_file_dict, to_dict

    old = {
        "format_version": 1,
        "model": {k: v for k, v in to_dict(ModelConfig(width=8)).items() if k not in ("g_noise", "d_width")},
    }
    m = read_model_file_dict(old, "old/config.json")
    assert m.g_noise is False and m.d_width is None


def test_d_blur_removes_the_finest_lattice_before_striding():
    """blur4 keeps flat areas and cancels a 2-px checkerboard (the pattern a strided conv
    aliases); a D built with d_blur still runs and trains."""
    from artgan.models.resgan import blur4

    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checker = ((yy + xx) % 2 * 2 - 1).float().expand(1, 2, 16, 16)
    assert blur4(checker).abs().max() < 1e-6
    torch.testing.assert_close(blur4(torch.full((1, 2, 16, 16), 0.3)), torch.full((1, 2, 16, 16), 0.3))
    c = ModelConfig(resolution=32, width=8, max_width=32, z_dim=16, d_blur=True)
    D = build_discriminator(c)
    D(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None for p in D.parameters())


def test_d_mbstd_looks_across_its_group_only():
    """Minibatch std: a logit reacts to the other images of its group of 4, not to other
    groups, and such a D asks for separate real and fake passes."""
    c = ModelConfig(resolution=32, width=8, max_width=32, z_dim=16, d_mbstd=True)
    torch.manual_seed(0)
    D = build_discriminator(c).eval()
    assert D.batch_independent is False
    x = torch.randn(8, 3, 32, 32)
    y = x.clone()
    y[1] += 1.0  # a member of the first group
    delta = (D(y) - D(x))[:, 0].abs()
    assert delta[0] > 0 and delta[4:].max() == 0
    assert build_discriminator(
        ModelConfig(resolution=32, width=8, max_width=32, z_dim=16, d_mbstd=False)
    ).batch_independent


def test_d_recon_learns_to_rebuild_the_reals_it_sees():
    """D's self-reconstruction head: (B, 3, 32, 32) from the 8x8 features, only when asked,
    and a few D steps on a fixed set of reals lower the rebuild error (the head learns)."""
    from artgan.training.steps import StepContext, d_step, recon_loss

    torch.manual_seed(0)
    c = ModelConfig(resolution=32, width=8, max_width=32, z_dim=16, d_patch=True, d_mbstd=True, d_recon=True)
    G, D = build_generator(c), build_discriminator(c)
    logits, recon = D(torch.randn(4, 3, 32, 32), reconstruct=True)
    assert logits.shape == (4, 65) and recon.shape == (4, 3, 32, 32)
    assert D(torch.randn(4, 3, 32, 32)).shape == (4, 65)  # the plain call is unchanged
    with pytest.raises(ValueError, match="d_recon"):
        build_discriminator(ModelConfig(resolution=32, width=8, z_dim=16, d_recon=False))(
            torch.randn(1, 3, 32, 32), reconstruct=True
        )
    # Smooth, structured reals (not noise) so there is something to learn.
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    real = torch.stack([torch.stack([xx * a, yy * a, (xx * yy) * a]) for a in (0.9, -0.6, 0.3, -0.8)])
    ctx = StepContext(
        G,
        D,
        torch.optim.Adam(G.parameters(), 2e-4),
        torch.optim.Adam(D.parameters(), 2e-3),
        z_dim=16,
        loss="hinge",
        r1_gamma=0.0,
    )
    first = [d_step(ctx, real, 0.0, s)["D/recon"].item() for s in range(3)]
    last = [d_step(ctx, real, 0.0, s)["D/recon"].item() for s in range(3, 60)][-3:]
    assert max(last) < 0.5 * min(first), (first, last)
    with torch.no_grad():
        assert recon_loss(D(real, reconstruct=True)[1], real) < 0.5 * min(first)


def test_d_patch_pos_starts_as_the_shared_patch_head_and_learns_per_cell():
    """Position-aware patch verdicts: identical to the plain patch D at init (zero per-cell
    weights), and a cell's extra weights change only that cell's logit."""
    base = ModelConfig(resolution=32, width=8, max_width=32, z_dim=16, d_patch=True)
    torch.manual_seed(0)
    D0 = build_discriminator(base)
    torch.manual_seed(0)
    D1 = build_discriminator(replace(base, d_patch_pos=True))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(D1(x), D0(x))
    with torch.no_grad():
        D1.patch_pos[5].normal_()
    diff = (D1(x) - D0(x)).abs()
    assert diff[:, 6].min() > 0 and diff[:, [0, *range(1, 6), *range(7, 65)]].max() == 0
    D1(x).sum().backward()
    assert D1.patch_pos.grad is not None and D1.patch_pos.grad.abs().sum() > 0
    assert build_discriminator(replace(base, d_patch=False, d_patch_pos=True)).patch_pos is None


def test_d_coarse_judges_a_16px_copy_inside_the_image_logit():
    """The coarse head sees only the 16 px area average: a pattern that averages to zero
    over each 4x4 block (at 64 px) leaves it unchanged, a colour shift does not; its verdict
    is part of D's whole-image logit, so training reaches it."""
    torch.manual_seed(0)
    base = ModelConfig(resolution=64, width=8, max_width=32, z_dim=16, d_patch=True)
    assert build_discriminator(base).coarse is None
    D = build_discriminator(replace(base, d_coarse=True))
    x = torch.rand(2, 3, 64, 64) * 1.6 - 0.8
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    checker = ((yy + xx) % 2 * 0.2 - 0.1).float()  # zero mean over every 2x2, so every 4x4 block
    torch.testing.assert_close(D.coarse(x + checker), D.coarse(x))
    assert (D.coarse(x + 0.2) - D.coarse(x)).abs().min() > 0
    out = D(x)
    assert out.shape == (2, 65)
    out[:, 0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in D.coarse.parameters())
