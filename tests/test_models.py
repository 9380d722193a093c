"""The contract every registered family passes."""

import pytest
import torch

from artgan.config import ConfigError, ModelConfig
from artgan.models import FAMILIES, NETWORKS, build_discriminator, build_generator
from artgan.training.checkpoint import _tensors

FAMS = sorted(FAMILIES)


def test_every_family_has_networks():
    assert set(NETWORKS) == set(FAMILIES)


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
def test_gradients_reach_every_parameter(family):
    c = ModelConfig(family=family, resolution=32, width=8, max_width=32, z_dim=16)
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


@pytest.mark.parametrize("resolution", [16, 64])
def test_resgan_patch_logits(resolution):
    c = ModelConfig(resolution=resolution, width=8, max_width=32, z_dim=16, d_patch=True)
    G, D = build_generator(c), build_discriminator(c)
    out = D(G(torch.randn(3, 16)))
    assert out.shape == (3, 1 + 64)  # the image logit, then one per 8x8 cell
    out.sum().backward()
    assert all(p.grad is not None for p in (*G.parameters(), *D.parameters()))


def test_patch_logits_only_see_their_region():
    """A patch logit changes when its own region of the image changes, not a far one."""
    c = ModelConfig(resolution=64, width=8, max_width=32, z_dim=16, d_patch=True)
    D = build_discriminator(c).eval()
    x = torch.randn(1, 3, 64, 64)
    y = x.clone()
    y[:, :, :8, :8] += 1.0  # top-left corner only
    delta = (D(y) - D(x))[0, 1:].view(8, 8).abs()
    assert delta[0, 0] > 0 and delta[7, 7] == 0


def test_family_defaults_and_files_without_d_patch():
    from artgan.config import read_model_file_dict, to_dict

    assert ModelConfig().width == FAMILIES["resgan"].defaults["width"]
    assert ModelConfig(family="dcgan").width == 32 and ModelConfig(family="dcgan").d_patch is False
    assert ModelConfig(width=24).width == 24  # the user's value wins
    # A config.json written before d_patch existed loads as what it was trained as.
    old = {
        "format_version": 1,
        "model": {k: v for k, v in to_dict(ModelConfig(width=8)).items() if k != "d_patch"},
    }
    m = read_model_file_dict(old, "old/config.json")
    assert m.d_patch is False and m.width == 8


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


def test_files_without_noise_or_d_width_load_as_trained():
    from artgan.config import read_model_file_dict, to_dict

    old = {
        "format_version": 1,
        "model": {k: v for k, v in to_dict(ModelConfig(width=8)).items() if k not in ("g_noise", "d_width")},
    }
    m = read_model_file_dict(old, "old/config.json")
    assert m.g_noise is False and m.d_width is None


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
