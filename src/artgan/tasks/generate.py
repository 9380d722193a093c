"""Generate new works from a trained model: ``Generator.from_pretrained(path)(n=8, seed=0)``."""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, Protocol, overload, runtime_checkable

import torch
from PIL import Image

from ..imaging import make_grid, save_gif, save_png, tensor_to_pil
from ..models import build_generator
from ..models.common import seeds_to_z
from ..training.checkpoint import load_weights, read_folder_config, resolve_model_folder
from ..training.device import Precision, resolve_device

# Where from_pretrained puts a generator when no device is given: the CPU, unless a caller
# that loads generators deep inside (``artgan evaluate``) chose another with default_device().
# Images generated per call when writing files: a caller's progress (or cancel) shows between chunks.
CHUNK = 16

_DEFAULT: contextvars.ContextVar[tuple[str | torch.device, str | None]] = contextvars.ContextVar(
    "artgan_generator_device", default=("cpu", None)
)


@contextlib.contextmanager
def default_device(device: str | torch.device, precision: str | None = None) -> Iterator[None]:
    """Within the block, ``Generator.from_pretrained`` without ``device`` loads onto ``device``."""
    token = _DEFAULT.set((device, precision))
    try:
        yield
    finally:
        _DEFAULT.reset(token)


@runtime_checkable
class _NoiseSeeded(Protocol):
    """A generator with noise inputs that can hold one noise seed for every sample (ResGenerator)."""

    noise_seed: int | None


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latents (z_dim,): stays on the Gaussian's shell."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.acos((an * bn).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    if so.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


