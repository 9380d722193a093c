"""Checkpoints survive crashes: failed writes, SIGKILL at random moments, wrong folders."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from artgan import Generator
from artgan.config import ConfigError, ModelConfig, TrainConfig, read_model_file_dict, to_dict
from artgan.models import build_generator
from artgan.training import checkpoint as ck
from artgan.training.checkpoint import CheckpointError, load_state, resolve_model_folder, save_checkpoint
from artgan.training.loop import _load_run_config

CFG = TrainConfig(model=ModelConfig(resolution=16, width=8, max_width=32, z_dim=16))


def _save(root: Path, nimg: int, keep: int = 3) -> Path:
    G = build_generator(CFG.model)
    return save_checkpoint(
        root, nimg=nimg, config=CFG, modules={"G": G, "G_ema": G, "D": G}, state={"nimg": torch.tensor(nimg)}, keep=keep
    )


def test_latest_pointer_and_pruning(tmp_path):
    for n in (8, 16, 24, 32):
        _save(tmp_path, n, keep=2)
    assert (tmp_path / "latest").read_text().strip() == "ckpt-000000032"
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == ["ckpt-000000024", "ckpt-000000032"]
    assert int(load_state(resolve_model_folder(tmp_path))["nimg"]) == 32


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    _save(tmp_path, 8)
    calls = {"n": 0}
    real = ck._write_synced

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] == 3:  # die after config.json and one weight file
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(ck, "_write_synced", flaky)
    with pytest.raises(OSError):
        _save(tmp_path, 16)
    assert resolve_model_folder(tmp_path).name == "ckpt-000000008"
    assert not list(tmp_path.glob(".tmp-*")), "temp folder must be cleaned up"
    Generator.from_pretrained(tmp_path)  # still loads


def test_stale_latest_and_temp_folders_are_ignored(tmp_path):
    _save(tmp_path, 8)
    (tmp_path / ".tmp-ckpt-000000016-abc").mkdir()  # a write killed half-way
    (tmp_path / "latest").write_text("ckpt-000000016\n")  # pointing at something missing
    assert resolve_model_folder(tmp_path).name == "ckpt-000000008"


def test_wrong_folders_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        resolve_model_folder(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(CheckpointError, match="is a file"):
        resolve_model_folder(tmp_path / "x.txt")
    with pytest.raises(CheckpointError, match="not an artgan model"):
        resolve_model_folder(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"format_version": 99}))
    (bad / "G_ema.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="format_version"):
        Generator.from_pretrained(bad)
    good = _save(tmp_path / "ok", 8)
    (good / "G_ema.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="damaged"):
        Generator.from_pretrained(good)


def test_best_model_folder_swaps_safely(tmp_path, monkeypatch):
    _save(tmp_path, 8)
    with pytest.raises(CheckpointError, match="no best checkpoint"):
        resolve_model_folder(tmp_path, "best")
    G = build_generator(CFG.model)
    ck.save_model_folder(tmp_path / "best", nimg=8, config=CFG, G_ema=G, extra={"metric": {"swd/avg": 5.0}})
    assert resolve_model_folder(tmp_path, "best").name == "best"
    # A failed replacement keeps the previous best whole.
    monkeypatch.setattr(ck, "_write_synced", lambda p, d: (_ for _ in ()).throw(OSError(28, "No space left", str(p))))
    with pytest.raises(OSError):
        ck.save_model_folder(tmp_path / "best", nimg=16, config=CFG, G_ema=G)
    assert json.loads((tmp_path / "best" / "config.json").read_text())["nimg"] == 8
    assert not list(tmp_path.glob(".tmp-*"))
    # A kill between the two renames leaves only .old-best: it is still found.
    os.replace(tmp_path / "best", tmp_path / ".old-best")
    assert Generator.from_pretrained(tmp_path, which="best").folder.name == ".old-best"


# The options artgan 0.1.x wrote into every config.json, at the values that meant "off".
OFF_0_1_MODEL = {
    "d_dropout": 0.0,
    "spectral_norm": False,
    "upsample": "nearest",
    "d_blur": False,
    "d_patch_pos": False,
    "d_coarse": False,
    "g_coarse_mult": 1,
    "d_recon": False,
    "works": 0,
}
OFF_0_1_TRAIN = {"lr_decay": 0.0, "ms_weight": 0.0, "hflip": True, "condition": False, "channels_last": True}


def _as_0_1_wrote_it(folder: Path, model: dict | None = None, train: dict | None = None) -> Path:
    """Rewrite a checkpoint's config.json, and a run config.json beside it, with 0.1.x's
    removed options (``model`` / ``train`` override some of them). Returns the run folder."""
    path = folder / "config.json"
    doc = json.loads(path.read_text())
    doc["model"] = {**doc["model"], **OFF_0_1_MODEL, **(model or {})}
    doc["train"] = {**doc["train"], **OFF_0_1_TRAIN, **(train or {}), "model": doc["model"]}
    path.write_text(json.dumps(doc))
    run = folder.parent.parent
    (run / "config.json").write_text(json.dumps({"artgan_version": "0.1.0", "train": doc["train"]}))
    return run


def test_models_and_runs_of_0_1_load_when_their_removed_options_were_off(tmp_path):
    folder = _save(tmp_path / "run" / "checkpoints", 8)
    before = Generator.from_pretrained(folder)(n=2, seed=0, output="tensor")
    run = _as_0_1_wrote_it(folder)
    assert torch.equal(Generator.from_pretrained(folder)(n=2, seed=0, output="tensor"), before)
    assert _load_run_config(run) == CFG
    # null meant "the recipe's choice" (mirrored, unconditional); null d_* meant the family's (off).
    _as_0_1_wrote_it(folder, model={"d_blur": None, "d_recon": None}, train={"hflip": None, "condition": None})
    assert _load_run_config(run) == CFG and Generator.from_pretrained(folder).config == CFG.model


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("model", "d_blur", True),
        ("model", "upsample", "bilinear"),
        ("model", "works", 14),
        ("model", "g_coarse_mult", 2),
        ("model", "spectral_norm", True),
        ("train", "ms_weight", 1.0),
        ("train", "lr_decay", 0.5),
        ("train", "hflip", False),
        ("train", "condition", True),
        ("train", "channels_last", False),
    ],
)
def test_models_and_runs_of_0_1_trained_with_a_removed_option_say_so(tmp_path, section, key, value):
    folder = _save(tmp_path / "run" / "checkpoints", 8)
    run = _as_0_1_wrote_it(folder, **{section: {key: value}})
    removed = (
        rf"this (model|run) was trained with the experimental option `{key}` \(.+\), "
        r"removed in artgan 0\.2\.0; use artgan 0\.1\.x to load it"
    )
    with pytest.raises(ConfigError, match=re.escape(f"{run / 'config.json'}: ") + removed):
        _load_run_config(run)
    if section == "model":
        path = folder / "config.json"
        with pytest.raises(ConfigError, match=re.escape(f"{path}: ") + removed):
            read_model_file_dict(json.loads(path.read_text()), str(path))
        with pytest.raises(CheckpointError, match=re.escape(f"{path}: ") + removed):  # Generator.from_pretrained
            Generator.from_pretrained(folder)
    # Files written now hold none of them.
    assert to_dict(CFG).keys().isdisjoint(OFF_0_1_TRAIN) and to_dict(CFG.model).keys().isdisjoint(OFF_0_1_MODEL)


def _latest_nimg(run: Path) -> int:
    return int(load_state(resolve_model_folder(run))["nimg"])


def test_sigkill_at_random_moments_then_resume(image_folder, tmp_path):
    """Kill training with SIGKILL again and again, checkpointing every step so kills land
    mid-write; after every kill the latest checkpoint loads and --resume carries on."""
    out = tmp_path / "runs"
    common = [sys.executable, "-m", "artgan.cli", "train", "--out", str(out), "--no-progress", "--threads", "1"]
    base = common + [
        "--resolution",
        "16",
        "--width",
        "8",
        "--batch",
        "8",
        "--kimg",
        "1000",
        "--checkpoint-kimg",
        "0.008",
        "--snapshot-kimg",
        "1000",
    ]
    rng = random.Random(1234)
    seen: list[int] = []
    temp_left = 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for attempt in range(6):
        cmd = base + ([str(image_folder)] if attempt == 0 else ["--resume", str(next(out.glob("0*")))])
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait until this process has saved at least once beyond what we had, then kill at a random moment.
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            runs = list(out.glob("0*"))
            if runs and ck.list_checkpoints(runs[0] / "checkpoints"):
                try:
                    if _latest_nimg(runs[0]) > (seen[-1] if seen else 0):
                        break
                except CheckpointError:
                    pass
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run = next(out.glob("0*"))
        temp_left += len(list((run / "checkpoints").glob(".tmp-*")))
        folder = resolve_model_folder(run)
        Generator.from_pretrained(folder)  # the latest checkpoint always loads
        seen.append(_latest_nimg(run))
    assert seen == sorted(seen) and seen[-1] > seen[0], seen
    # Finally a clean resume runs to a budget and finishes.
    final = subprocess.run(
        common + ["--resume", str(run), "--kimg", str((seen[-1] + 32) / 1000)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr
    assert _latest_nimg(run) == seen[-1] + 32
    print(f"checkpoints seen after kills: {seen}; kills that left a half-written temp folder: {temp_left}")
