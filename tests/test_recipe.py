"""Defaults chosen from the dataset: values, reasons, and the user's values winning."""

from dataclasses import replace

import pytest

from artgan.config import ConfigError, ModelConfig, TrainConfig
from artgan.training.recipe import AUTO_FIELDS, resolve, suggest


def test_suggestions_follow_data_and_resolution():
    few, many = suggest(14, 64, 700), suggest(300, 64, 700)
    assert few["batch"][0] == many["batch"][0] == 32
    assert suggest(14, 128, 700)["batch"][0] == 16 and suggest(14, 256, 700)["batch"][0] == 8
    # Fewer images -> stronger starting augmentation.
    assert suggest(1, 64, 700)["augment_p"][0] > few["augment_p"][0] > many["augment_p"][0]
    # R1 grows with pixels per sample over batch (StyleGAN2-ADA's heuristic), anchored at 0.1 for 64 px/32.
    assert few["r1_gamma"][0] == 0.1 and suggest(14, 128, 700)["r1_gamma"][0] == 0.8
    # Patch mode only for a handful of images; crops a third of the shorter side, never below R.
    assert few["crop_size"][0] == 0 and suggest(1, 64, 730)["crop_size"][0] == 243
    assert suggest(2, 128, 200)["crop_size"][0] == 128
    assert set(few) == set(AUTO_FIELDS)
    # The loss is the family's: hinge for resgan (measured), ns for the dcgan baseline.
    assert few["loss"][0] == "hinge" and suggest(14, 64, 700, family="dcgan")["loss"][0] == "ns"
    # So is D's rate: 3x G's for resgan (measured), G's own for dcgan.
    assert few["lr_d"][0] == 6e-4 and suggest(14, 64, 700, family="dcgan")["lr_d"][0] == 2e-4
    # And whether G's step reuses D's fakes: resgan does, the dcgan baseline draws fresh ones.
    assert few["reuse_fakes"][0] is True and suggest(14, 64, 700, family="dcgan")["reuse_fakes"][0] is False
    # And the augmentations: resgan adds a mild zoom and rotation; dcgan keeps DiffAugment's three.
    assert few["augment"][0] == ("geometric", "color", "translation", "cutout")
    assert suggest(14, 64, 700, family="dcgan")["augment"][0] == ("color", "translation", "cutout")


def test_resolve_fills_only_unset_fields():
    cfg = TrainConfig(model=ModelConfig(resolution=128), batch=4, r1_gamma=0.0)
    out, chosen = resolve(cfg, 20, 500)
    assert out.batch == 4 and out.r1_gamma == 0.0  # the user's values win
    assert "batch" not in chosen and "r1_gamma" not in chosen
    # Rules that depend on the batch use the user's batch.
    assert out.lr_g == 2e-4 and out.ema_kimg == 2.0 * 4 / 32 and out.crop_size == 0
    assert all(getattr(out, f) is not None for f in AUTO_FIELDS)
    assert chosen["ema_kimg"] == "0.25 (batch 4)"
    assert chosen["augment"] == "geometric,color,translation,cutout (resgan's set)"
    # A resolved config resolves to itself (resume path).
    again, chosen2 = resolve(out, 20, 500)
    assert again == out and chosen2 == {}
    assert replace(out).validate()


def test_min_scale_whole_works_unless_patch_mode():
    """Whole-image crops cover the whole shorter side (what evaluate compares with);
    patch mode, chosen or given, keeps multi-scale patches."""
    assert suggest(14, 64, 700)["min_scale"][0] == 1.0
    assert suggest(1, 64, 700)["min_scale"][0] == 0.6  # patch mode chosen
    assert suggest(14, 64, 700, crop_size=128)["min_scale"][0] == 0.6  # patch mode given
    assert suggest(1, 64, 700, crop_size=0)["min_scale"][0] == 1.0  # whole images forced
    out, _ = resolve(TrainConfig(min_scale=0.8), 14, 700)
    assert out.min_scale == 0.8  # the user's value wins


def test_loss_follows_the_family_unless_given():
    assert resolve(TrainConfig(model=ModelConfig(family="dcgan")), 14, 700)[0].loss == "ns"
    assert resolve(TrainConfig(), 14, 700)[0].loss == "hinge"
    out, chosen = resolve(TrainConfig(loss="ns"), 14, 700)
    assert out.loss == "ns" and "loss" not in chosen


def test_bad_rampup_or_betas_are_config_errors():
    with pytest.raises(ConfigError, match="ema_rampup"):
        TrainConfig(ema_rampup=-1.0).validate()
    with pytest.raises(ConfigError, match="betas"):
        TrainConfig(beta1=1.0).validate()
