"""Palette transfer (models/palette.py): a photo's colors moved onto a style's, in closed form."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from artgan.config import StylizerConfig
from artgan.models.palette import Palette
from artgan.models.stylenet import StyleNet, stylize_image
from artgan.tasks.stylize import Stylizer, tiled_stylize
from artgan.training.stylizer import train_stylizer
from synthetic import brush, photo


def smooth_colors(h: int, w: int, seed: int, centre: tuple[float, float, float], spread: float) -> torch.Tensor:
    """(3, h, w): a blurry random color field around ``centre``, well inside [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 3, h // 8, w // 8, generator=g)
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)[0]
    x = x / x.std(dim=(1, 2), keepdim=True)
    mix = torch.tensor([[1.0, 0.3, 0.0], [0.2, 1.0, 0.4], [0.0, -0.5, 1.0]])  # correlated channels
    x = torch.einsum("ij,jhw->ihw", mix, x)
    return (spread * x + torch.tensor(centre).view(3, 1, 1)).clamp(-1, 1)


def color_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p = x.reshape(3, -1)
    return p.mean(1), torch.cov(p)


def test_linear_palette_gives_the_photo_the_style_mean_and_covariance():
    style = smooth_colors(96, 128, 1, (0.3, -0.2, -0.4), 0.15)
    x = smooth_colors(80, 100, 2, (-0.2, 0.1, 0.3), 0.2)
    y = Palette("linear").fit([style])(x[None])[0]
    (ms, cs), (mx, cx), (my, cy) = color_stats(style), color_stats(x), color_stats(y)
    assert (my - ms).abs().max() < 0.01 < (mx - ms).abs().max()
    # EPS on the eigenvalues keeps it from being exact; still far closer than before.
    assert (cy - cs).abs().max() < 0.1 * cs.abs().max() < (cx - cs).abs().max()


def test_histogram_palette_matches_a_two_peaked_palette_that_linear_cannot():
    # The style: two flat colors (a two-peaked distribution); the photo: one smooth blob.
    style = torch.empty(3, 64, 64)
    style[:, :, :32] = torch.tensor([0.6, 0.4, -0.5]).view(3, 1, 1)
    style[:, :, 32:] = torch.tensor([-0.6, -0.4, 0.2]).view(3, 1, 1)
    style += 0.02 * torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(0))
    x = smooth_colors(64, 64, 3, (0.0, 0.1, 0.0), 0.2)

    def gap(y: torch.Tensor) -> float:  # how far the colors are from the nearer of the two peaks
        p = y.reshape(3, -1)
        peaks = style[:, 0, 0][:, None], style[:, 0, -1][:, None]
        return float(torch.minimum(*((p - c).norm(dim=0) for c in peaks)).median())

    lin = Palette("linear").fit([style])(x[None])[0]
    hist = Palette("histogram").fit([style])(x[None])[0]
    assert gap(hist) < 0.5 * gap(lin), (gap(hist), gap(lin))
    # Monotone along each axis: the photo's light-and-dark order survives (mostly).
    lum = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    a, b = (hist * lum).sum(0).flatten(), (x * lum).sum(0).flatten()
    ra, rb = a.argsort().argsort().float(), b.argsort().argsort().float()
    assert torch.corrcoef(torch.stack([ra, rb]))[0, 1] > 0.8


@pytest.mark.parametrize("mode", ["linear", "histogram"])
def test_a_photo_onto_its_own_palette_barely_changes_and_flat_images_stay_finite(mode: str):
    x = smooth_colors(64, 80, 4, (0.1, -0.1, 0.2), 0.25)
    y = Palette(mode).fit([x])(x[None])[0]
    assert (y - x).abs().mean() < 0.02
    grey = torch.full((1, 3, 32, 32), 0.2)  # no color variance at all
    out = Palette(mode).fit([x])(grey)
    assert torch.isfinite(out).all() and out.std(dim=(2, 3)).max() < 0.05
    assert out.shape == grey.shape


def test_a_collection_palette_is_the_union_of_its_images():
    a = smooth_colors(64, 64, 5, (0.5, 0.5, 0.5), 0.05)
    b = smooth_colors(64, 64, 6, (-0.5, -0.5, -0.5), 0.05)
    both = Palette("linear").fit([a, b])
    assert both.mean.abs().max() < 0.05  # halfway between the two
    assert torch.linalg.eigvalsh(both.cov).max() > 0.2  # the spread between them


def test_tiles_of_a_recolored_image_agree_with_one_pass():
    torch.manual_seed(0)
    cfg = StylizerConfig(width=4, res_blocks=1, d_width=8, crop=32, batch=2, minutes=None, steps=2)
    G = StyleNet(cfg).eval()
    assert cfg.palette == "histogram" and G.palette is not None
    G.palette.fit([brush(64, 64)])
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = photo(150, 170)
    whole = stylize_image(G, x)
    tiled = tiled_stylize(G, x, tile=48, overlap=48)
    # The palette moved the photo, and the tiles still agree with the one pass (had each
    # tile been recolored by its own statistics, they would not).
    assert (tiled - whole).abs().mean() < 0.01 and (G.recolor(x[None])[0] - x).abs().mean() > 0.05


