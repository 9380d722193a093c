"""Conditioning on the training work: G's latent picks a work, D judges each image as a
sample of the work it claims to be (``--condition``, ``ModelConfig.works``)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artgan import Generator
from artgan.config import ConfigError, ModelConfig, TrainConfig
from artgan.data import DatasetError
from artgan.losses import image_logits
from artgan.models import build_discriminator, build_generator
from artgan.models.common import work_of
from artgan.training.loop import train
from artgan.training.recipe import resolve, suggest

TINY = ModelConfig(family="resgan", resolution=16, width=8, max_width=32, z_dim=16)
ORANGE, TEAL = (230, 120, 30), (20, 140, 150)


def test_work_of_is_uniform_and_ignores_truncation():
    z = torch.randn(50_000, 128, generator=torch.Generator().manual_seed(0))
    for k in (2, 5, 14):
        w = work_of(z, k)
        share = torch.bincount(w, minlength=k).double() / len(w)
        assert w.min() == 0 and w.max() == k - 1
        assert (share - 1 / k).abs().max() < 0.01, share
        # The truncation trick scales latents: each keeps its work.
        assert torch.equal(work_of(z * 0.5, k), w) and torch.equal(work_of(z * 0.7, k), w)


def test_conditional_resgan_uses_the_work_and_its_d_demands_it():
    c = replace(TINY, works=3).validate()
    torch.manual_seed(0)
    G, D = build_generator(c), build_discriminator(c)
    z = torch.randn(8, 16)
    w = G.work_of(z)
    x = G(z)
    with pytest.raises(ValueError, match="needs the works"):
        D(x)
    # The same images claimed as another work get another verdict.
    assert not torch.allclose(image_logits(D(x, works=w)), image_logits(D(x, works=(w + 1) % 3)))
    # A work's embedding changes the image (the latent alone is not the whole input).
    G.eval()
    before = G(z)
    with torch.no_grad():
        G.work_embed[w[0]] += 1.0
    changed = (G(z) - before).abs().flatten(1).amax(1) > 0
    assert torch.equal(changed, w == w[0])
    G.train()
    (D(G(z), works=w).sum()).backward()
    used = torch.zeros(3, dtype=torch.bool)
    used[w] = True
    assert (G.work_embed.grad.abs().sum(1) > 0).eq(used).all()  # only the works drawn get gradients
    assert D.work_proj.grad[w].abs().sum() > 0
    # An unconditional D takes no works; a family without conditioning refuses the option.
    with pytest.raises(ValueError, match="takes none"):
        build_discriminator(TINY)(x.detach(), works=w)
    with pytest.raises(ConfigError, match="cannot be conditioned"):
        replace(TINY, family="dcgan", works=3).validate()


def test_recipe_condition_and_works():
    assert suggest(14, 64, 700)["condition"][0] is False
    assert suggest(1, 64, 700)["condition"] == (False, "patch mode: no works to tell apart")
    assert suggest(14, 64, 700, family="dcgan")["condition"][0] is False
    out, chosen = resolve(TrainConfig(model=TINY, condition=True), 14, 700)
    assert out.model.works == 14 and "condition" not in chosen
    assert resolve(TrainConfig(model=TINY), 14, 700)[0].model.works == 0


def _works_folder(root: Path, colours: list[tuple[int, int, int]]) -> Path:
    """One flat-colour 24 px image (plus noise) per colour: each is a 'work'."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i, col in enumerate(colours):
        arr = np.array(col, dtype=np.float64)[None, None, :] + rng.normal(0, 8, (24, 24, 3))
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(root / f"{i}.png")
    return root


def _cfg(data: Path, **kw) -> TrainConfig:
    base = dict(
        model=TINY,
        data=str(data),
        batch=16,
        crop_size=0,
        condition=True,
        metric_kimg=0,
        threads=2,
        snapshot_kimg=1.0,
        checkpoint_kimg=1.0,
        augment=("translation",),
    )
    return TrainConfig(**{**base, **kw})


def test_conditional_training_ties_each_work_to_its_colour(tmp_path):
    """Two works, orange and teal. Before training a sample's colour says nothing about the
    work its latent picks; after a short run, nearly every sample has its own work's colour."""
    data = _works_folder(tmp_path / "two", [ORANGE, TEAL])
    cfg = _cfg(data, kimg=1.6, lr_g=1e-3, lr_d=1e-3, ema_kimg=0.2)
    palette = torch.tensor([ORANGE, TEAL], dtype=torch.float32) / 127.5 - 1

    def agreement(images: torch.Tensor, works: torch.Tensor) -> float:
        nearest = torch.cdist(images.mean(dim=(2, 3)), palette).argmin(1)
        return float((nearest == works).double().mean())

    z = torch.randn(200, 16, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(cfg.seed)
    g0 = build_generator(replace(TINY, works=2)).eval()
    with torch.no_grad():
        start = agreement(g0(z), g0.work_of(z))
    run = train(cfg, tmp_path / "runs", progress=False)
    g = Generator.from_pretrained(run)
    with torch.no_grad():
        after = agreement(g.render(z), g.net.work_of(z))
    assert abs(start - 0.5) < 0.2, start
    assert after > 0.9, (start, after)


def test_resume_with_other_images_is_a_clear_error(tmp_path):
    data = _works_folder(tmp_path / "three", [ORANGE, TEAL, (200, 200, 60)])
    run = train(_cfg(data, kimg=0.016), tmp_path / "runs", progress=False)
    Image.new("RGB", (24, 24), (10, 10, 10)).save(data / "3.png")
    with pytest.raises(DatasetError, match=r"conditioned on 3 training works.*now has 4"):
        train(_cfg(data, kimg=0.032), tmp_path / "runs", resume=run, progress=False)
