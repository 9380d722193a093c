"""Style-transfer metrics: style distance, content SSIM, edge F1."""

from __future__ import annotations

import pytest
import torch

from artgan.metrics.style import content_ssim, edge_f1, style_distance


def photo(h: int = 64, w: int = 80, seed: int = 0) -> torch.Tensor:
    """A smooth synthetic 'photo': a lit disc on a gradient. (3, h, w) in [-1, 1]."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    disc = ((x - 0.2 * seed) ** 2 + y**2 < 0.3).float()
    return torch.stack([0.6 * disc - 0.3 + 0.2 * x, 0.4 * y, -0.5 * disc + 0.1]).clamp(-1, 1)


def brush(h: int = 96, w: int = 96, seed: int = 0) -> torch.Tensor:
    """A 'painting': diagonal orange and blue strokes with noise."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    band = (((x + y) // 6) % 2).float()
    img = torch.stack([band * 1.6 - 0.8, band * 0.6 - 0.3, 0.8 - band * 1.6])
    return (img + 0.1 * torch.randn(3, h, w, generator=g)).clamp(-1, 1)


def test_style_metrics_measure_what_they_say():
    p, s = photo(96, 96), brush()
    assert content_ssim(p, p) == pytest.approx(1.0, abs=1e-6)
    assert edge_f1(p, p) == pytest.approx(1.0)
    # Edges moved by one pixel still match (the tolerance); another picture's do not.
    assert edge_f1(p[:, :, 1:], p[:, :, :-1]) > 0.8
    assert edge_f1(brush(96, 96), p) < 0.5
    # The painting is closer in style to another crop of itself than the photo is.
    assert style_distance(brush(seed=1), s, patch=32) < 0.5 * style_distance(p, s, patch=32)
    with pytest.raises(ValueError, match="same size"):
        content_ssim(p, photo(64, 64))
