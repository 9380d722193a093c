"""Seeded synthetic damage, for training restorers and for measuring them.

Every kind takes a clean image (3, H, W) in [-1, 1] and a seed (or a ``torch.Generator``)
and returns ``(damaged, mask)``: ``damaged`` (3, H, W) in [-1, 1], and ``mask``
(1, H, W) float32 with 1 where the image was damaged and 0 elsewhere. Every pixel that
changed lies inside the mask; pixels outside it are the input's, bit for bit. The same
seed gives the same damage on any machine (all randomness is drawn from the CPU
generator).

Kinds (:data:`DAMAGE_KINDS`):

- ``cracks``: craquelure, thin branching cracks (dark lines 1-2 px wide);
- ``scratches``: a few long, nearly straight light lines;
- ``holes``: losses of several sizes down to the ground (blobs of at most ``size`` px);
- ``stains``: soft-edged brownish blots that tint what is under them;
- ``fading``: a patch whose colours wash out towards a pale tone.

Each kind also has a ``*_mask`` function that draws only the mask, (1, H, W) float32, for
training where the damaged pixels are not needed (the restorer's input hides them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

Seed = int | torch.Generator

__all__ = [
    "DAMAGE_KINDS",
    "damage",
    "cracks",
    "scratches",
    "holes",
    "stains",
    "fading",
    "crack_mask",
    "scratch_mask",
    "hole_mask",
]


def _gen(seed: Seed) -> torch.Generator:
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))


def _uniform(g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def _check(image: torch.Tensor) -> tuple[int, int]:
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected an image (3, H, W), got {tuple(image.shape)}")
    return image.shape[1], image.shape[2]


def _stamp(mask: torch.Tensor, points: list[tuple[float, float]]) -> None:
    """Set the pixels of ``mask`` (H, W) bool under a polyline through ``points`` (y, x),
    sampled every half pixel so diagonal runs stay connected."""
    h, w = mask.shape
    for (y0, x0), (y1, x1) in zip(points, points[1:]):
        n = max(2, int(2 * math.hypot(y1 - y0, x1 - x0)) + 1)
        t = torch.linspace(0, 1, n)
        ys = (y0 + (y1 - y0) * t).round().long().clamp(0, h - 1)
        xs = (x0 + (x1 - x0) * t).round().long().clamp(0, w - 1)
        mask[ys, xs] = True


def _thicken(mask: torch.Tensor, width: int) -> torch.Tensor:
    """(H, W) bool -> the same lines ``width`` px wide (a square dilation)."""
    if width <= 1:
        return mask
    pad_lo, pad_hi = (width - 1) // 2, width // 2
    m = F.pad(mask[None, None].float(), (pad_lo, pad_hi, pad_lo, pad_hi))
    return F.max_pool2d(m, width, stride=1)[0, 0] > 0


def crack_mask(size: tuple[int, int], seed: Seed, *, density: float = 1.0, width: int = 1) -> torch.Tensor:
    """Craquelure: cracks that wander and branch, (1, H, W) float32.

    ``density`` scales the total crack length (1.0: about 4 image diagonals);
    ``width`` is the line width in px. Each crack is a random walk whose heading drifts
    a little per step and which splits now and then, as paint cracks do."""
    h, w = size
    g = _gen(seed)
    mask = torch.zeros(h, w, dtype=torch.bool)
    budget = density * 4 * math.hypot(h, w)
    step = max(2.0, min(h, w) / 40)
    drawn = 0.0
    while drawn < budget:
        stack = [(_uniform(g, 0, h - 1), _uniform(g, 0, w - 1), _uniform(g, 0, 2 * math.pi), 0)]
        while stack and drawn < budget:
            y, x, heading, depth = stack.pop()
            points = [(y, x)]
            for _ in range(int(_uniform(g, 6, 20))):
                heading += _uniform(g, -0.5, 0.5)
                y, x = y + step * math.sin(heading), x + step * math.cos(heading)
                if not (0 <= y < h and 0 <= x < w):
                    break
                points.append((y, x))
                drawn += step
                if depth < 3 and _uniform(g) < 0.12:  # a branch leaves at an angle
                    side = 1 if _uniform(g) < 0.5 else -1
                    stack.append((y, x, heading + side * _uniform(g, 0.6, 1.3), depth + 1))
            _stamp(mask, points)
    return _thicken(mask, width)[None].float()


def scratch_mask(size: tuple[int, int], seed: Seed, *, count: int = 3, width: int = 1) -> torch.Tensor:
    """``count`` long, slightly curved scratches ``width`` px wide, (1, H, W) float32."""
    h, w = size
    g = _gen(seed)
    mask = torch.zeros(h, w, dtype=torch.bool)
    for _ in range(count):
        y, x = _uniform(g, 0, h - 1), _uniform(g, 0, w - 1)
        heading = _uniform(g, 0, 2 * math.pi)
        length = _uniform(g, 0.3, 0.8) * math.hypot(h, w)
        bend = _uniform(g, -0.02, 0.02)  # radians per step: a gentle arc
        points, n = [(y, x)], 24
        for _ in range(n):
            heading += bend
            y, x = y + length / n * math.sin(heading), x + length / n * math.cos(heading)
            points.append((y, x))
        _stamp(mask, points)
    return _thicken(mask, width)[None].float()


def hole_mask(
    size: tuple[int, int], seed: Seed, *, count: int = 3, min_size: int = 4, max_size: int = 48
) -> torch.Tensor:
    """``count`` losses, each an irregular blob (a union of rotated ellipses) whose bounding
    box is at most ``max_size`` px on each side and whose longest side is at least
    ``min_size`` px (or the image, when smaller). (1, H, W) float32."""
    h, w = size
    if not 1 <= min_size <= max_size:
        raise ValueError(f"hole sizes must satisfy 1 <= min_size <= max_size, got {min_size}, {max_size}")
    g = _gen(seed)
    mask = torch.zeros(h, w, dtype=torch.bool)
    for _ in range(count):
        side = min(int(round(_uniform(g, min_size, max_size))), h, w)
        # The blob lives in a side x side box: ellipses centred inside it, clipped to it.
        by, bx = int(_uniform(g, 0, h - side + 1)), int(_uniform(g, 0, w - side + 1))
        yy, xx = torch.meshgrid(torch.arange(side) + 0.5, torch.arange(side) + 0.5, indexing="ij")
        blob = torch.zeros(side, side, dtype=torch.bool)
        # The first ellipse spans the box, so the blob's extent is the box's in one direction.
        for k in range(int(_uniform(g, 1, 4))):
            cy, cx = (
                (side / 2, side / 2) if k == 0 else (_uniform(g, 0.25, 0.75) * side, _uniform(g, 0.25, 0.75) * side)
            )
            ry = side / 2 if k == 0 else _uniform(g, 0.15, 0.4) * side
            rx = _uniform(g, 0.3, 0.5) * side
            a = _uniform(g, 0, math.pi) if k else 0.0
            dy, dx = yy - cy, xx - cx
            u, v = dy * math.cos(a) + dx * math.sin(a), -dy * math.sin(a) + dx * math.cos(a)
            blob |= (u / max(ry, 0.5)) ** 2 + (v / max(rx, 0.5)) ** 2 <= 1
        mask[by : by + side, bx : bx + side] |= blob
    return mask[None].float()


def _soft_blobs(size: tuple[int, int], g: torch.Generator, count: int, radius: tuple[float, float]) -> torch.Tensor:
    """(H, W) alpha in [0, 1]: ``count`` discs with wobbly rims and soft inner edges; exactly
    0 outside them."""
    h, w = size
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    alpha = torch.zeros(h, w)
    for _ in range(count):
        r = _uniform(g, *radius)
        cy, cx = _uniform(g, 0, h - 1), _uniform(g, 0, w - 1)
        angle = torch.atan2(yy - cy, xx - cx)
        phase, lobes = _uniform(g, 0, 2 * math.pi), int(_uniform(g, 3, 7))
        rim = r * (1 + 0.2 * torch.sin(lobes * angle + phase))
        dist = torch.hypot(yy - cy, xx - cx)
        # 1 well inside, falling linearly to 0 at the rim: a blot soaks in, it is not painted on.
        alpha = torch.maximum(alpha, ((rim - dist) / (0.4 * r)).clamp(0, 1))
    return alpha


def _apply(image: torch.Tensor, mask: torch.Tensor, damaged: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Damaged where ``mask`` (1, H, W) is 1, the input exactly elsewhere."""
    return torch.where(mask > 0, damaged.clamp(-1, 1), image), mask


