"""Seamless textures from one exemplar: ``TextureSynth.from_pretrained(run)(size=(h, w), seed=0)``.

``TextureSynth.fit(exemplar)`` trains a model (or reuses the cached one for the same
exemplar pixels and settings) and returns it ready to use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal, overload

import torch
from PIL import Image

from ..config import TextureConfig
from ..imaging import make_grid, save_png, tensor_to_pil
from ..models.texgan import TextureGenerator
from ..training.checkpoint import load_weights
from ..training.device import Precision, inputs_follow, resolve_device
from ..training.texture import (
    exemplar_key,
    load_exemplar,
    read_texture_config,
    resolve_texture_folder,
    train_texture,
)
from .cache import cached_fit

# px: at 8192^2 one 16-channel full-size feature map is 4 GiB and about three are alive at
# once (~12 GiB peak); tile larger sizes yourself.
MAX_SIDE = 8192


class TextureSynth:
    """A trained texture model.

    Example::

        synth = TextureSynth.from_pretrained("runs/brick")
        img = synth(size=(1024, 1024), seed=3, tileable=True)   # PIL image that tiles
        t = synth(size=(256, 512), seed=3, output="tensor")      # (3, 256, 512) in [-1, 1]
    """

    def __init__(
        self,
        net: TextureGenerator,
        folder: Path | None = None,
        info: dict | None = None,
        *,
        device: str | torch.device = "cpu",
        precision: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = Precision.on(precision, self.device)
        # render() draws its noise on the CPU from the seed; the hook moves it to the device.
        self.net = inputs_follow(net.eval().requires_grad_(False), self.device)
        self.config = net.cfg
        self.folder = folder
        self.info = info or {}  # config.json: exemplar name/size, training steps, quality

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, *, device: str | torch.device = "cpu", precision: str | None = None
    ) -> TextureSynth:
        """Load from a texture run folder (``train-texture --out``) or its ``model/`` folder.

        ``device``: cpu (default), auto, cuda, cuda:N or mps; ``precision``: fp32, bf16 or fp16
        on CUDA (default bf16 where the GPU supports it). Textures are float32 on the CPU."""
        dev = resolve_device(device)
        Precision.on(precision, dev)  # a precision the device cannot run fails before loading
        folder = resolve_texture_folder(path)
        cfg, raw = read_texture_config(folder)
        net = TextureGenerator(cfg)
        load_weights(net, folder / "G_ema.safetensors", dev)
        return cls(net, folder, raw, device=dev, precision=precision)

    @classmethod
    def fit(
        cls,
        exemplar: str | os.PathLike,
        *,
        region: tuple[int, int, int, int] | None = None,
        config: TextureConfig | None = None,
        cache: bool = True,
        out: str | os.PathLike | None = None,
        progress: bool = True,
        device: str | torch.device = "cpu",
        precision: str | None = None,
    ) -> TextureSynth:
        """Train on an image file (or ``region`` = (x, y, w, h) of it) and return the model.

        With ``cache``, a model trained before on the same pixels with the same settings is
        reused instead (kept under :func:`artgan.tasks.cache.cache_root`); without it one is
        trained afresh and replaces it. ``out`` trains into that run folder instead.
        Training and rendering run on ``device``; ``precision`` is rendering's (training is
        float32).
        """
        cfg = (config or TextureConfig()).validate()
        dev = resolve_device(device)
        Precision.on(precision, dev)  # checked before minutes of training

        def load(run: Path) -> TextureSynth:
            return cls.from_pretrained(run, device=dev, precision=precision)

        ex = load_exemplar(exemplar, region)
        name = Path(exemplar).name + (f"[{','.join(map(str, region))}]" if region else "")

        def train(run: Path) -> None:
            train_texture(ex, cfg, run, name=name, progress=progress, device=dev)

        if out is not None:
            train(Path(out))
            return load(Path(out))
        synth, _ = cached_fit(
            "textures",
            exemplar_key(ex, cfg),
            train,
            load,
            what=f"the texture model trained earlier for {name}",
            retrain=not cache,
        )
        return synth

    @overload
    def __call__(
        self, size: tuple[int, int] = ..., seed: int = ..., tileable: bool = ..., output: Literal["pil"] = ...
    ) -> Image.Image: ...
    @overload
    def __call__(
        self, size: tuple[int, int] = ..., seed: int = ..., tileable: bool = ..., output: Literal["tensor"] = ...
    ) -> torch.Tensor: ...

    def __call__(self, size: tuple[int, int] = (512, 512), seed: int = 0, tileable: bool = False, output: str = "pil"):
        """A texture of ``size`` = (height, width) px for ``seed``; ``tileable`` makes its
        left/right and top/bottom edges continue each other. Same seed and size, same pixels."""
        h, w = (int(v) for v in size)
        if not (8 <= h <= MAX_SIDE and 8 <= w <= MAX_SIDE):
            raise ValueError(f"size {w}x{h}: each side must be between 8 and {MAX_SIDE} px")
        if output not in ("pil", "tensor"):
            raise ValueError("output must be 'pil' or 'tensor'")
        with self.precision.autocast():
            img = self.net.render((h, w), seed, tileable=tileable).float().cpu()
        return tensor_to_pil(img) if output == "pil" else img

    @property
    def model_id(self) -> str:
        ex = self.info.get("exemplar", {})
        return f"texture:{ex.get('sha256', 'in-memory')[:12]}"


def write_textures(
    synth: TextureSynth,
    out: str | os.PathLike,
    stem: str,
    size: tuple[int, int],
    n: int,
    seed: int = 0,
    tileable: bool = False,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write what ``artgan texture`` writes into folder ``out``: ``{stem}-seed{s}.png`` of
    ``size`` = (height, width) px for seeds ``seed..seed+n-1``, each with its provenance,
    and ``sheet.png``, every texture tiled 2x2 (a seam shows as a cross) at most 512 px.

    ``progress(done, n)`` is called before each texture and once more at the end; it may
    raise to stop. Returns the written paths, the sheet last.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    k = min(1.0, 256 / max(h, w))  # each tile of the sheet at most 256 px
    written: list[Path] = []
    previews = []
    for i, s in enumerate(range(seed, seed + n)):
        if progress is not None:
            progress(i, n)
        img = synth(size=(h, w), seed=s, tileable=tileable, output="tensor")  # (3, H, W)
        meta = {"artgan:model": synth.model_id, "artgan:seed": str(s), "artgan:tileable": str(tileable).lower()}
        written.append(save_png(img, folder / f"{stem}-seed{s}.png", metadata=meta))
        small = torch.nn.functional.interpolate(
            img[None],
            size=(max(1, round(h * k)), max(1, round(w * k))),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )[0]
        previews.append(small.repeat(1, 2, 2))
    sheet = make_grid(torch.stack(previews), pad=6)
    written.append(save_png(sheet, folder / "sheet.png", metadata={"artgan:model": synth.model_id}))
    if progress is not None:
        progress(n, n)
    return written
