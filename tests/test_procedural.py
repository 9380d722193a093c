"""The bundled procedural dataset: deterministic, varied, bold, and one coherent series."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artgan.data.procedural import draw_artwork, write_procedural_set


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)  # (H, W, 3) in [0, 255]


def test_same_seed_same_bytes() -> None:
    assert draw_artwork(7, size=48).tobytes() == draw_artwork(7, size=48).tobytes()


@pytest.mark.parametrize("size", [16, 32, 64, 96])
def test_size_and_mode(size: int) -> None:
    img = draw_artwork(3, size=size)
    assert img.mode == "RGB"
    assert img.size == (size, size)


def test_rejects_tiny_size() -> None:
    with pytest.raises(ValueError, match="size"):
        draw_artwork(0, size=4)


def test_different_seeds_differ_in_composition() -> None:
    images = [_arr(draw_artwork(seed, size=48)) for seed in range(8)]
    for a, b in itertools.combinations(images, 2):
        # Far above what grain alone would give: the layout itself changes.
        assert np.abs(a - b).mean() > 10.0


def test_images_are_bold_not_flat() -> None:
    for seed in range(12):
        img = draw_artwork(seed, size=48)
        assert _arr(img).std() > 25.0
        # Contrast must survive heavy downsampling: the composition is low-frequency,
        # which is what a GAN at 32-64 px can actually learn.
        tiny = img.resize((8, 8), Image.Resampling.BOX)
        assert _arr(tiny).std() > 20.0


def test_set_shares_a_warm_palette() -> None:
    means = np.stack([_arr(draw_artwork(seed, size=32)).mean(axis=(0, 1)) for seed in range(24)])
    # Warm, earthy series: red clearly dominates blue in every work.
    assert np.all(means[:, 0] - means[:, 2] > 10.0)
    # One palette family: the works' mean colours form a tight cluster compared with
    # images whose colours are drawn at random (mean colour uniform in the RGB cube).
    rng = np.random.default_rng(0)
    noise = [rng.uniform(0, 255, size=3) + rng.normal(0, 40, size=(32, 32, 3)) for _ in range(24)]
    noise_means = np.stack([np.clip(n, 0, 255).mean(axis=(0, 1)) for n in noise])

    def spread(m: np.ndarray) -> float:
        return float(np.linalg.norm(m - m.mean(axis=0), axis=1).mean())

    assert spread(means) < 0.5 * spread(noise_means)


def test_write_procedural_set_writes_n_pngs_and_is_idempotent(tmp_path: Path) -> None:
    out = tmp_path / "art"
    paths = write_procedural_set(out, n=5, size=32, seed=1)
    assert [p.name for p in paths] == [f"art_{i:03d}.png" for i in range(5)]
    assert sorted(out.iterdir()) == paths  # no stray temp files
    for p in paths:
        with Image.open(p) as img:
            assert img.format == "PNG" and img.mode == "RGB" and img.size == (32, 32)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}

    again = write_procedural_set(out, n=5, size=32, seed=1)
    assert again == paths
    # Unchanged files are not rewritten, so the bytes and mtimes stay identical.
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in again} == before


def test_write_procedural_set_is_reproducible_and_seeded(tmp_path: Path) -> None:
    a = write_procedural_set(tmp_path / "a", n=3, size=32, seed=0)
    b = write_procedural_set(tmp_path / "b", n=3, size=32, seed=0)
    c = write_procedural_set(tmp_path / "c", n=3, size=32, seed=1)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert all(pa.read_bytes() != pc.read_bytes() for pa, pc in zip(a, c))
    # Images within one set are distinct works, not copies.
    assert len({p.read_bytes() for p in a}) == 3


def test_write_procedural_set_repairs_a_damaged_file(tmp_path: Path) -> None:
    paths = write_procedural_set(tmp_path, n=2, size=32)
    good = paths[1].read_bytes()
    paths[1].write_bytes(b"truncated")
    write_procedural_set(tmp_path, n=2, size=32)
    assert paths[1].read_bytes() == good
