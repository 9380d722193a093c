"""Quality tracking during training: SWD of the EMA generator every N kimg, the best so far,
and the patience counter behind early stopping.

The real set and the latent seeds are fixed for the whole run (and across resumes), so
successive figures differ only because the generator changed ("common random numbers"):
a drop of a few percent is a real improvement, not a different draw of crops.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..data import CropSampler
from ..metrics.memorization import memorization
from ..metrics.swd import swd
from ..models.common import seeds_to_z

METRIC = "swd/avg"  # the figure that picks `best` (x1e3, lower is better)
METRIC_SEED = 20261124  # real crops and fake seeds; fixed so every run uses the same draw


class QualityMonitor:
    """Measures a generator against a fixed set of real crops.

    Args:
        images: decoded training images (uint8 (3, H, W) each).
        resolution: training resolution R.
        z_dim: latent size of the generator.
        n: images per side. With 256, SWD differs by about 10% between independent draws
            at 64 px; the fixed draw here removes that between measurements of one run.
        crop_size: patch mode's crop size, so reals match what training sees.
    """

    def __init__(
        self, images: list[torch.Tensor], resolution: int, z_dim: int, *, n: int = 256, crop_size: int | None = None
    ) -> None:
        # Full-shorter-side crops without flips, as `artgan evaluate` uses; in patch mode,
        # patches of the size training draws.
        sampler = CropSampler(images, resolution, crop_size=crop_size, min_scale=1.0, hflip=False)
        # (n, 3, R, R) and (n, 4) crop boxes (for the memorisation check)
        self.reals, self.boxes = sampler.sample_with_boxes(n, torch.Generator().manual_seed(METRIC_SEED))
        self.z = seeds_to_z([METRIC_SEED + i for i in range(n)], z_dim)  # (n, z_dim)
        self.best = math.inf
        self.best_kimg = -1.0
        self.since_best = 0  # evaluations since the best one
        self._last: torch.Tensor | None = None  # fakes of the latest measure(), reused by copies()

    @torch.no_grad()
    def fakes(self, G_ema: torch.nn.Module) -> torch.Tensor:
        """(n, 3, R, R) samples of G_ema in eval mode, in [-1, 1]."""
        G_ema.eval()
        return torch.cat([G_ema(z) for z in self.z.split(64)]).float().clamp(-1, 1).contiguous()

    def measure(self, G_ema: torch.nn.Module, kimg: float) -> tuple[dict[str, float], bool]:
        """SWD of ``G_ema`` (per level and avg) and whether it is the best so far."""
        self._last = self.fakes(G_ema)
        scores = swd(self._last, self.reals, seed=0)
        value = scores[METRIC]
        improved = value < self.best
        if improved:
            self.best, self.best_kimg, self.since_best = value, kimg, 0
        else:
            self.since_best += 1
        return scores, improved

    def copies(self, G_ema: torch.nn.Module, *, fresh: bool = True) -> tuple[float, float]:
        """(fraction of near-copies of training crops, median nearest-neighbour ratio).

        With ``fresh=False`` the samples of the last :meth:`measure` are reused (the caller
        guarantees G_ema has not changed since)."""
        fakes = self._last if not fresh and self._last is not None else self.fakes(G_ema)
        result = memorization(fakes, self.reals, real_boxes=self.boxes)
        return result.copy_fraction, float(result.ratios.median())

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": torch.tensor(self.best, dtype=torch.float64),
            "best_kimg": torch.tensor(self.best_kimg, dtype=torch.float64),
            "since_best": torch.tensor(self.since_best),
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.best = float(st["best"])
        self.best_kimg = float(st["best_kimg"])
        self.since_best = int(st["since_best"])
