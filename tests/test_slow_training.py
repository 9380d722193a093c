"""Slow checks (`make test-slow`): real paintings, minutes of training, a metric must improve."""

from dataclasses import replace

import pytest
import torch

from artgan import Generator
from artgan.config import ModelConfig, TrainConfig
from artgan.data import CropSampler, crop_short_side, ingest
from artgan.models import build_generator
from artgan.training.loop import train

from conftest import shared_or_skip

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("family", ["resgan", "dcgan"])
def test_paintings_swd_drops(tmp_path, family):
    """3 minutes on ../shared/data/art at 32 px: SWD to real crops falls well below the untrained G's."""
    from artgan.metrics import swd

    art = shared_or_skip("art")
    cfg = TrainConfig(model=ModelConfig(family=family, resolution=32), data=str(art), minutes=3.0, seed=0)
    data = ingest(art, target_short=crop_short_side(32, cfg.min_scale), min_short=32, progress=False)
    reals = CropSampler(data.images, 32).sample(256, torch.Generator().manual_seed(9))
    torch.manual_seed(cfg.seed)
    untrained = build_generator(cfg.model).eval()
    with torch.no_grad():
        before = swd(untrained(torch.randn(256, cfg.model.z_dim)), reals)["swd/avg"]
    run = train(cfg, tmp_path / "runs", progress=False)
    after = swd(Generator.from_pretrained(run)(n=256, seed=0, output="tensor"), reals)["swd/avg"]
    print(f"{family}: SWD x1e3 untrained {before:.1f} -> trained {after:.1f}")
    assert after < 0.5 * before
