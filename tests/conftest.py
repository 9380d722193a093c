"""Shared fixtures: tiny synthetic images, and the shared test data when it exists."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _threads() -> None:
    # Two threads is what CI has; fixing it keeps timings and results comparable.
    torch.set_num_threads(2)


def painting(seed: int, size: tuple[int, int] = (40, 48)) -> Image.Image:
    """A small synthetic 'painting': smooth colour gradient plus blobs. size is (w, h)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    base = rng.uniform(0, 255, 3)
    slope = rng.uniform(-120, 120, (3, 2))
    arr = base[None, None, :] + xx[..., None] * slope[:, 0] + yy[..., None] * slope[:, 1]
    arr += rng.normal(0, 8, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """24 good images of mixed sizes and formats under nested folders."""
    root = tmp_path / "art"
    (root / "sub").mkdir(parents=True)
    for i in range(24):
        img = painting(i, (32 + 4 * (i % 5), 32 + 3 * (i % 7)))
        target = root / ("sub" if i % 3 == 0 else "") / f"img{i:02d}.{['png', 'jpg', 'webp'][i % 3]}"
        img.save(target)
    return root


def shared_or_skip(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared test data not found at {p}")
    return p
