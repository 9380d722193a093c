import zipfile

import pytest
import torch

from artgan.data import CropSampler, DatasetError, ingest
from conftest import painting, png_bytes
from test_imaging import _bomb_png


def test_folder_with_bad_files_lists_each_reject(image_folder):
    (image_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    good = png_bytes(painting(99, (64, 64)))
    (image_folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (image_folder / "bomb.png").write_bytes(_bomb_png(30000, 30000))
    (image_folder / "notes.jpg").write_text("not an image at all\n")
    (image_folder / "README.txt").write_text("ignored: not an image type")
    res = ingest(image_folder, target_short=64, progress=False)
    assert len(res.images) == 24
    rejected = dict(res.rejected)
    assert set(rejected) == {"broken.jpg", "truncated.png", "bomb.png", "notes.jpg"}
    assert "pixel budget" in rejected["bomb.png"]
    assert "not a supported image" in rejected["notes.jpg"]
    assert "truncated" in rejected["truncated.png"]
    assert "bomb.png: " in res.report()


def test_images_are_downscaled_once_to_the_target(image_folder):
    res = ingest(image_folder, target_short=20, progress=False)
    assert all(min(t.shape[1:]) == 20 and t.dtype == torch.uint8 for t in res.images)


def test_zip_source(tmp_path):
    zpath = tmp_path / "art.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i in range(3):
            zf.writestr(f"folder/p{i}.png", png_bytes(painting(i)))
        zf.writestr("__MACOSX/._p0.png", b"junk")
        zf.writestr("folder/bad.png", b"junk")
    res = ingest(zpath, target_short=64, progress=False)
    assert len(res.images) == 3 and [n for n, _ in res.rejected] == ["folder/bad.png"]


def test_empty_and_missing_sources(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        ingest(tmp_path / "nope", target_short=64, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files"):
        ingest(tmp_path / "empty", target_short=64, progress=False)


def test_crop_sampler_shapes_range_and_determinism(image_folder):
    res = ingest(image_folder, target_short=40, progress=False)
    s = CropSampler(res.images, 16)
    a = s.sample(6, torch.Generator().manual_seed(0))
    b = s.sample(6, torch.Generator().manual_seed(0))
    assert a.shape == (6, 3, 16, 16) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1


def test_hflip_off_never_mirrors_and_on_mirrors_some_crops():
    """A left-dark, right-bright image: a mirrored crop is bright on the left."""
    img = torch.zeros(3, 32, 32, dtype=torch.uint8)
    img[:, :, 16:] = 255
    for flip, expect in ((False, {False}), (True, {False, True})):
        crops = CropSampler([img], 16, min_scale=1.0, hflip=flip).sample(40, torch.Generator().manual_seed(0))
        mirrored = {bool(c[:, :, :4].mean() > c[:, :, -4:].mean()) for c in crops}
        assert mirrored == expect


def test_patch_mode_gives_varied_crops_of_one_image():
    img = painting(7, (200, 150))
    from artgan.imaging import pil_to_tensor

    t = ((pil_to_tensor(img) + 1) * 127.5).round().to(torch.uint8)
    s = CropSampler([t], 16, crop_size=48)
    batch = s.sample(8, torch.Generator().manual_seed(1))
    # Different places of a gradient painting give different mean colours.
    means = batch.mean(dim=(2, 3))
    assert means.std(dim=0).max() > 0.02


def test_crop_resampling_keeps_fine_detail_like_pil():
    """Downscaled crops keep about as much fine detail as PIL's Lanczos gives the same
    pixels, the filter `artgan evaluate` compares with. (Antialiased bilinear, used before,
    kept about 0.83 of it: a systematic blur every generator learned.)"""
    import numpy as np
    from PIL import Image

    from artgan.imaging import pil_to_tensor
    from artgan.metrics.swd import laplacian_pyramid

    rng = np.random.default_rng(0)
    # Sharp-edged blocks of 3 px plus noise: detail near the new Nyquist limit.
    arr = np.kron(rng.uniform(0, 255, (36, 36, 3)), np.ones((3, 3, 1)))[:107, :107]
    arr = np.clip(arr + rng.normal(0, 12, arr.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    t = ((pil_to_tensor(img) + 1) * 127.5).round().to(torch.uint8)
    ours = CropSampler([t], 64, min_scale=1.0, hflip=False).sample(1, torch.Generator().manual_seed(0))
    pil = pil_to_tensor(img.resize((64, 64), Image.Resampling.LANCZOS))[None]
    ratio = float(laplacian_pyramid(ours)[0].std() / laplacian_pyramid(pil)[0].std())
    assert 0.9 < ratio < 1.1, ratio
