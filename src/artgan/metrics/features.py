"""Feature extractors for KID and FID: one interface, two implementations.

KID and FID compare two image sets through the statistics of an embedding. The usual
embedding is Inception-v3's 2048-d pool layer, which needs pretrained weights; artgan
never downloads anything, so:

- :class:`RandomConvFeatures` is the always-available default: a fixed, seeded, random
  convolutional network. Random conv features are a known pretrained-free proxy (they
  still respond to colour, contrast, blur, noise and local structure), but the numbers
  mean nothing in absolute terms: **compare figures only between runs that used the
  same extractor name** (the name encodes the architecture version and the seed).
- :class:`InceptionFeatures` loads torchvision-format Inception-v3 weights from a local
  file if the user has one. Note: torchvision's ImageNet weights are not the TF weights
  used by the reference FID code, so even these FIDs are close to, not equal to,
  published figures.

Every extractor takes images (N, 3, H, W) in [-1, 1] and returns float32 (N, D).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .inception import InceptionV3

__all__ = [
    "FeatureExtractor",
    "RandomConvFeatures",
    "InceptionFeatures",
    "INCEPTION_ENV",
    "default_inception_path",
    "get_extractor",
]

INCEPTION_ENV = "ARTGAN_INCEPTION_WEIGHTS"
INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"


@runtime_checkable
class FeatureExtractor(Protocol):
    """Anything with a ``name`` that maps images (N, 3, H, W) in [-1, 1] to features (N, D)."""

    name: str

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


def _resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 3, size, size), bilinear; antialiased only when shrinking."""
    if x.shape[-2:] != (size, size):
        big = min(x.shape[-2:]) > size
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=big)
    return x


