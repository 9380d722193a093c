"""The restorer: the inpainting nets, training that learns, tiles, seams, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from artgan.cli import main
from artgan.config import RestoreConfig
from artgan.data.damage import hole_mask
from artgan.imaging import load_image, pil_to_tensor, save_png
from artgan.models.inpaint import InpaintDiscriminator, InpaintGenerator
from artgan.tasks.restore import Restorer, seam_correct, tiled
from artgan.training.restore import RestoreError, measure, train_restorer

TINY = RestoreConfig(width=8, d_width=8, crop=48, batch=4, hole=16, minutes=None, steps=2)


def stripes(h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """Diagonal two-colour stripes with a little noise: (3, h, w) in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    band = (((yy + xx) // 4) % 2).float()[None]
    red, blue = torch.tensor([0.8, -0.5, -0.5])[:, None, None], torch.tensor([-0.5, -0.3, 0.8])[:, None, None]
    return (red * band + blue * (1 - band) + 0.03 * torch.randn(3, h, w, generator=g)).clamp(-1, 1)


def test_nets_shapes_any_size_and_gradients() -> None:
    torch.manual_seed(0)
    G, D = InpaintGenerator(8), InpaintDiscriminator(8)
    x, m = torch.rand(2, 3, 37, 50) * 2 - 1, (torch.rand(2, 1, 37, 50) > 0.7).float()
    y = G(x, m)
    assert y.shape == x.shape and y.abs().max() <= 1
    # What lies under the mask cannot matter.
    assert torch.equal(G(torch.where(m > 0, torch.zeros_like(x), x), m), y)
    logits = D(x[:, :, :32, :32], m[:, :, :32, :32])
    assert logits.shape == (2, 16)
    (y.mean() + logits.mean()).backward()
    assert all(p.grad is not None for p in [*G.parameters(), *D.parameters()])


def test_training_learns_to_fill_holes(tmp_path: Path) -> None:
    img = stripes()
    cfg = RestoreConfig(width=8, d_width=8, crop=48, batch=4, hole=16, lr=2e-3, minutes=None, steps=40)
    torch.manual_seed(0)
    before = measure(InpaintGenerator(8), img, torch.zeros(1, 64, 64), 48, 16)
    folder = train_restorer(img, None, cfg, tmp_path / "run", progress=False)
    after = Restorer.from_pretrained(tmp_path / "run").info["quality"]
    assert (folder / "G_ema.safetensors").is_file() and (folder / "mask.png").is_file()
    # Learned: clearly better than the untrained net and than a flat mean-colour fill.
    assert after["psnr"] > before["psnr"] + 3
    assert after["psnr"] > after["psnr_mean_fill"] + 1


def test_pixels_outside_the_mask_are_bit_identical_and_tiles_blend(tmp_path: Path) -> None:
    torch.manual_seed(0)
    restorer = Restorer(InpaintGenerator(8))
    img = pil_to_tensor(load_image(_png(stripes(90, 130), tmp_path / "in.png")))
    mask = hole_mask((90, 130), 1, count=4, max_size=20)
    out = restorer(img, mask, output="tensor", tile=64)
    keep = (mask == 0).expand(3, -1, -1)
    assert torch.equal(out[keep], img[keep])
    assert not torch.equal(out[~keep], img[~keep])
    # Through a PNG too: 8-bit pixels outside the mask survive the round trip exactly.
    save_png(out, tmp_path / "out.png")
    back = pil_to_tensor(load_image(tmp_path / "out.png"))
    assert torch.equal(back[keep], img[keep])
    # Feathered tiles: a per-pixel function comes back exactly, whatever the tiling.
    full = torch.ones(1, 90, 130)
    same = tiled(lambda x, m: x * 0.5, img, full, tile=64, overlap=16)
    assert torch.allclose(same, img * 0.5, atol=1e-6)


def test_seam_correction_removes_a_colour_step() -> None:
    img = torch.zeros(3, 64, 64) + 0.2
    mask = torch.zeros(1, 64, 64)
    mask[:, 24:40, 24:40] = 1
    pred = img + 0.3  # a fill that is right in texture but off in colour everywhere
    fixed = seam_correct(pred, img, mask)
    step_before = (pred[:, 24, 30] - img[:, 23, 30]).abs().mean()
    step_after = (fixed[:, 24, 30] - img[:, 23, 30]).abs().mean()
    assert step_after < 0.25 * step_before
    assert torch.equal(fixed[:, :20], pred[:, :20])


def _png(t: torch.Tensor, path: Path) -> Path:
    return save_png(t, path)


def test_bad_masks(tmp_path: Path) -> None:
    restorer = Restorer(InpaintGenerator(8))
    img = stripes(48, 48)
    with pytest.raises(RestoreError, match="covers all"):
        restorer(img, torch.ones(1, 48, 48))
    assert torch.equal(restorer(img, torch.zeros(1, 48, 48), output="tensor"), img)
    _png(stripes(48, 48), tmp_path / "img.png")
    _png(torch.ones(3, 40, 48), tmp_path / "small-mask.png")
    with pytest.raises(RestoreError, match=r"small-mask.png: the mask is 48x40 px but .*img.png is 48x48"):
        restorer(tmp_path / "img.png", tmp_path / "small-mask.png")
    with pytest.raises(RestoreError, match="covers 100%"):
        train_restorer(img, torch.ones(1, 48, 48), TINY, tmp_path / "r", progress=False)


def test_cli_restore_train_and_reuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = _png(stripes(64, 64), tmp_path / "art.png")
    m = hole_mask((64, 64), 2, count=2, max_size=14)
    mask = _png(m.expand(3, -1, -1) * 2 - 1, tmp_path / "mask.png")
    budget = ["--steps", "2", "--no-progress"]
    assert main(["train-restorer", str(img), "--mask", str(mask), "--out", str(tmp_path / "runs"), *budget]) == 0
    run = Path(capsys.readouterr().out.strip())
    assert (run / "model" / "config.json").is_file()
    out = tmp_path / "out"
    assert main(["restore", str(img), "--mask", str(mask), "--model", str(run), "--out", str(out)]) == 0
    fixed = pil_to_tensor(load_image(out / "art-restored.png"))
    orig = pil_to_tensor(load_image(img))
    keep = (m == 0).expand(3, -1, -1)
    assert torch.equal(fixed[keep], orig[keep])
    # An empty mask: a copy, and it says so.
    empty = _png(torch.full((3, 64, 64), -1.0), tmp_path / "empty.png")
    assert main(["restore", str(img), "--mask", str(empty), "--model", str(run), "--out", str(out)]) == 0
    assert "empty" in capsys.readouterr().err
    # A mask of another size: exit 2, the mask named.
    other = _png(torch.ones(3, 32, 32), tmp_path / "other.png")
    assert main(["restore", str(img), "--mask", str(other), "--model", str(run), "--out", str(out)]) == 2
    assert "other.png" in capsys.readouterr().err
