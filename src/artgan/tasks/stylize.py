"""A photo in the style of a painting: ``Stylizer.from_pretrained(run)(image, strength=0.8)``.

``Stylizer.fit(style, contents)`` trains one (or reuses the cached model for the same
style, content pixels and settings). Inference is fully convolutional; images larger than
one tile are processed in overlapping tiles blended with feathered weights, so no seam
shows and memory stays bounded at any size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, overload

import torch
from PIL import Image

from ..config import StylizerConfig
from ..imaging import fit_long_side, keep_colors, load_image, pil_to_tensor, tensor_to_pil
from ..models.stylenet import MEMORY_FORMAT, StyleNet, stylize_image
from ..training.checkpoint import load_weights
from ..training.console import say
from ..training.device import Precision, inputs_follow, resolve_device
from ..training.stylizer import read_stylizer_config, resolve_stylizer_folder, stylizer_key, train_stylizer
from .cache import cached_fit

TILE = 512  # px per tile side, before the overlap
OVERLAP = 64  # px shared by neighbouring tiles (the net's reach is ~40 px)
MAX_SIDE = 8192


def _ramp(n: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    """1-D blending weights of a tile: rising over the overlap except at the image's edges."""
    w = torch.ones(n)
    k = min(overlap, n // 2)
    ramp = (torch.arange(k, dtype=torch.float32) + 0.5) / k
    if not first:
        w[:k] = ramp
    if not last:
        w[n - k :] = ramp.flip(0)
    return w


@torch.no_grad()
def tiled_stylize(
    G: StyleNet,
    x: torch.Tensor,
    tile: int = TILE,
    overlap: int = OVERLAP,
    seed: int = 0,
    precision: Precision | None = None,
) -> torch.Tensor:
    """Stylize (3, H, W) in overlapping tiles of ``tile`` + ``overlap`` px, blended with
    linear ramps over the overlaps. Images that fit in one tile run in one pass. G's noise
    is drawn for the whole image from ``seed`` and sliced, and the palette is applied to the
    whole image first, so tiles agree where they meet. ``x`` on G's device; ``precision``
    autocasts G's passes (the palette stays float32)."""
    _, h, w = x.shape
    noise = G.make_noise(1, h, w, torch.Generator().manual_seed(seed))  # on the CPU, whatever the device
    noise = None if noise is None else noise.to(x.device)
    x = G.recolor(x[None])[0]
    amp = precision or Precision()
    if h <= tile + overlap and w <= tile + overlap:
        with amp.autocast():
            return stylize_image(G, x, noise, recolor=False).float()
    out = torch.zeros_like(x)
    weight = torch.zeros(1, h, w, device=x.device)
    ys = list(range(0, max(1, h - overlap), tile)) or [0]
    xs = list(range(0, max(1, w - overlap), tile)) or [0]
    for y0 in ys:
        y1 = min(h, y0 + tile + overlap)
        for x0 in xs:
            x1 = min(w, x0 + tile + overlap)
            tile_noise = None if noise is None else noise[:, :, y0:y1, x0:x1]
            with amp.autocast():
                part = stylize_image(G, x[:, y0:y1, x0:x1], tile_noise, recolor=False).float()
            wy = _ramp(y1 - y0, overlap, y0 == 0, y1 == h)
            wx = _ramp(x1 - x0, overlap, x0 == 0, x1 == w)
            wt = (wy[:, None] * wx[None, :])[None].to(x.device)
            out[:, y0:y1, x0:x1] += part * wt
            weight[:, y0:y1, x0:x1] += wt
    return out / weight.clamp_min(1e-8)


class Stylizer:
    """A trained stylizer.

    Example::

        st = Stylizer.from_pretrained("runs/starry")
        img = st(Image.open("photo.jpg"), strength=0.8, size=1024)   # PIL image
    """

    def __init__(
        self,
        net: StyleNet,
        folder: Path | None = None,
        info: dict | None = None,
        *,
        device: str | torch.device = "cpu",
        precision: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = Precision.on(precision, self.device)
        self.net = net.eval().requires_grad_(False)
        # Module.to converts in place; memory_format= is valid at runtime but not in torch's stubs.
        self.net.to(memory_format=MEMORY_FORMAT)  # type: ignore[call-overload]
        inputs_follow(self.net, self.device)  # stylize_image draws its noise on the CPU
        self.folder = folder
        self.info = info or {}

    @property
    def warning(self) -> str | None:
        """The collapse warning saved with the model at the end of its training, if any."""
        return self.info.get("quality", {}).get("warning")

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, *, device: str | torch.device = "cpu", precision: str | None = None
    ) -> Stylizer:
        """Load from a stylizer run folder (``train-stylizer --out``) or its ``model/`` folder.

        ``device``: cpu (default), auto, cuda, cuda:N or mps; ``precision``: fp32, bf16 or fp16
        on CUDA (default bf16 where the GPU supports it). Outputs are float32 on the CPU."""
        dev = resolve_device(device)
        Precision.on(precision, dev)  # a precision the device cannot run fails before loading
        folder = resolve_stylizer_folder(path)
        cfg, raw = read_stylizer_config(folder)
        net = StyleNet(cfg)
        load_weights(net, folder / "G_ema.safetensors", dev)
        return cls(net, folder, raw, device=dev, precision=precision)

    @classmethod
    def fit(
        cls,
        style: str | os.PathLike,
        contents: Sequence[str | os.PathLike] = (),
        *,
        config: StylizerConfig | None = None,
        cache: bool = True,
        out: str | os.PathLike | None = None,
        progress: bool = True,
        device: str | torch.device = "cpu",
        precision: str | None = None,
    ) -> Stylizer:
        """Train for the ``style`` image on ``contents`` (photo files; none = generic
        content) and return the model. With ``cache`` a model trained before on the same
        pixels and settings is reused (under ``tasks.cache.cache_root()/stylizers``); without
        it one is trained afresh and replaces it. ``out`` trains into that run folder instead.
        Training and inference run on ``device``; ``precision`` is inference's (training is
        float32)."""
        cfg = (config or StylizerConfig()).validate()
        dev = resolve_device(device)
        Precision.on(precision, dev)  # checked before minutes of training

        def load(run: Path) -> Stylizer:
            return cls.from_pretrained(run, device=dev, precision=precision)

        st = pil_to_tensor(load_image(style))
        cs = [pil_to_tensor(load_image(p)) for p in contents]
        name = Path(style).name

        def train(run: Path) -> None:
            train_stylizer(st, cs, cfg, run, name=name, progress=progress, device=dev)

        if out is not None:
            train(Path(out))
            return load(Path(out))
        model, reused = cached_fit(
            "stylizers",
            stylizer_key(st, cs, cfg),
            train,
            load,
            what=f"the stylizer trained earlier for {name}",
            retrain=not cache,
        )
        if reused and model.warning:  # said once at training time; a reuse must not hide it
            say(f"warning: that stylizer's {model.warning} (--retrain trains it afresh)")
        return model

    @overload
    def __call__(
        self,
        image: Image.Image | torch.Tensor,
        strength: float = ...,
        *,
        preserve_color: bool = ...,
        size: int | None = ...,
        seed: int = ...,
        output: Literal["pil"] = ...,
    ) -> Image.Image: ...
    @overload
    def __call__(
        self,
        image: Image.Image | torch.Tensor,
        strength: float = ...,
        *,
        preserve_color: bool = ...,
        size: int | None = ...,
        seed: int = ...,
        output: Literal["tensor"] = ...,
    ) -> torch.Tensor: ...

    def __call__(
        self,
        image,
        strength: float = 1.0,
        *,
        preserve_color: bool = False,
        size: int | None = None,
        seed: int = 0,
        output: str = "pil",
    ):
        """Stylize ``image`` (PIL, or a tensor (3, H, W) in [-1, 1]).

        ``strength`` in [0, 1] blends from the photo (0) to the full style (1);
        ``preserve_color`` keeps the photo's colors and takes only the style's light and
        texture; ``size`` scales the image so its longer side is that many px first;
        ``seed`` draws the noise the brushwork is painted from (same seed, same pixels).
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if output not in ("pil", "tensor"):
            raise ValueError("output must be 'pil' or 'tensor'")
        x = pil_to_tensor(image) if isinstance(image, Image.Image) else image.float()
        if size is not None:
            if not 8 <= size <= MAX_SIDE:
                raise ValueError(f"size must be between 8 and {MAX_SIDE} px, got {size}")
            x = fit_long_side(x, size)
        if max(x.shape[-2:]) > MAX_SIDE:
            raise ValueError(f"image is {x.shape[-1]}x{x.shape[-2]}; give size <= {MAX_SIDE}")
        y = tiled_stylize(self.net, x.to(self.device), seed=seed, precision=self.precision).cpu()
        if preserve_color:
            y = keep_colors(y, x)
        y = x + strength * (y - x)
        return tensor_to_pil(y) if output == "pil" else y
