"""Differentiable augmentation for everything D sees (DiffAugment / ADA style).

Each augmentation is applied per sample with probability ``p``; all ops are
differentiable so G receives gradients through them. Because real and fake images go
through the same random distribution of transforms, D cannot tell them apart by the
augmentation, and G does not learn to produce augmented-looking images as long as p
stays below about 0.8 (Karras et al. 2020).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _mask(b: int, p: float, like: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, 1) float mask, 1 where a sample is augmented."""
    return (torch.rand(b, 1, 1, 1, device=like.device) < p).to(like.dtype)


def color(x: torch.Tensor, p: float) -> torch.Tensor:
    """Random brightness, saturation and contrast. x: (B, 3, H, W) in ~[-1, 1]."""
    b = x.shape[0]
    m = _mask(b, p, x)
    x = x + m * (torch.rand(b, 1, 1, 1, device=x.device) - 0.5) * 0.5
    mean_c = x.mean(dim=1, keepdim=True)
    x = mean_c + (x - mean_c) * (1 + m * (torch.rand(b, 1, 1, 1, device=x.device) - 0.5) * 1.0)
    mean_all = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean_all + (x - mean_all) * (1 + m * (torch.rand(b, 1, 1, 1, device=x.device) - 0.5) * 0.6)
    return x


def translation(x: torch.Tensor, p: float, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to ``ratio`` of the size with reflection padding (no black borders for D to spot)."""
    b, _, h, w = x.shape
    ph, pw = max(1, int(h * ratio)), max(1, int(w * ratio))
    m = _mask(b, p, x).view(b)
    dy = (torch.randint(-ph, ph + 1, (b,), device=x.device) * m).long()
    dx = (torch.randint(-pw, pw + 1, (b,), device=x.device) * m).long()
    padded = F.pad(x, (pw, pw, ph, ph), mode="reflect")
    # Gather rows then columns with per-sample offsets: one indexing op each, no loop.
    ys = torch.arange(h, device=x.device)[None, :] + ph - dy[:, None]  # (B, H)
    xs = torch.arange(w, device=x.device)[None, :] + pw - dx[:, None]  # (B, W)
    c = x.shape[1]
    rows = torch.gather(padded, 2, ys[:, None, :, None].expand(b, c, h, padded.shape[3]))
    return torch.gather(rows, 3, xs[:, None, None, :].expand(b, c, h, w))


def cutout(x: torch.Tensor, p: float, ratio: float = 0.5) -> torch.Tensor:
    """Zero (mid-grey) a random square of ``ratio`` times the size."""
    b, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio)), max(1, int(w * ratio))
    m = _mask(b, p, x)
    cy = torch.randint(0, h, (b, 1, 1), device=x.device)
    cx = torch.randint(0, w, (b, 1, 1), device=x.device)
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    hole = ((yy - cy).abs() <= ch // 2) & ((xx - cx).abs() <= cw // 2)  # (B, H, W)
    keep = 1 - m * hole[:, None].to(x.dtype)
    return x * keep


def geometric(x: torch.Tensor, p: float, scale_std: float = 0.2, max_angle: float = math.pi / 12) -> torch.Tensor:
    """Random isotropic zoom (log2-normal, ``scale_std``) and rotation (uniform within
    +-``max_angle``) about the centre, reflection-padded. x: (B, 3, H, W) -> same shape;
    square images (the angle is in normalised coordinates, as training crops are square).
    ADA's geometric group, kept mild: our p often sits near 1, where a full-circle rotation
    would teach G upside-down paintings. Samples not drawn are returned untouched (no
    resampling blur)."""
    b = x.shape[0]
    m = _mask(b, p, x).view(b)
    inv_scale = torch.exp2(-torch.randn(b, device=x.device) * scale_std * m)
    angle = (torch.rand(b, device=x.device) * 2 - 1) * max_angle * m
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    zero = torch.zeros_like(cos)
    # Output pixel -> where to read in the input: a rotation by the angle, scaled by 1/zoom.
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1).to(
        x.dtype
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    moved = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return torch.where(m.view(b, 1, 1, 1) > 0, moved, x)


OPS = {"color": color, "translation": translation, "cutout": cutout, "geometric": geometric}


def augment(x: torch.Tensor, p: float, ops: tuple[str, ...]) -> torch.Tensor:
    """Apply each named op with per-sample probability ``p``. x: (B, 3, H, W) -> same shape."""
    if p <= 0:
        return x
    for name in ops:
        x = OPS[name](x, p)
    return x


class AdaptiveAugment:
    """ADA-style controller for the augmentation probability ``p``.

    Every ``interval`` D steps, ``r_t = E[sign(D(real))]`` (how sure D is that reals are
    real; near 1 means D has memorised the training set). p moves up when r_t > target
    and down otherwise, by at most ``batch * interval / (kimg * 1000)`` per update, so p can
    cross [0, 1] in ``kimg`` thousand images whatever the batch size.
    """

    def __init__(
        self,
        p: float,
        target: float,
        kimg: float,
        interval: int = 4,
        reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.p = float(p)
        self.target = target
        self.kimg = kimg
        self.interval = interval
        # Several processes (training/distributed.py): ``reduce`` sums a tensor over them, so
        # r_t counts every rank's reals and every rank moves p the same way.
        self.reduce = reduce
        self._sign_sum = torch.zeros(())
        self._count = 0
        self.last_rt = float("nan")

    def accumulate(self, real_logits: torch.Tensor) -> None:
        # Stays a tensor: no host sync per step.
        self._sign_sum = self._sign_sum + real_logits.detach().sign().sum()
        self._count += real_logits.numel()

    def update(self, batch: int, step: int) -> None:
        """After ``step`` (counted from 1); ``batch``: images per step, over all processes."""
        if self.target <= 0 or step % self.interval != 0:
            return
        if self.reduce is not None:
            both = torch.stack([self._sign_sum.detach().double().cpu(), torch.tensor(float(self._count)).double()])
            total = self.reduce(both)
            sign_sum, count = float(total[0]), int(total[1])
        else:
            sign_sum, count = float(self._sign_sum), self._count
        if count == 0:
            return
        rt = sign_sum / count
        self.last_rt = rt
        adjust = (1.0 if rt > self.target else -1.0) * batch * self.interval / (self.kimg * 1000)
        self.p = min(1.0, max(0.0, self.p + adjust))
        self._sign_sum = torch.zeros(())
        self._count = 0

    def pending(self) -> torch.Tensor:
        """(2,) float64: the signs summed and the logits counted since the last update. In
        several processes each rank has its own; a checkpoint keeps every rank's."""
        return torch.tensor([float(self._sign_sum), float(self._count)], dtype=torch.float64)

    def set_pending(self, t: torch.Tensor) -> None:
        self._sign_sum = torch.tensor(float(t[0]), dtype=self._sign_sum.dtype)
        self._count = int(t[1])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "p": torch.tensor(self.p, dtype=torch.float64),
            "sign_sum": self._sign_sum.detach().cpu().clone(),
            "count": torch.tensor(self._count),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.p = float(state["p"])
        self._sign_sum = state["sign_sum"].clone()
        self._count = int(state["count"])
