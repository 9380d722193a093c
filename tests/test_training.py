"""Training end to end on tiny models: files written, exact resume, something learned."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from artgan import Generator
from artgan.config import ModelConfig, TrainConfig
from artgan.data import DatasetError
from artgan.training.checkpoint import resolve_model_folder
from artgan.training.loop import train

TINY = ModelConfig(family="resgan", resolution=16, width=8, max_width=32, z_dim=16)


def tiny_cfg(data: Path, **kw) -> TrainConfig:
    base = TrainConfig(
        model=TINY,
        data=str(data),
        batch=8,
        kimg=0.064,
        snapshot_kimg=0.032,
        checkpoint_kimg=0.032,
        log_seconds=0.0,
        grid=2,
        seed=3,
    )
    return replace(base, **kw)


def test_run_folder_contents(image_folder, tmp_path):
    run = train(tiny_cfg(image_folder), tmp_path / "runs", progress=False)
    assert run.name.startswith("00000-")
    for name in (
        "config.json",
        "stats.jsonl",
        "rejected.txt",
        "index.html",
        "samples/reals.png",
        "summary.json",
        "checkpoints/best/G_ema.safetensors",
    ):
        assert (run / name).exists(), name
    assert list(run.glob("events.out.tfevents.*"))
    assert list((run / "samples").glob("fakes*.png"))
    ckpt = resolve_model_folder(run)
    assert ckpt.name == "ckpt-000000064"
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    losses = [r for r in rows if "loss/D" in r]
    assert losses[-1]["kimg"] == 0.064 and "aug/p" in losses[-1]
    # Quality is measured at the end of every run even when no interval has passed.
    assert rows[-1]["kimg"] == 0.064 and "metric/swd/avg" in rows[-1]
    # The next run gets the next number.
    assert train(tiny_cfg(image_folder, kimg=0.008), tmp_path / "runs", progress=False).name.startswith("00001-")


@pytest.mark.parametrize("family", ["resgan", "dcgan"])
def test_resume_continues_exactly(image_folder, tmp_path, family):
    cfg = tiny_cfg(image_folder, model=replace(TINY, family=family), metric_kimg=0.016, metric_n=32)
    straight = train(cfg, tmp_path / "a", progress=False)
    half = train(replace(cfg, kimg=0.032), tmp_path / "b", progress=False)
    resumed = train(replace(cfg, kimg=0.064), tmp_path / "b", resume=half, progress=False)
    assert resumed == half
    for f in ("G.safetensors", "D.safetensors", "G_ema.safetensors"):
        a = load_file(str(resolve_model_folder(straight) / f))
        b = load_file(str(resolve_model_folder(resumed) / f))
        for k in a:
            if "running" in k or "num_batches" in k:
                continue  # BN statistics of G_ema are recalibrated at each save
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=f"{f}:{k}")
    # The quality monitor's best survives the resume too.
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (straight, resumed))
    assert sa["best_swd"] == sb["best_swd"] and sa["best_kimg"] == sb["best_kimg"]


def _metric_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    return [r for r in rows if "metric/swd/avg" in r]


def test_quality_metric_keeps_the_best_checkpoint(image_folder, tmp_path):
    run = train(tiny_cfg(image_folder, kimg=0.096, metric_kimg=0.016, metric_n=32), tmp_path, progress=False)
    rows = _metric_rows(run)
    assert [r["kimg"] for r in rows] == [0.016, 0.032, 0.048, 0.064, 0.08, 0.096]
    best_row = min(rows, key=lambda r: r["metric/swd/avg"])
    best = resolve_model_folder(run, "best")
    assert best.name == "best"
    meta = json.loads((best / "config.json").read_text())
    assert meta["nimg"] == round(best_row["kimg"] * 1000)
    assert meta["metric"]["swd/avg"] == pytest.approx(best_row["metric/swd/avg"], abs=1e-3)
    # The best model loads and generates; it differs from the latest unless the last was best.
    g_best, g_last = Generator.from_pretrained(run, which="best"), Generator.from_pretrained(run)
    assert g_best(n=2, seed=0, output="tensor").shape == (2, 3, 16, 16)
    assert (best_row is rows[-1]) == torch.equal(
        g_best(n=2, seed=0, output="tensor"), g_last(n=2, seed=0, output="tensor")
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_swd"] == pytest.approx(best_row["metric/swd/avg"], abs=1e-3)
    assert 0.0 <= summary["copies"] <= 1.0 and summary["stopped"] == "budget reached"
    assert "Quality" in (run / "index.html").read_text()


def test_patience_stops_early(image_folder, tmp_path):
    cfg = tiny_cfg(image_folder, kimg=4.0, metric_kimg=0.008, metric_n=32, patience=2, checkpoint_kimg=1.0)
    run = train(cfg, tmp_path, progress=False)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"].startswith("early stop") and summary["kimg"] < 4.0
    swds = [r["metric/swd/avg"] for r in _metric_rows(run)]
    # Stopped exactly when the last two measurements were no better than the best before them.
    assert min(swds[-2:]) >= min(swds[:-2]) and len(swds) >= 3
    assert resolve_model_folder(run).name == f"ckpt-{round(summary['kimg'] * 1000):09d}"


def test_too_few_images_is_a_clear_error(tmp_path):
    from conftest import painting

    d = tmp_path / "one"
    d.mkdir()
    painting(0, (64, 64)).save(d / "a.png")
    (d / "b.png").write_bytes(b"broken")
    # Whole-image crops forced: one image is not a dataset, and the error says what to do.
    with pytest.raises(DatasetError, match=r"1 usable image\(s\), need at least 2.*--crop-size"):
        train(tiny_cfg(d, crop_size=0), tmp_path / "runs", progress=False)
    # By default one painting switches to patch mode by itself.
    run = train(tiny_cfg(d, kimg=0.016), tmp_path / "runs", progress=False)
    assert "b.png" in (run / "rejected.txt").read_text()
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["crop_size"] == 21 and "patch mode" in saved["chosen_from_data"]["crop_size"]
    # Nothing usable at all: a clear error naming the folder.
    (d / "a.png").unlink()
    with pytest.raises(DatasetError, match=r"(?s)no usable images.*b\.png"):
        train(tiny_cfg(d), tmp_path / "runs", progress=False)


def _colour_dataset(root: Path, n: int = 24) -> Path:
    """Images whose style is a fixed palette: top half orange, bottom half teal, plus noise."""
    import numpy as np
    from PIL import Image

    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = np.zeros((24, 24, 3), dtype=np.float64)
        arr[:12] = (230, 120, 30)
        arr[12:] = (20, 140, 150)
        arr += rng.normal(0, 10, arr.shape)
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(root / f"{i}.png")
    return root


def test_training_learns_the_palette(tmp_path):
    """After a short run, samples are much closer to the data's colours than at the start."""
    data = _colour_dataset(tmp_path / "palette")
    cfg = tiny_cfg(
        data,
        kimg=1.6,
        batch=16,
        checkpoint_kimg=0.8,
        snapshot_kimg=0.8,
        min_scale=1.0,
        augment=("translation",),
        lr_g=1e-3,
        lr_d=1e-3,
        ema_kimg=0.2,
    )
    target_top = torch.tensor([230, 120, 30]) / 127.5 - 1
    target_bottom = torch.tensor([20, 140, 150]) / 127.5 - 1

    def error(images: torch.Tensor) -> float:
        top = images[:, :, :6].mean(dim=(0, 2, 3))
        bottom = images[:, :, -6:].mean(dim=(0, 2, 3))
        return float((top - target_top).abs().mean() + (bottom - target_bottom).abs().mean())

    torch.manual_seed(cfg.seed)
    from artgan.models import build_generator

    before = error(build_generator(cfg.model).eval()(torch.randn(64, 16)).detach())
    run = train(cfg, tmp_path / "runs", progress=False)
    after = error(Generator.from_pretrained(run)(n=64, seed=0, output="tensor"))
    assert after < 0.35 * before, (before, after)
    assert after < 0.25


def test_generator_same_seed_same_pixels(image_folder, tmp_path):
    run = train(tiny_cfg(image_folder, kimg=0.016), tmp_path / "runs", progress=False)
    g = Generator.from_pretrained(run)
    a = g(n=4, seed=10, output="tensor")
    b = g(n=1, seed=12, output="tensor")
    torch.testing.assert_close(a[2:3], b, atol=1e-6, rtol=1e-5)
    imgs = g(n=2, seed=0)
    assert imgs[0].size == (16, 16) and imgs[0].mode == "RGB"
    assert len(g.walk(3, steps=2)) == 6
