"""Style-transfer metrics: style distance, content SSIM, edge F1."""

from __future__ import annotations

import pytest

from artgan.metrics.style import content_ssim, edge_f1, style_distance
from synthetic import brush, photo


def test_style_metrics_measure_what_they_say():
    p, s = photo(96, 96), brush(96, 96)
    assert content_ssim(p, p) == pytest.approx(1.0, abs=1e-6)
    assert edge_f1(p, p) == pytest.approx(1.0)
    # Edges moved by one pixel still match (the tolerance); another picture's do not.
    assert edge_f1(p[:, :, 1:], p[:, :, :-1]) > 0.8
    assert edge_f1(brush(96, 96), p) < 0.5
    # The painting is closer in style to another crop of itself than the photo is.
    assert style_distance(brush(96, 96, seed=1), s, patch=32) < 0.5 * style_distance(p, s, patch=32)
    with pytest.raises(ValueError, match="same size"):
        content_ssim(p, photo(64, 64))
