"""Repairing damaged paintings: ``Restorer.fit(image, mask)(image, mask)``.

``Restorer.fit`` trains an inpainter on the painting's own intact regions (or reuses the
cached one for the same pixels, mask and settings); ``Restorer.from_pretrained(run)``
loads one trained before. Calling it fills the mask:

1. G runs over the image in overlapping tiles (only those near the mask), blended with
   feathered weights so tiles never show as seams;
2. seam correction: G also predicts the pixels just outside the mask, where the true
   ones are known; their difference is spread smoothly into the hole and added, so the
   fill meets its surroundings without a step in colour;
3. composite: every pixel outside the mask is the input's, bit for bit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..config import RestoreConfig
from ..imaging import load_image, pil_to_tensor, tensor_to_pil
from ..models.common import separable_blur
from ..models.inpaint import InpaintGenerator
from ..training.checkpoint import load_weights
from ..training.device import resolve_device
from ..training.restore import (
    RestoreError,
    load_mask,
    read_restore_config,
    resolve_restore_folder,
    restorer_key,
    train_restorer,
)
from .cache import cached_fit

TILE = 256  # px: tiles G runs on (about 250 px of context, its receptive field)
OVERLAP = 32  # px shared by neighbouring tiles, blended linearly
RING = 3  # px outside the mask whose prediction error steers the seam correction
SEAM_SIGMA = 6.0  # px: how far that correction reaches into the hole

ImageLike = str | os.PathLike | Image.Image | torch.Tensor


def _as_image(image: ImageLike) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"expected an image (3, H, W) in [-1, 1], got {tuple(image.shape)}")
        return image.float()
    if isinstance(image, Image.Image):
        return pil_to_tensor(image)
    return pil_to_tensor(load_image(image))


def _as_mask(mask: ImageLike, size: tuple[int, int], image_name: str) -> torch.Tensor:
    if isinstance(mask, torch.Tensor):
        m = mask.float()
        if m.dim() == 2:
            m = m[None]
        if tuple(m.shape) != (1, *size):
            raise RestoreError(f"the mask is {tuple(m.shape)}; expected (1, {size[0]}, {size[1]}) like {image_name}")
        return (m > 0.5).float()
    if isinstance(mask, Image.Image):
        m = (pil_to_tensor(mask).mean(0, keepdim=True) > 0).float()
        if tuple(m.shape[-2:]) != size:
            raise RestoreError(f"the mask is {m.shape[-1]}x{m.shape[-2]} px but {image_name} is {size[1]}x{size[0]}")
        return m
    return load_mask(mask, size, image_name)


def _name(image: ImageLike) -> str:
    return str(image) if isinstance(image, (str, os.PathLike)) else "the image"


def _ramp(n: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """(n,) weights rising linearly over ``overlap`` px at each end that meets another tile."""
    i = torch.arange(n, dtype=torch.float32)
    w = torch.ones(n)
    if not at_start:
        w = torch.minimum(w, (i + 1) / (overlap + 1))
    if not at_end:
        w = torch.minimum(w, (n - i) / (overlap + 1))
    return w


def _starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    return sorted(set(starts))


@torch.no_grad()
def tiled(
    fn: Any, image: torch.Tensor, mask: torch.Tensor, *, tile: int = TILE, overlap: int = OVERLAP, reach: int = 0
) -> torch.Tensor:
    """``fn(image_tile (1, 3, h, w), mask_tile (1, 1, h, w)) -> (1, 3, h, w)`` over
    overlapping tiles, blended with feathered weights. image (3, H, W), mask (1, H, W) ->
    (3, H, W). Tiles with no mask pixel within ``reach`` px are skipped (the input is
    kept there)."""
    _, h, w = image.shape
    near = F.max_pool2d(mask[None], 2 * reach + 1, 1, reach)[0] if reach else mask
    acc = torch.zeros(3, h, w)
    weight = torch.zeros(1, h, w)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    for y in ys:
        for x in xs:
            th, tw = min(tile, h), min(tile, w)
            if not near[:, y : y + th, x : x + tw].any():
                continue
            out = fn(image[None, :, y : y + th, x : x + tw], mask[None, :, y : y + th, x : x + tw])[0].float().cpu()
            wy = _ramp(th, overlap, y == 0, y + th >= h)
            wx = _ramp(tw, overlap, x == 0, x + tw >= w)
            wt = (wy[:, None] * wx[None, :])[None]
            acc[:, y : y + th, x : x + tw] += out * wt
            weight[:, y : y + th, x : x + tw] += wt
    return torch.where(weight > 0, acc / weight.clamp_min(1e-12), image)


def seam_correct(
    pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, sigma: float = SEAM_SIGMA
) -> torch.Tensor:
    """Shift ``pred`` (3, H, W) inside ``mask`` (1, H, W) by the error it makes in a ring of
    RING px just outside the mask (where ``image`` is known), spread by a Gaussian of
    ``sigma`` px and fading towards a large hole's middle. Outside the mask ``pred`` is
    returned unchanged."""
    ring = (F.max_pool2d(mask[None], 2 * RING + 1, 1, RING)[0] - mask).clamp(0, 1)
    radius = int(3 * sigma)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = taps / taps.sum()
    both = torch.cat([(image - pred) * ring, ring])[None]  # (1, 4, H, W)
    # Zero padding (not reflect): nothing known lies beyond the image's border.
    pad = F.pad(both, (radius, radius, radius, radius))
    blurred = separable_blur(pad, taps, (0, 0))[0]
    num, den = blurred[:3], blurred[3:]
    corr = num / (den + 0.02)  # den ~0.3 next to the ring (almost full shift), ~0 deep inside
    return torch.where(mask > 0, pred + corr, pred).clamp(-1, 1)


class Restorer:
    """A trained inpainter for a painting.

    Example::

        restorer = Restorer.fit("painting.png", mask="mask.png")     # trains, or reuses the cache
        fixed = restorer("painting.png", "mask.png")                 # PIL image, mask filled
        t = restorer(img, mask, output="tensor")                     # (3, H, W) in [-1, 1]
    """

    def __init__(
        self, net: InpaintGenerator, folder: Path | None = None, info: dict | None = None, *, device: Any = "cpu"
    ) -> None:
        self.device = resolve_device(device)
        self.net = net.eval().requires_grad_(False).to(self.device)
        self.folder = folder
        self.info = info or {}

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu") -> Restorer:
        """Load from a restorer run folder (``train-restorer --out``) or its ``model/`` folder."""
        dev = resolve_device(device)
        folder = resolve_restore_folder(path)
        cfg, raw = read_restore_config(folder)
        net = InpaintGenerator(cfg.width)
        load_weights(net, folder / "G_ema.safetensors", dev)
        return cls(net, folder, raw, device=dev)

    @classmethod
    def fit(
        cls,
        image: ImageLike,
        mask: ImageLike | None = None,
        *,
        config: RestoreConfig | None = None,
        cache: bool = True,
        out: str | os.PathLike | None = None,
        progress: bool = True,
        device: str | torch.device = "cpu",
    ) -> Restorer:
        """Train on ``image``'s intact regions (pixels under ``mask``, white = damaged, are
        never learned from) and return the restorer. With ``cache``, one trained before on
        the same pixels, mask and settings is reused; ``out`` trains into that run folder."""
        cfg = (config or RestoreConfig()).validate()
        dev = resolve_device(device)
        img = _as_image(image)
        name = Path(image).name if isinstance(image, (str, os.PathLike)) else "image"
        m = (
            torch.zeros(1, *img.shape[-2:])
            if mask is None
            else _as_mask(mask, (img.shape[1], img.shape[2]), _name(image))
        )

        def train(run: Path) -> None:
            train_restorer(img, m, cfg, run, name=name, progress=progress, device=dev)

        def load(run: Path) -> Restorer:
            return cls.from_pretrained(run, device=dev)

        if out is not None:
            train(Path(out))
            return load(Path(out))
        restorer, _ = cached_fit(
            "restorers",
            restorer_key(img, m, cfg),
            train,
            load,
            what=f"the restorer trained earlier for {name}",
            retrain=not cache,
        )
        return restorer

    def __call__(self, image: ImageLike, mask: ImageLike, *, output: str = "pil", tile: int = TILE) -> Any:
        """``image`` with the pixels under ``mask`` (white / 1 = to repair) painted; every
        other pixel is the input's exactly. Returns a PIL image, or with ``output="tensor"``
        (3, H, W) in [-1, 1]. An empty mask returns the image unchanged."""
        if output not in ("pil", "tensor"):
            raise ValueError("output must be 'pil' or 'tensor'")
        img = _as_image(image)
        m = _as_mask(mask, (img.shape[1], img.shape[2]), _name(image))
        if bool(m.all()):
            raise RestoreError(f"the mask covers all of {_name(image)}: nothing is left to restore from")
        if not m.any():
            out = img.clone()
        else:

            def fn(x: torch.Tensor, mm: torch.Tensor) -> torch.Tensor:
                return self.net(x.to(self.device), mm.to(self.device))

            pred = tiled(fn, img, m, tile=max(64, tile), reach=RING + int(3 * SEAM_SIGMA))
            pred = seam_correct(pred, img, m)
            out = torch.where(m > 0, pred, img)  # bit-identical outside the mask
        return tensor_to_pil(out) if output == "pil" else out

    @property
    def model_id(self) -> str:
        return f"restore:{self.info.get('image', {}).get('sha256', 'in-memory')[:12]}"


__all__ = ["Restorer", "RestoreError", "tiled", "seam_correct"]