def cracks(
    image: torch.Tensor, seed: Seed, *, density: float = 1.0, width: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Craquelure drawn as dark lines: the paint under a crack darkens towards shadow."""
    mask = crack_mask(_check(image), seed, density=density, width=width)
    return _apply(image, mask, image * 0.35 - 0.6)


def scratches(image: torch.Tensor, seed: Seed, *, count: int = 3, width: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Scratches drawn as light lines: the varnish and paint are scraped to a pale ground."""
    mask = scratch_mask(_check(image), seed, count=count, width=width)
    return _apply(image, mask, image * 0.3 + 0.6)


def holes(
    image: torch.Tensor, seed: Seed, *, count: int = 3, min_size: int = 4, max_size: int = 48
) -> tuple[torch.Tensor, torch.Tensor]:
    """Losses down to the ground: a cream gesso colour with a little grain fills each blob."""
    g = _gen(seed)
    h, w = _check(image)
    mask = hole_mask((h, w), g, count=count, min_size=min_size, max_size=max_size)
    ground = torch.tensor([0.75, 0.68, 0.5])[:, None, None] + 0.04 * torch.randn(1, h, w, generator=g)
    return _apply(image, mask, ground.expand(3, h, w))


def stains(
    image: torch.Tensor, seed: Seed, *, count: int = 2, radius: tuple[float, float] = (6.0, 24.0), strength: float = 0.6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Brownish blots (water, foxing) that tint the paint by up to ``strength``."""
    g = _gen(seed)
    h, w = _check(image)
    alpha = _soft_blobs((h, w), g, count, radius)[None] * strength  # (1, H, W)
    brown = torch.tensor([0.1, -0.25, -0.6])[:, None, None]
    return _apply(image, (alpha > 0).float(), image * (1 - alpha) + brown * alpha)


def fading(
    image: torch.Tensor, seed: Seed, *, radius: tuple[float, float] = (16.0, 48.0), strength: float = 0.6
) -> tuple[torch.Tensor, torch.Tensor]:
    """One patch (light damage) whose contrast and saturation wash out towards a pale tone."""
    g = _gen(seed)
    h, w = _check(image)
    alpha = _soft_blobs((h, w), g, 1, radius)[None] * strength
    pale = torch.tensor([0.7, 0.65, 0.55])[:, None, None]
    return _apply(image, (alpha > 0).float(), image * (1 - alpha) + pale * alpha)


DAMAGE_KINDS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "cracks": cracks,
    "scratches": scratches,
    "holes": holes,
    "stains": stains,
    "fading": fading,
}


def damage(image: torch.Tensor, kind: str, seed: Seed, **options: object) -> tuple[torch.Tensor, torch.Tensor]:
    """``DAMAGE_KINDS[kind](image, seed, **options)``: (damaged (3, H, W), mask (1, H, W))."""
    if kind not in DAMAGE_KINDS:
        raise ValueError(f"unknown damage kind {kind!r}; choose from {', '.join(DAMAGE_KINDS)}")
    return DAMAGE_KINDS[kind](image, seed, **options)
