"""Learning-rate decay over the training budget."""

from dataclasses import replace

import pytest

from artgan.config import ConfigError, TrainConfig
from artgan.training.checkpoint import load_state, resolve_model_folder
from artgan.training.loop import train
from artgan.training.schedule import budget_progress, lr_scale
from test_training import tiny_cfg


def test_progress_is_the_larger_share_of_either_budget():
    assert budget_progress(500, 1000, 10.0, None) == 0.5
    assert budget_progress(500, None, 45.0, 60.0) == 0.75
    assert budget_progress(500, 1000, 45.0, 60.0) == 0.75  # time runs out first
    assert budget_progress(900, 1000, 6.0, 60.0) == 0.9
    assert budget_progress(5000, 1000, 0.0, None) == 1.0  # past the end: clamped
    assert budget_progress(5000, None, 0.0, None) == 0.0  # no budget: never decays


def test_rate_is_constant_then_falls_linearly_to_the_floor():
    assert lr_scale(0.3, 0.0) == 1.0  # off
    assert lr_scale(0.49, 0.5) == 1.0
    assert lr_scale(0.75, 0.5) == pytest.approx(0.5)
    assert lr_scale(1.0, 0.5) == 0.0
    assert lr_scale(1.0, 0.5, floor=0.1) == pytest.approx(0.1)
    assert lr_scale(0.625, 0.5, floor=0.2) == pytest.approx(0.8)
    assert lr_scale(0.0, 1.0) == 1.0 and lr_scale(0.5, 1.0) == pytest.approx(0.5)


def test_bad_decay_rampup_or_betas_are_config_errors():
    with pytest.raises(ConfigError, match="lr_decay"):
        TrainConfig(lr_decay=1.5).validate()
    with pytest.raises(ConfigError, match="ema_rampup"):
        TrainConfig(ema_rampup=-1.0).validate()
    with pytest.raises(ConfigError, match="betas"):
        TrainConfig(beta1=1.0).validate()


def test_training_ends_with_the_decayed_rates(image_folder, tmp_path):
    # 8 steps of 8 images over a 64-image budget, decay over the last half: the last step
    # starts at 56/64 = 0.875 of the budget, so it runs at 1 - 0.375 / 0.5 = 0.25 of the rates.
    cfg = tiny_cfg(image_folder, lr_g=2e-4, lr_d=6e-4, lr_decay=0.5, metric_kimg=0.0)
    state = load_state(resolve_model_folder(train(cfg, tmp_path / "runs", progress=False)))
    assert state["opt_G"]["param_groups"][0]["lr"] == pytest.approx(0.25 * 2e-4)
    assert state["opt_D"]["param_groups"][0]["lr"] == pytest.approx(0.25 * 6e-4)
    # Without decay the rates stay where they started.
    plain = load_state(resolve_model_folder(train(replace(cfg, lr_decay=0.0), tmp_path / "runs", progress=False)))
    assert plain["opt_G"]["param_groups"][0]["lr"] == pytest.approx(2e-4)