def _batched(
    fn: nn.Module, images: torch.Tensor, batch: int, prepare: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Run ``fn(prepare(chunk))`` over chunks of ``images``; (N, 3, H, W) -> (N, D) float32 CPU."""
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch of images (N, 3, H, W), got {tuple(images.shape)}")
    outs = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch):
            chunk = images[i : i + batch].detach().float().cpu()
            outs.append(fn(prepare(chunk)).float())
    return torch.cat(outs)


# --------------------------------------------------------------------------------------
# Random convolutional features
# --------------------------------------------------------------------------------------


class _RandConvNet(nn.Module):
    """4 stride-2 3x3 convs with LeakyReLU; mean and std of every layer's maps, concatenated.

    (N, 3, 64, 64) -> (N, 2 * sum(widths)) = (N, 1920) for the default widths.
    """

    def __init__(self, widths: tuple[int, ...], seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        c_in = 3
        for c_out in widths:
            conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
            # He init drawn by hand from one generator, so the weights are a pure function
            # of the seed (nn.init's defaults would use the global RNG).
            fan_in = c_in * 9
            std = math.sqrt(2.0 / ((1 + 0.2**2) * fan_in))
            conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * std
            conv.weight.requires_grad_(False)
            self.convs.append(conv)
            c_in = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            # Pooling every layer, not just the last: early layers carry colour and fine
            # texture (what blur/noise/colour shifts change), late ones carry structure.
            feats.append(x.mean(dim=(2, 3)))
            feats.append(x.std(dim=(2, 3)))
        return torch.cat(feats, dim=1)


class RandomConvFeatures:
    """Pretrained-free features from a fixed random conv net (the default extractor).

    Images are resized to 64x64 (bilinear, antialiased), passed through 4 conv layers
    3->64->128->256->512 (3x3, stride 2, LeakyReLU 0.2, no bias, He-normal weights from
    ``torch.Generator().manual_seed(seed)``), and each layer's maps are reduced to their
    per-channel mean and std. Output: (N, 1920) float32.

    ``name`` is ``"randconv-v1-seed{seed}"``. Figures are comparable only between runs
    that used the same name; if the architecture or weight recipe ever changes, the
    version number must change with it.
    """

    VERSION = 1
    WIDTHS = (64, 128, 256, 512)
    SIZE = 64

    def __init__(self, seed: int = 0, batch: int = 64) -> None:
        self.seed = seed
        self.batch = batch
        self.name = f"randconv-v{self.VERSION}-seed{seed}"
        self.net = _RandConvNet(self.WIDTHS, seed).eval()
        self.dim = 2 * sum(self.WIDTHS)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return _resize_square(x, self.SIZE)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 1920) float32."""
        return _batched(self.net, images, self.batch, self._prepare)

    def __repr__(self) -> str:
        return f"RandomConvFeatures(name={self.name!r})"


# --------------------------------------------------------------------------------------
# Inception-v3 (torchvision weights), for users who have them locally
# --------------------------------------------------------------------------------------


def default_inception_path() -> Path:
    """Where Inception weights are looked for: $ARTGAN_INCEPTION_WEIGHTS, else the torch hub cache."""
    env = os.environ.get(INCEPTION_ENV)
    if env:
        return Path(env).expanduser()
    # Respect TORCH_HOME like torch.hub does, so an existing cache is found.
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    return torch_home / "hub" / "checkpoints" / INCEPTION_FILE


class InceptionFeatures:
    """2048-d Inception-v3 pool features from a local torchvision checkpoint (never downloads).

    Images (N, 3, H, W) in [-1, 1] are resized to ``size`` x ``size`` (299 for real use;
    tests pass a smaller size, minimum 75) and mapped to (N, 2048) float32.
    """

    MIN_SIZE = 75

    def __init__(self, path: str | os.PathLike | None = None, *, size: int = 299, batch: int = 32) -> None:
        if size < self.MIN_SIZE:
            raise ValueError(f"Inception-v3 needs inputs of at least {self.MIN_SIZE} px, got size={size}")
        p = Path(path).expanduser() if path is not None else default_inception_path()
        if not p.is_file():
            raise FileNotFoundError(
                f"Inception-v3 weights not found at {p}. artgan never downloads weights: copy "
                f"torchvision's '{INCEPTION_FILE}' there, or set {INCEPTION_ENV} to the file's "
                f"path, or use the pretrained-free extractor (get_extractor('randconv'))."
            )
        state = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise ValueError(f"{p}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
        self.net = InceptionV3()
        # Checkpoints written before BatchNorm gained num_batches_tracked lack that buffer;
        # it plays no part in inference, so fill it rather than failing strict loading.
        for key in self.net.state_dict():
            if key.endswith("num_batches_tracked") and key not in state:
                state[key] = torch.tensor(0, dtype=torch.long)
        self.net.load_state_dict(state, strict=True)
        self.net.eval()
        self.path = p
        self.size = size
        self.batch = batch
        self.dim = 2048
        self.name = "inception-v3-torchvision" if size == 299 else f"inception-v3-torchvision-{size}px"

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return _resize_square(x, self.size)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 2048) float32."""
        return _batched(self.net, images, self.batch, self._prepare)

    def __repr__(self) -> str:
        return f"InceptionFeatures(name={self.name!r}, path={str(self.path)!r})"


def get_extractor(name: str = "auto") -> FeatureExtractor:
    """Build a feature extractor by name.

    ``"auto"``: Inception-v3 if its weights exist locally (see :func:`default_inception_path`),
    else ``randconv-v1-seed0``. ``"inception"``: Inception-v3 or FileNotFoundError.
    ``"randconv"`` or ``"randconv-v1-seed<N>"``: the random conv extractor with seed N.
    """
    if name == "auto":
        return InceptionFeatures() if default_inception_path().is_file() else RandomConvFeatures(0)
    if name in ("inception", "inception-v3-torchvision"):
        return InceptionFeatures()
    if name == "randconv":
        return RandomConvFeatures(0)
    m = re.fullmatch(r"randconv-v(\d+)-seed(\d+)", name)
    if m:
        if int(m.group(1)) != RandomConvFeatures.VERSION:
            raise ValueError(
                f"extractor {name!r} is version {m.group(1)}; this artgan provides "
                f"randconv-v{RandomConvFeatures.VERSION} only, so figures would not be comparable"
            )
        return RandomConvFeatures(int(m.group(2)))
    raise ValueError(
        f"unknown feature extractor {name!r}; use 'auto', 'inception', 'randconv' or 'randconv-v1-seed<N>'"
    )
