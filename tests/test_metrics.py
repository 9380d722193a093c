"""Metrics: tiny synthetic image sets with known relationships (copies, distortions, seams)."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import artgan.metrics as metrics
from artgan.metrics import (
    InceptionFeatures,
    RandomConvFeatures,
    diversity,
    fid,
    get_extractor,
    kid,
    kid_fid_images,
    memorization,
    ms_ssim,
    psnr,
    seam_error,
    ssim,
    swd,
    write_worst_pairs,
)
from artgan.metrics.features import INCEPTION_ENV
from artgan.metrics.inception import InceptionV3
from artgan.metrics.swd import _pyr_up, laplacian_pyramid
from conftest import shared_or_skip

# --------------------------------------------------------------------------------------
# synthetic images
# --------------------------------------------------------------------------------------


def fields(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Multi-octave random colour fields (N, 3, size, size) in [-1, 1]: blobs plus fine grain.

    The fine octave matters: without high frequencies, blur would change almost nothing.
    """
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 3, size, size)
    for cells, amp in ((4, 1.0), (8, 0.6), (16, 0.4), (32, 0.3), (size, 0.25)):
        z = torch.randn(n, 3, cells, cells, generator=g)
        if cells != size:
            z = F.interpolate(z, size=(size, size), mode="bicubic", align_corners=False)
        out += amp * z
    return (out * 0.35).clamp(-1, 1)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = int(2 * round(3 * sigma) + 1)
    t = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    x = F.pad(x, (k // 2,) * 4, mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, k).expand(3, 1, 1, k), groups=3)
    return F.conv2d(x, g.view(1, 1, k, 1).expand(3, 1, k, 1), groups=3)


def add_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    return (x + std * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def colour_shift(x: torch.Tensor, amount: float) -> torch.Tensor:
    # Warmer: more red, less blue (a global cast, like a wrong white balance).
    return (x + amount * torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1)).clamp(-1, 1)


DISTORTIONS = {
    "blur": (gaussian_blur, (0.7, 1.5, 3.0)),
    "noise": (add_noise, (0.1, 0.2, 0.35)),
    "colour": (colour_shift, (0.1, 0.2, 0.3)),
}

SWD_FAST = dict(patches_per_image=64, directions=128)


@pytest.fixture(scope="module")
def sets() -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent draws (32 images each, 64 px) from the same distribution."""
    return fields(32, seed=0), fields(32, seed=1)


# --------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------


def test_public_names() -> None:
    for name in (
        "swd",
        "FeatureExtractor",
        "RandomConvFeatures",
        "InceptionFeatures",
        "get_extractor",
        "kid",
        "fid",
        "kid_fid_images",
        "MemorizationResult",
        "memorization",
        "write_worst_pairs",
        "ms_ssim",
        "diversity",
        "psnr",
        "ssim",
        "seam_error",
    ):
        assert name in metrics.__all__ and hasattr(metrics, name), name


# --------------------------------------------------------------------------------------
# SWD
# --------------------------------------------------------------------------------------


def test_laplacian_pyramid_reconstructs() -> None:
    x = fields(2, size=64, seed=5)
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]
    # Collapse the pyramid: upsample the residual and add back each band.
    rec = levels[-1]
    for band in reversed(levels[:-1]):
        rec = band + _pyr_up(rec, band.shape[-2:])
    torch.testing.assert_close(rec, x, atol=1e-5, rtol=0)


def test_swd_self_symmetric_deterministic(sets) -> None:
    a, b = sets
    self_d = swd(a, a, **SWD_FAST)
    assert set(self_d) == {"swd/64", "swd/32", "swd/16", "swd/avg"}
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in self_d.values())

    ab, ba = swd(a, b, **SWD_FAST), swd(b, a, **SWD_FAST)
    assert ab["swd/avg"] > 1.0
    for key in ab:
        assert ab[key] == pytest.approx(ba[key], rel=1e-5)
    # Unequal counts: the larger set is subsampled the same way whichever side it is on.
    assert swd(a, b[:20], **SWD_FAST)["swd/avg"] == pytest.approx(swd(b[:20], a, **SWD_FAST)["swd/avg"], rel=1e-5)
    assert swd(a, b, **SWD_FAST) == ab  # deterministic for a seed
    assert swd(a, b, seed=1, **SWD_FAST)["swd/avg"] != ab["swd/avg"]


@pytest.mark.parametrize("kind", sorted(DISTORTIONS))
def test_swd_grows_with_distortion(sets, kind: str) -> None:
    a, b = sets
    fn, strengths = DISTORTIONS[kind]
    base = swd(a, b, **SWD_FAST)["swd/avg"]  # same distribution, different images
    values = [swd(a, fn(b, s), **SWD_FAST)["swd/avg"] for s in strengths]
    assert base < values[0] < values[1] < values[2], (base, values)


def test_swd_rejects_mismatched_sizes() -> None:
    with pytest.raises(ValueError, match="same image size"):
        swd(fields(2, 32), fields(2, 64))


# --------------------------------------------------------------------------------------
# features, KID, FID
# --------------------------------------------------------------------------------------


def test_randconv_is_fixed_by_name() -> None:
    ex = RandomConvFeatures(0)
    assert ex.name == "randconv-v1-seed0"
    assert isinstance(ex, metrics.FeatureExtractor)
    # Pinned weights: if torch's seeded RNG or the recipe changed, "v1" would silently
    # mean different numbers. Bump VERSION rather than editing this value.
    w = ex.net.convs[0].weight.flatten()[:2].tolist()
    assert w == pytest.approx([-0.3004644215, -0.3075421751], abs=1e-6)
    x = fields(3, size=48, seed=2)  # not 64 px: exercises the resize
    f = ex(x)
    assert f.shape == (3, 1920) and f.dtype == torch.float32
    torch.testing.assert_close(f, RandomConvFeatures(0)(x))
    assert not torch.allclose(f, RandomConvFeatures(1)(x))
    assert get_extractor("randconv-v1-seed1").name == "randconv-v1-seed1"
    with pytest.raises(ValueError):
        get_extractor("randconv-v9-seed0")
    with pytest.raises(ValueError):
        get_extractor("vgg")


def test_fid_matches_closed_form() -> None:
    # Gaussians with diagonal covariances: FID = |dmu|^2 + sum (s_a - s_b)^2.
    g = torch.Generator().manual_seed(0)
    n = 20000
    a = torch.randn(n, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5])
    b = torch.randn(n, 3, generator=g) * torch.tensor([1.5, 2.0, 0.5]) + torch.tensor([1.0, 0.0, -1.0])
    expected = 2.0 + 0.5**2
    assert fid(a, b) == pytest.approx(expected, rel=0.05)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_sample_space_matches_eigendecomposition() -> None:
    # Fewer vectors than dimensions takes the sample-space shortcut; check it against
    # tr((S_a S_b)^(1/2)) from a plain (non-symmetric) eigendecomposition.
    g = torch.Generator().manual_seed(1)
    a = torch.randn(12, 20, generator=g, dtype=torch.float64)
    b = torch.randn(9, 20, generator=g, dtype=torch.float64) * 1.3 + 0.2
    ca, cb = torch.cov(a.T), torch.cov(b.T)
    tr_sqrt = torch.linalg.eigvals(ca @ cb).real.clamp_min(0).sqrt().sum()
    expected = (a.mean(0) - b.mean(0)).square().sum() + ca.trace() + cb.trace() - 2 * tr_sqrt
    assert fid(a, b) == pytest.approx(float(expected), rel=1e-6)
    assert fid(b, a) == pytest.approx(float(expected), rel=1e-6)


def test_kid_fid_self_and_independent(sets) -> None:
    a, b = sets
    ex = RandomConvFeatures(0)
    fa, fb = ex(a), ex(b)
    assert fid(fa, fa) == pytest.approx(0.0, abs=1e-6)
    k_self, _ = kid(fa, fa)
    k_ind, _ = kid(fa, fb)
    k_far, _ = kid(fa, ex(colour_shift(b, 0.3)))
    # Unbiased: self and same-distribution values sit near 0, far below a real difference.
    assert abs(k_self) < 0.05 * k_far and abs(k_ind) < 0.1 * k_far
    mean, std = kid(fa, fb, subsets=10, subset_size=16, seed=0)
    assert std > 0 and (mean, std) == kid(fa, fb, subsets=10, subset_size=16, seed=0)


@pytest.mark.parametrize("kind", sorted(DISTORTIONS))
def test_kid_grows_with_distortion(sets, kind: str) -> None:
    a, b = sets
    ex = RandomConvFeatures(0)
    fa = ex(a)
    fn, strengths = DISTORTIONS[kind]
    base = kid(fa, ex(b))[0]
    values = [kid(fa, ex(fn(b, s)))[0] for s in strengths]
    assert base < values[0] < values[1] < values[2], (base, values)


def test_kid_fid_images_reports_extractor(sets) -> None:
    a, b = sets
    out = kid_fid_images(a[:8], b[:8], RandomConvFeatures(0), subsets=5)
    assert out["extractor"] == "randconv-v1-seed0"
    assert out["n_a"] == 8 and out["n_b"] == 8
    assert math.isfinite(out["kid"]) and out["fid"] > 0


def test_inception_missing_weights_is_actionable(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "nope.pth"
    monkeypatch.setenv(INCEPTION_ENV, str(missing))
    with pytest.raises(FileNotFoundError) as err:
        InceptionFeatures()
    assert str(missing) in str(err.value) and INCEPTION_ENV in str(err.value)
    assert get_extractor("auto").name == "randconv-v1-seed0"  # falls back, never downloads


def test_inception_path_with_random_weights(tmp_path, monkeypatch) -> None:
    torch.manual_seed(0)
    net = InceptionV3()
    keys = net.state_dict().keys()
    # A few torchvision names, spot-checked so a rename cannot slip through.
    for k in (
        "Conv2d_1a_3x3.conv.weight",
        "Mixed_6e.branch7x7dbl_5.bn.running_var",
        "Mixed_7c.branch3x3dbl_3b.conv.weight",
        "AuxLogits.fc.weight",
        "fc.bias",
    ):
        assert k in keys
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "inception.pth"
    torch.save(state, path)  # old-style checkpoint: no num_batches_tracked buffers
    monkeypatch.setenv(INCEPTION_ENV, str(path))
    assert get_extractor("auto").name == "inception-v3-torchvision"
    ex = InceptionFeatures(size=75)  # 75 px is Inception's minimum; keeps the test cheap
    x = fields(2, size=64, seed=3)
    f = ex(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    expected = net.eval()(F.interpolate(x, size=(75, 75), mode="bilinear", align_corners=False))
    torch.testing.assert_close(f, expected)
    bad = dict(state)
    bad.pop("fc.weight")
    torch.save(bad, path)
    with pytest.raises(RuntimeError, match="fc.weight"):
        InceptionFeatures(size=75)


# --------------------------------------------------------------------------------------
# memorisation
# --------------------------------------------------------------------------------------


def test_memorization_flags_copies_not_distinct(tmp_path) -> None:
    big = fields(28, size=72, seed=7)  # 72 px so that shifted 64-px crops exist
    real = big[:24, :, 4:68, 4:68]
    g = torch.Generator().manual_seed(9)
    copies = torch.cat(
        [
            real[0:2],  # exact
            big[2:4, :, 5:69, 4:68],  # 1 px down
            big[4:6, :, 2:66, 6:70],  # 2 px up, 2 px right
            (real[6:8] + 0.05 * torch.randn(2, 3, 64, 64, generator=g)).clamp(-1, 1),  # noised
        ]
    )
    distinct = torch.cat([big[24:28, :, 4:68, 4:68], fields(4, seed=99)])
    fake = torch.cat([copies, distinct])
    res = memorization(fake, real)
    assert res.ratios.shape == (16,) and res.nearest.dtype == torch.long
    assert (res.ratios[:8] < res.threshold).all(), res.ratios
    assert (res.ratios[8:] > 0.7).all(), res.ratios
    assert res.nearest[:8].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert res.copy_fraction == pytest.approx(0.5)

    out = write_worst_pairs(res, fake, real, tmp_path / "worst.png", k=4)
    with Image.open(out) as im:
        assert im.size == (2 * 66 + 2, 4 * 66 + 2)  # 2 columns (fake | real), 4 rows, 2-px gaps


def test_memorization_on_crops_needs_their_boxes() -> None:
    """Reals drawn as many crops of few images: overlapping crops are near-duplicates, so
    without boxes the typical spacing collapses and nothing is ever flagged."""
    from artgan.data import CropSampler

    images = [((fields(1, size=96, seed=s)[0] + 1) * 127.5).round().to(torch.uint8) for s in range(3)]
    sampler = CropSampler(images, 32, min_scale=0.9, hflip=False)
    reals, boxes = sampler.sample_with_boxes(96, torch.Generator().manual_seed(0))
    assert boxes.shape == (96, 4) and set(boxes[:, 0].tolist()) == {0, 1, 2}
    copies = sampler.sample(16, torch.Generator().manual_seed(1))  # fresh crops of training images
    distinct = F.interpolate(fields(16, size=96, seed=50), size=(32, 32), mode="bilinear", antialias=True)
    blind = memorization(torch.cat([copies, distinct]), reals)
    aware = memorization(torch.cat([copies, distinct]), reals, real_boxes=boxes)
    assert (blind.ratios[:16] < blind.threshold).float().mean() < 0.5  # most copies missed without boxes
    assert (aware.ratios[:16] < aware.threshold).all(), aware.ratios[:16]
    assert (aware.ratios[16:] > aware.threshold).all(), aware.ratios[16:]


# --------------------------------------------------------------------------------------
# diversity, fidelity, seams
# --------------------------------------------------------------------------------------


def test_ms_ssim_and_diversity(sets) -> None:
    a, b = sets
    assert torch.allclose(ms_ssim(a[:4], a[:4]), torch.ones(4), atol=1e-5)
    assert (ms_ssim(a[:4], b[:4]) < 0.5).all()
    assert ms_ssim(a[:2, :, :32, :32], b[:2, :, :32, :32]).shape == (2,)  # 2 scales at 32 px
    same = a[:1].expand(6, -1, -1, -1)
    assert diversity(same) == pytest.approx(1.0, abs=1e-4)
    assert diversity(a, pairs=40) < 0.5
    assert diversity(a, pairs=40, seed=3) == diversity(a, pairs=40, seed=3)


def test_psnr_ssim() -> None:
    x = fields(3, size=32, seed=4)
    assert torch.isinf(psnr(x, x)).all()
    # Constant offset 0.1 -> MSE 0.01 -> 10 log10(2^2 / 0.01) dB.
    assert psnr(x, x + 0.1).tolist() == pytest.approx([10 * math.log10(4 / 0.01)] * 3, rel=1e-4)
    torch.testing.assert_close(ssim(x, x), torch.ones(3))
    # A slight brightness change around mid-grey is a slight change (the luminance term
    # works on non-negative intensities, not on the signed [-1, 1] values).
    grey = 0.1 * x - 0.02
    assert (ssim(grey, grey + 0.05) > 0.95).all()
    s1, s2 = ssim(x, add_noise(x, 0.05)), ssim(x, add_noise(x, 0.2))
    assert (s1 < 1).all() and (s2 < s1).all()


def periodic_texture(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Tileable colour noise: a random low-pass spectrum through the inverse FFT (periodic by construction)."""
    g = torch.Generator().manual_seed(seed)
    spec = torch.randn(n, 3, size, size // 2 + 1, 2, generator=g)
    fy = torch.fft.fftfreq(size).view(size, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    spec = torch.view_as_complex(spec) / (1 + (fx**2 + fy**2).sqrt() * size / 4) ** 2
    x = torch.fft.irfft2(spec, s=(size, size))
    return (x / x.std() * 0.4).clamp(-1, 1)


def test_seam_error_separates_tileable_from_seamed() -> None:
    idx = torch.arange(64, dtype=torch.float32)
    yy, xx = torch.meshgrid(idx, idx, indexing="ij")
    # Sinusoids with whole numbers of periods across the tile wrap around seamlessly.
    waves = (
        torch.stack(
            [
                torch.sin(2 * math.pi * 3 * xx / 64) * torch.cos(2 * math.pi * 2 * yy / 64),
                torch.sin(2 * math.pi * (xx + 2 * yy) / 64),
                torch.cos(2 * math.pi * 5 * yy / 64 + 1.0),
            ]
        ).unsqueeze(0)
        * 0.8
    )
    gradient = torch.stack([xx, yy, (xx + yy) / 2]).unsqueeze(0) / 63 * 1.8 - 0.9
    tileable = seam_error(torch.cat([periodic_texture(4), waves]))
    assert ((tileable > 0.7) & (tileable < 1.4)).all(), tileable
    assert float(seam_error(gradient)) > 10
    assert float(seam_error(torch.roll(waves, 20, dims=-1))) == pytest.approx(float(seam_error(waves)), rel=0.05)
    assert float(seam_error(torch.zeros(1, 3, 8, 8))) == pytest.approx(1.0)


def test_seam_error_on_shared_textures_and_photos() -> None:
    from artgan.imaging import load_image, pil_to_tensor

    textures = sorted(shared_or_skip("textures").glob("*.png"))
    photos = sorted(shared_or_skip("photos").glob("*.jpg"))
    t = [float(seam_error(pil_to_tensor(load_image(p))[None])) for p in textures]
    p = [float(seam_error(pil_to_tensor(load_image(q))[None])) for q in photos]
    assert statistics.median(t) < 1.5 < 3.0 < statistics.median(p), (t, p)
