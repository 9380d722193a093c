"""The `artgan` command as a user runs it."""

import json

import numpy as np
import pytest
from PIL import Image

from artgan.cli import main

TINY = ["--resolution", "16", "--width", "8", "--batch", "8", "--no-progress", "--threads", "1"]


def test_dry_run_prints_resolved_config(image_folder, capsys, tmp_path):
    assert (
        main(
            [
                "train",
                str(image_folder),
                "--out",
                str(tmp_path / "runs"),
                "--dry-run",
                "--minutes",
                "0.5",
                "--family",
                "dcgan",
            ]
        )
        == 0
    )
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["minutes"] == 0.5 and cfg["model"]["family"] == "dcgan" and cfg["model"]["resolution"] == 64
    # The recipe fields are resolved from the data, with the reasons.
    assert cfg["batch"] == 32 and cfg["crop_size"] == 0 and "batch" in cfg["chosen_from_data"]
    assert not (tmp_path / "runs").exists(), "a dry run writes nothing"
    assert cfg["hflip"] is True and "hflip" in cfg["chosen_from_data"]
    assert main(["train", str(image_folder), "--dry-run", "--no-hflip", "--augment", "xflip,color"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["hflip"] is False and cfg["augment"] == ["xflip", "color"] and "hflip" not in cfg["chosen_from_data"]


def test_train_generate_interpolate(image_folder, tmp_path, capsys):
    assert main(["train", str(image_folder), "--out", str(tmp_path / "runs"), "--kimg", "0.016", *TINY]) == 0
    run = capsys.readouterr().out.strip().splitlines()[-1]
    out1, out2 = tmp_path / "g1", tmp_path / "g2"
    assert (
        main(["generate", run, "--n", "4", "--seed", "3", "--out", str(out1), "--interpolate", "3", "--frames", "2"])
        == 0
    )
    assert main(["generate", run, "--n", "1", "--seed", "5", "--out", str(out2)]) == 0
    names = sorted(p.name for p in out1.iterdir())
    assert names == ["grid.png", "seed00003.png", "seed00004.png", "seed00005.png", "seed00006.png", "walk.gif"]
    a = np.asarray(Image.open(out1 / "seed00005.png"))
    b = np.asarray(Image.open(out2 / "seed00005.png"))
    assert a.shape == (16, 16, 3) and np.array_equal(a, b), "same seed, same pixels"
    assert Image.open(out1 / "walk.gif").n_frames == 6
    assert Image.open(out1 / "seed00003.png").info["artgan:seed"] == "3"
    # --best picks checkpoints/best; resuming with recipe options warns that they are ignored.
    assert main(["generate", run, "--best", "--n", "1", "--out", str(tmp_path / "g3")]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "runs"), "--resume", run, "--kimg", "0.024", "--batch", "4"]) == 0
    err = capsys.readouterr().err
    assert "ignoring --batch" in err and err.strip().endswith("ckpt-000000024")


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "/nonexistent/model"], "no such folder"),
        (["train", "/nonexistent/data", "--out", "/tmp/x"], "no such file or folder"),
        (["train", ".", "--resolution", "48", "--dry-run"], "power of two"),
    ],
)
def test_errors_are_one_clear_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_resume_without_runs_is_clear(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--resume"]) == 2
    assert "no run folder to resume" in capsys.readouterr().err


def test_families_lists_the_registry(capsys):
    assert main(["families"]) == 0
    out = capsys.readouterr().out
    assert "resgan" in out and "dcgan" in out and "[default]" in out


def test_evaluate_folders_and_runs(image_folder, tmp_path, capsys):
    assert (
        main(
            [
                "evaluate",
                "--real",
                str(image_folder),
                "--fake",
                str(image_folder),
                "--resolution",
                "16",
                "--n",
                "32",
                "--json",
            ]
        )
        == 0
    )
    same = json.loads(capsys.readouterr().out)
    assert same["extractor"].startswith(("randconv", "inception")) and same["swd/avg"] >= 0
    assert main(["train", str(image_folder), "--out", str(tmp_path / "runs"), "--kimg", "0.016", *TINY]) == 0
    run = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        main(
            [
                "evaluate",
                run,
                "--real",
                str(image_folder),
                "--n",
                "32",
                "--json",
                "--worst-pairs",
                str(tmp_path / "pairs.png"),
            ]
        )
        == 0
    )
    untrained = json.loads(capsys.readouterr().out)
    # An almost untrained generator is much further from the data than the data's own crops.
    assert untrained["swd/avg"] > 2 * same["swd/avg"]
    assert (tmp_path / "pairs.png").exists() and 0 <= untrained["copies"] <= 1