def test_a_trained_stylizer_saves_its_palette_and_uses_it(tmp_path):
    style = brush(64, 64)
    cfg = StylizerConfig(width=4, res_blocks=1, d_width=8, crop=32, batch=2, minutes=None, steps=2)
    folder = train_stylizer(style, [photo(64, 64, seed=s) for s in range(2)], cfg, tmp_path / "run", progress=False)
    st = Stylizer.from_pretrained(folder)
    fitted = Palette("histogram").fit([style])
    for name in ("mean", "cov", "axes", "quantiles"):
        assert torch.allclose(getattr(st.net.palette, name), getattr(fitted, name)), name
    x = photo(48, 64, seed=7)
    out = st(x, output="tensor")
    # Two steps from the identity: the output is (nearly) the recolored photo.
    assert (out - fitted(x[None])[0]).abs().mean() < 0.02 < (out - x).abs().mean()
    # Generic content (no photos) goes through the per-crop path; resuming keeps the palette.
    generic = train_stylizer(style, [], replace(cfg, steps=1), tmp_path / "generic", progress=False)
    again = train_stylizer(None, [], replace(cfg, steps=2), tmp_path / "generic", resume=True, progress=False)
    assert generic == again
    assert torch.allclose(Stylizer.from_pretrained(again).net.palette.mean, fitted.mean)


def test_pixels_sharing_one_value_land_in_the_middle_of_their_share_of_the_palette():
    # Half pure black, half pure white: each half of the quantiles is one tie. Each half
    # must take the mean color of its half of the style, not one end of it (or both the
    # style's median, which would leave a flat image).
    style = smooth_colors(64, 64, 8, (0.2, 0.0, -0.2), 0.3)
    x = torch.full((3, 32, 32), -1.0)
    x[:, :, 16:] = 1.0
    y = Palette("histogram").fit([style])(x[None])[0]
    dark, light = y[:, 0, 0], y[:, 0, -1]
    assert (light - dark).norm() > 0.3  # still two colors, far apart
    assert ((dark + light) / 2 - style.mean(dim=(1, 2))).abs().max() < 0.05
    assert (y[:, :, :16] == dark[:, None, None]).all() and (y[:, :, 16:] == light[:, None, None]).all()


def near_grey(h: int, w: int, seed: int, chroma: float) -> torch.Tensor:
    """(3, h, w): a blurry grey image with a faint tint, so its colors span a thin
    ellipsoid (one large covariance eigenvalue, two small ones)."""
    g = torch.Generator().manual_seed(seed)
    grey = torch.randn(1, 1, h // 8, w // 8, generator=g)
    grey = torch.nn.functional.interpolate(grey, size=(h, w), mode="bilinear", align_corners=False)[0]
    tint = torch.randn(3, 1, 1, generator=g)
    return (0.4 * grey + chroma * tint * grey + 0.1 * chroma * torch.randn(3, h, w, generator=g)).clamp(-1, 1)


@pytest.mark.parametrize("mode", ["linear", "histogram"])
def test_float32_palette_matches_a_float64_run(mode: str):
    # The 3x3 algebra runs in float64 whatever the images' dtype. When it ran in float32,
    # near-grey photos were off by up to 7e-4 here (and by 1e-2 on real photos at 512 px);
    # now what is left is float32 rounding of the pixels themselves (~3e-6).
    for seed in range(3):
        pal = Palette(mode).fit([smooth_colors(96, 128, 10 + seed, (0.3, -0.2, -0.4), 0.2)])
        pal64 = Palette(mode)
        pal64.load_state_dict(pal.state_dict())
        pal64.double()
        uniform = torch.rand(3, 64, 80, generator=torch.Generator().manual_seed(seed)) * 2 - 1
        for x in (near_grey(96, 120, seed, 0.05), near_grey(96, 120, seed, 0.1), uniform):
            y = pal(x[None])
            assert y.dtype == torch.float32
            exact = pal64(x[None].double())
            assert exact.dtype == torch.float64
            assert (y.double() - exact).abs().max() < 1e-5, (seed, float((y.double() - exact).abs().max()))


def test_quantile_map_is_stable_where_two_knots_nearly_coincide():
    # Knots a few ulps apart: the intercept + slope form lost the whole segment to
    # cancellation; measured from the segment's start the map stays within [f0, f1].
    from artgan.models.palette import _interp

    xp = torch.tensor([-1.0, 0.3, 0.3 + 3e-8, 1.0])
    fp = torch.tensor([-0.5, -0.2, 0.4, 0.6])
    x = torch.tensor([0.3, 0.3 + 1.5e-8, 0.3 + 3e-8, -2.0, 2.0, 0.65])
    y = _interp(x, xp, fp)
    assert torch.allclose(y[[0, 2, 3, 4]], torch.tensor([-0.2, 0.4, -0.5, 0.6]))
    assert -0.2 <= float(y[1]) <= 0.4
    assert abs(float(y[5]) - 0.5) < 1e-6
