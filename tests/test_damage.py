"""Synthetic damage: seeded, masks cover every changed pixel, sizes and shapes respected."""

from __future__ import annotations

import pytest
import torch

from artgan.data.damage import DAMAGE_KINDS, crack_mask, damage, hole_mask, scratch_mask


def canvas(h: int = 64, w: int = 80, seed: int = 0) -> torch.Tensor:
    """A smooth gradient with noise, (3, h, w) in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-0.8, 0.8, h), torch.linspace(-0.8, 0.8, w), indexing="ij")
    img = torch.stack([yy, xx, (yy + xx) / 2]) + 0.05 * torch.randn(3, h, w, generator=g)
    return img.clamp(-1, 1)


@pytest.mark.parametrize("kind", list(DAMAGE_KINDS))
def test_every_kind_is_seeded_and_masks_what_it_changes(kind: str) -> None:
    img = canvas()
    damaged, mask = damage(img, kind, 3)
    assert damaged.shape == img.shape and damaged.dtype == torch.float32
    assert mask.shape == (1, 64, 80) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert damaged.abs().max() <= 1
    changed = (damaged != img).any(0, keepdim=True)
    assert changed.any(), "the damage must change something"
    assert not (changed & (mask == 0)).any(), "a pixel changed outside the mask"
    assert torch.equal(damaged[(mask == 0).expand(3, -1, -1)], img[(mask == 0).expand(3, -1, -1)])
    # Most of the mask really is damaged (a mask far larger than the damage would mislead).
    assert changed.float().sum() >= 0.5 * mask.sum()
    again, mask2 = damage(img, kind, 3)
    assert torch.equal(again, damaged) and torch.equal(mask2, mask)
    other, mask3 = damage(img, kind, 4)
    assert not torch.equal(mask3, mask)


def test_a_generator_continues_its_stream() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = crack_mask((48, 48), g), crack_mask((48, 48), g)
    assert not torch.equal(a, b)
    g.manual_seed(1)
    assert torch.equal(crack_mask((48, 48), g), a)


@pytest.mark.parametrize("max_size", [8, 20, 48])
def test_hole_sizes_are_respected(max_size: int) -> None:
    for seed in range(8):
        m = hole_mask((96, 96), seed, count=1, min_size=max_size // 2, max_size=max_size)[0]
        ys, xs = torch.nonzero(m, as_tuple=True)
        hh, ww = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
        assert max(hh, ww) <= max_size
        assert max(hh, ww) >= max_size // 2 - 1


def test_cracks_are_thin_and_scratches_long() -> None:
    m = crack_mask((128, 128), 0)[0].bool()
    # One-pixel lines: hardly any pixel has all four neighbours in the mask.
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    assert inner.sum() <= 0.05 * m.sum()
    assert crack_mask((128, 128), 0, width=3).sum() > 2 * m.sum()
    assert 0.003 < m.float().mean() < 0.2
    s = scratch_mask((128, 128), 0, count=1)[0]
    ys, xs = torch.nonzero(s, as_tuple=True)
    assert max(int(ys.max() - ys.min()), int(xs.max() - xs.min())) >= 25


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown damage kind"):
        damage(canvas(), "mould", 0)
    with pytest.raises(ValueError, match="expected an image"):
        damage(torch.zeros(1, 8, 8), "holes", 0)
    with pytest.raises(ValueError, match="min_size"):
        hole_mask((32, 32), 0, min_size=10, max_size=5)
