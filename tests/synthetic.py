"""Tiny synthetic images for the style-transfer tests: a smooth 'photo' and a striped 'painting'."""

from __future__ import annotations

import torch


def photo(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A lit disc (shifted right by ``0.2 * seed``) on a gradient. (3, h, w) in [-1, 1]."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    disc = ((x - 0.2 * seed) ** 2 + y**2 < 0.3).float()
    return torch.stack([0.6 * disc - 0.3 + 0.2 * x, 0.4 * y, -0.5 * disc + 0.1]).clamp(-1, 1)


def brush(h: int, w: int, seed: int = 0, stripe: int = 6) -> torch.Tensor:
    """Diagonal orange and blue strokes ``stripe`` px wide, with noise. (3, h, w) in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    band = (((x + y) // stripe) % 2).float()
    img = torch.stack([band * 1.6 - 0.8, band * 0.6 - 0.3, 0.8 - band * 1.6])
    return (img + 0.1 * torch.randn(3, h, w, generator=g)).clamp(-1, 1)