class Generator:
    """A trained generator (the EMA weights), ready to sample.

    Example::

        g = Generator.from_pretrained("runs/00000-art-resgan-64")
        images = g(n=4, seed=0)                   # 4 PIL images, seeds 0..3
        batch = g(n=4, seed=0, output="tensor")   # (4, 3, R, R) in [-1, 1]
    """

    def __init__(
        self, net: torch.nn.Module, model_cfg, folder: Path | None = None, *, precision: str | None = None
    ) -> None:
        self.net = net.eval().requires_grad_(False)
        param = next(net.parameters(), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self.precision = Precision.on(precision, self.device)
        self.config = model_cfg
        self.folder = folder
        self.model_id = f"{folder.parent.parent.name}/{folder.name}" if folder is not None else "in-memory"
        self.train_config: dict | None = None  # the recipe it was trained with, when known

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        which: str = "latest",
        *,
        device: str | torch.device | None = None,
        precision: str | None = None,
    ) -> Generator:
        """Load from a model folder, a checkpoint folder or a run folder (its ``latest``
        checkpoint, or with ``which="best"`` the one with the lowest training-time SWD).

        ``device``: cpu (default), auto, cuda, cuda:N or mps; ``precision``: fp32, bf16 or
        fp16 on CUDA (default bf16 where the GPU supports it). Images come back on the CPU
        in float32 whatever the device."""
        if device is None:
            device, precision = _DEFAULT.get()[0], precision or _DEFAULT.get()[1]
        dev = resolve_device(device)
        Precision.on(precision, dev)  # a precision the device cannot run fails before loading
        folder = resolve_model_folder(path, which)
        model_cfg, raw = read_folder_config(folder)
        net = build_generator(model_cfg)
        load_weights(net, folder / "G_ema.safetensors", dev)
        g = cls(net, model_cfg, folder, precision=precision)
        g.train_config = raw.get("train") if isinstance(raw.get("train"), dict) else None
        return g

    @property
    def resolution(self) -> int:
        return self.config.resolution

    def latents(self, n: int, seed: int, truncation: float = 1.0) -> torch.Tensor:
        """(n, z_dim) latents for seeds ``seed .. seed+n-1``, scaled by ``truncation``.

        Truncation in (0, 1] pulls z towards the mean of its prior: less variety, fewer
        failures (the "truncation trick").
        """
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation must be in (0, 1], got {truncation}")
        return seeds_to_z(list(range(seed, seed + n)), self.config.z_dim) * truncation

    @torch.no_grad()
    def render(self, z: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Latents (N, z_dim) -> images (N, 3, R, R) in [-1, 1], float32 on the CPU.
        Batch-size independent."""
        if not len(z):
            return z.new_empty(0, 3, self.resolution, self.resolution)
        with self.precision.autocast():
            return torch.cat([self.net(chunk.to(self.device)).float().cpu() for chunk in z.split(batch_size)])

    @overload
    def __call__(
        self, n: int = ..., seed: int = ..., truncation: float = ..., output: Literal["pil"] = ...
    ) -> list[Image.Image]: ...
    @overload
    def __call__(
        self, n: int = ..., seed: int = ..., truncation: float = ..., output: Literal["tensor"] = ...
    ) -> torch.Tensor: ...

    def __call__(self, n: int = 8, seed: int = 0, truncation: float = 1.0, output: str = "pil"):
        """Generate ``n`` images from seeds ``seed..seed+n-1``: PIL images or a tensor (n, 3, R, R)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        imgs = self.render(self.latents(n, seed, truncation))
        if output == "tensor":
            return imgs
        if output != "pil":
            raise ValueError("output must be 'pil' or 'tensor'")
        return [tensor_to_pil(im) for im in imgs]

    def walk(self, keyframes: int, seed: int = 0, steps: int = 16, truncation: float = 1.0) -> list[Image.Image]:
        """A looping latent walk through ``keyframes`` seeds, ``steps`` frames between each."""
        if keyframes < 2:
            raise ValueError("a walk needs at least 2 keyframes")
        keys = self.latents(keyframes, seed, truncation)
        zs = [slerp(keys[i], keys[(i + 1) % keyframes], t / steps) for i in range(keyframes) for t in range(steps)]
        # A generator with noise inputs keeps one noise draw for the whole walk, so only
        # the latent moves (per-latent noise would make fine detail flicker frame to frame).
        seeded = self.net if isinstance(self.net, _NoiseSeeded) else None
        if seeded is not None:
            seeded.noise_seed = seed
        try:
            frames = self.render(torch.stack(zs))
        finally:
            if seeded is not None:
                seeded.noise_seed = None
        return [tensor_to_pil(im) for im in frames]


def write_generated(
    g: Generator,
    out: str | os.PathLike,
    n: int,
    seed: int = 0,
    truncation: float = 1.0,
    *,
    walk: int = 0,
    frames: int = 16,
    fps: float = 12.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write what ``artgan generate`` writes into folder ``out``: ``seedNNNNN.png`` for seeds
    ``seed..seed+n-1``, ``grid.png`` of them all, and with ``walk`` >= 2 keyframes
    ``walk.gif``. Each PNG carries its provenance (model, seed(s), truncation).

    ``progress(done, n)`` is called before the first image and after each chunk of
    :data:`CHUNK` images (``done == n`` before the walk is rendered); it may raise to stop.
    Returns the written paths: the images, then the grid, then the GIF.
    """
    if walk == 1 or walk < 0:
        raise ValueError("a walk needs at least 2 keyframes (0 = none)")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"artgan:model": g.model_id, "artgan:truncation": f"{truncation:g}"}
    written: list[Path] = []
    chunks = []
    for start in range(0, n, CHUNK):
        if progress is not None:
            progress(start, n)
        imgs = g(n=min(CHUNK, n - start), seed=seed + start, truncation=truncation, output="tensor")  # (B, 3, R, R)
        for i, im in enumerate(imgs):
            s = seed + start + i
            written.append(save_png(im, folder / f"seed{s:05d}.png", metadata={**meta, "artgan:seed": str(s)}))
        chunks.append(imgs)
    grid_meta = {**meta, "artgan:seeds": f"{seed}-{seed + n - 1}"}
    written.append(save_png(make_grid(torch.cat(chunks)), folder / "grid.png", metadata=grid_meta))
    if progress is not None:
        progress(n, n)
    if walk:
        path = folder / "walk.gif"
        written.append(save_gif(g.walk(walk, seed=seed, steps=frames, truncation=truncation), path, fps=fps))
    return written
