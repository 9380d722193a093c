"""The `artgan` command as a user runs it: options, outputs, and every bad input."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artgan.cli import build_parser, main

TINY = ["--resolution", "16", "--width", "8", "--batch", "8", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, data folder) of a 16 px run trained for 16 images."""
    from conftest import painting

    root = tmp_path_factory.mktemp("cli")
    data = root / "art"
    data.mkdir()
    for i in range(8):
        painting(i, (32, 40)).save(data / f"p{i}.png")
    assert main(["train", str(data), "--out", str(root / "runs"), "--kimg", "0.016", *TINY]) == 0
    (run,) = (root / "runs").iterdir()
    return run, data


def test_dry_run_prints_resolved_config(image_folder, capsys, tmp_path):
    args = ["train", str(image_folder), "--out", str(tmp_path / "runs"), "--dry-run", "--minutes", "0.5"]
    assert main([*args, "--family", "dcgan"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["minutes"] == 0.5 and cfg["model"]["family"] == "dcgan" and cfg["model"]["resolution"] == 64
    # The recipe fields are resolved from the data, with the reasons; the data path is absolute.
    assert cfg["batch"] == 32 and cfg["crop_size"] == 0 and "batch" in cfg["chosen_from_data"]
    assert Path(cfg["data"]).is_absolute() and Path(cfg["data"]) == image_folder.resolve()
    assert not (tmp_path / "runs").exists(), "a dry run writes nothing"
    assert main([*args, "--r1-gamma", "0.5", "--augment", "color,cutout"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (
        cfg["r1_gamma"] == 0.5 and cfg["augment"] == ["color", "cutout"] and "r1_gamma" not in cfg["chosen_from_data"]
    )


def test_train_help_is_short_grouped_and_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    text = capsys.readouterr().out
    options = {w for line in text.splitlines() for w in line.split() if w.startswith("--") and len(w) > 2}
    assert len(options) <= 30, sorted(options)
    for group in ("essential:", "budget and output:", "advanced:"):
        assert group in text
    assert "--minutes" in text and "(default: 30" in text
    assert "{resgan,dcgan}" in text
    for gone in ("--ms-weight", "--d-coarse", "--condition", "--channels-last", "--spectral-norm", "--lr-decay"):
        assert gone not in text


def test_every_option_has_help_with_its_default():
    """No option of any command hides what it does or what it defaults to."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        for action in p._actions:
            if (
                not action.option_strings
                or action.help in (None, "==SUPPRESS==")
                or action.dest in ("help", "help_all")
            ):
                continue
            assert "(default: " in action.help or "(required" in action.help, (
                f"{name} {action.option_strings}: {action.help}"
            )


def test_train_generate_interpolate(tiny_run, tmp_path, capsys):
    run, _ = tiny_run
    out1, out2 = tmp_path / "g1", tmp_path / "g2"
    args = ["generate", "--model", str(run), "--n", "4", "--seed", "3", "--out", str(out1)]
    assert main([*args, "--interpolate", "3", "--frames", "2"]) == 0
    assert main(["generate", "--model", str(run), "--n", "1", "--seed", "5", "--out", str(out2)]) == 0
    names = sorted(p.name for p in out1.iterdir())
    assert names == ["grid.png", "seed00003.png", "seed00004.png", "seed00005.png", "seed00006.png", "walk.gif"]
    a = np.asarray(Image.open(out1 / "seed00005.png"))
    b = np.asarray(Image.open(out2 / "seed00005.png"))
    assert a.shape == (16, 16, 3) and np.array_equal(a, b), "same seed, same pixels"
    assert Image.open(out1 / "walk.gif").n_frames == 6
    assert Image.open(out1 / "seed00003.png").info["artgan:seed"] == "3"
    assert main(["generate", "--model", str(run), "--best", "--n", "1", "--out", str(tmp_path / "g3")]) == 0


def test_device_auto_says_what_it_picked_and_cpu_gives_the_same_pixels(tiny_run, tmp_path, capsys):
    run, _ = tiny_run
    base = ["generate", "--model", str(run), "--n", "2"]
    assert main([*base, "--out", str(tmp_path / "auto")]) == 0
    picked = "cuda" if __import__("torch").cuda.is_available() else "cpu"
    assert f"device: {picked}" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "cpu"), "--device", "cpu", "--precision", "fp32"]) == 0
    assert "picked by --device auto" not in capsys.readouterr().err
    if picked == "cpu":
        for name in ("seed00000.png", "seed00001.png"):
            a, b = (np.asarray(Image.open(tmp_path / d / name)) for d in ("auto", "cpu"))
            assert np.array_equal(a, b)


def test_generate_default_out_is_outputs_generate(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--model", str(tiny_run[0]), "--n", "2"]) == 0
    assert (tmp_path / "outputs" / "generate" / "seed00001.png").is_file()


def _fails_cleanly(args: list[str], option: str, capsys, code: int = 2) -> str:
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and option in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "extra, option",
    [
        (["--interpolate", "2", "--frames", "0"], "--frames"),
        (["--interpolate", "2", "--fps", "0"], "--fps"),
        (["--interpolate", "1"], "--interpolate"),
        (["--n", "0"], "--n"),
        (["--truncation", "0"], "--truncation"),
    ],
)
def test_generate_bad_numbers_write_nothing(tiny_run, tmp_path, capsys, extra, option):
    out = tmp_path / "g"
    _fails_cleanly(["generate", "--model", str(tiny_run[0]), "--out", str(out), *extra], option, capsys)
    assert not out.exists(), "nothing written before the error"


def test_out_that_is_a_file(tiny_run, tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    _fails_cleanly(["generate", "--model", str(tiny_run[0]), "--out", str(f)], "--out", capsys)
    _fails_cleanly(["generate", "--model", str(tiny_run[0]), "--out", str(f / "sub")], "--out", capsys)
    _fails_cleanly(["train", str(tiny_run[1]), "--out", str(f)], "--out", capsys)
    _fails_cleanly(["stylize", str(f), "--style", str(f), "--out", str(f)], "--out", capsys)
    assert f.read_text() == "keep me"


@pytest.mark.parametrize(
    "args, option",
    [
        (["generate", "--model", "/nonexistent/model"], "no such"),
        (["generate"], "--model"),
        (["train", "/nonexistent/data"], "DATA"),
        (["train"], "DATA"),
        (["train", ".", "--resolution", "48", "--dry-run"], "--resolution 48"),
        (["train", ".", "--minutes", "-1", "--dry-run"], "--minutes -1"),
        (["train", ".", "--kimg", "0", "--dry-run"], "--kimg 0"),
        (["train", ".", "--augment", "sparkle", "--dry-run"], "--augment"),
        (["stylize", "/nonexistent/photo.jpg", "--style", __file__], "PHOTO /nonexistent/photo.jpg"),
        (["texture", "--size", "12xab", "--model", "x"], "--size"),
        (["evaluate"], "--model"),
        (["train", "--resume", "/nonexistent/run"], "no such run folder"),
        (["train", ".", "--nproc", "0"], "--nproc 0"),
        (["train", ".", "--precision", "bf16", "--device", "cpu", "--dry-run"], "--precision bf16"),
        (["generate", "--model", "x", "--device", "cpu", "--precision", "fp16"], "--precision fp16"),
        (["train", ".", "--device", "tpu", "--dry-run"], "--device tpu"),
    ],
)
def test_errors_are_one_clear_line(args, option, capsys):
    _fails_cleanly(args, option, capsys)


def test_bf16_on_the_cpu_says_why(capsys):
    err = _fails_cleanly(["train", ".", "--precision", "bf16", "--device", "cpu", "--dry-run"], "--precision", capsys)
    assert "fp32 only" in err and "25-45x slower" in err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize(
    "args",
    [
        ["train", ".", "--dry-run"],
        ["generate", "--model", "x"],
        ["evaluate", "--fake", ".", "--real", "."],
        ["texture", "--model", "x"],
        ["train-texture", "--resume", "x"],
        ["train-stylizer", "--resume", "x"],
        ["stylize", __file__, "--model", "x"],
    ],
)
def test_device_cuda_without_cuda_is_a_usage_error(args, capsys, tmp_path):
    if args[0] == "stylize":  # a real photo, so the command gets as far as the device
        from conftest import painting

        painting(0).save(tmp_path / "p.png")
        args = ["stylize", str(tmp_path / "p.png"), "--model", "x", "--out", str(tmp_path / "o")]
    err = _fails_cleanly([*args, "--device", "cuda"], "--device cuda: CUDA is not available", capsys)
    assert "use auto or cpu" in err


def test_missing_style_file_is_named(tmp_path, capsys):
    from conftest import painting

    painting(0).save(tmp_path / "photo.png")
    _fails_cleanly(
        ["stylize", str(tmp_path / "photo.png"), "--style", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o")],
        "--style",
        capsys,
    )
    assert not (tmp_path / "o").exists()


def test_debug_shows_the_traceback(capsys):
    assert main(["generate", "--model", "/nonexistent/model", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")


def test_unexpected_errors_exit_1_without_traceback(tiny_run, monkeypatch, capsys):
    from artgan.tasks import generate

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(generate.Generator, "from_pretrained", classmethod(boom))
    err = _fails_cleanly(["generate", "--model", str(tiny_run[0])], "kaboom", capsys, code=1)
    assert "--debug" in err


def test_resume_from_another_directory_and_moved_data(tiny_run, tmp_path, monkeypatch, capsys):
    import shutil

    run0, data = tiny_run
    run = tmp_path / run0.name
    shutil.copytree(run0, run)
    monkeypatch.chdir("/")
    assert main(["train", "--resume", str(run), "--kimg", "0.024", "--batch", "4", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "ignoring --batch" in captured.err and captured.out.strip() == str(run)
    assert (run / "checkpoints" / "ckpt-000000024").is_dir()
    # The data moved: resuming says so and names the way out; a new DATA argument fixes it.
    moved = tmp_path / "moved-art"
    shutil.copytree(data, moved)
    cfg = json.loads((run / "config.json").read_text())
    cfg["train"]["data"] = str(tmp_path / "gone")
    (run / "config.json").write_text(json.dumps(cfg))
    err = _fails_cleanly(["train", "--resume", str(run), "--kimg", "0.032", "--no-progress"], "--resume", capsys)
    assert "gone" in err
    assert main(["train", str(moved), "--resume", str(run), "--kimg", "0.032", "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["data"] == str(moved.resolve())
    # Changed data (one image fewer) is resumed with a warning naming the change.
    os.remove(next(moved.iterdir()))
    assert main(["train", str(moved), "--resume", str(run), "--kimg", "0.040", "--no-progress"]) == 0
    assert "changed since" in capsys.readouterr().err


def test_families_lists_the_registry(capsys):
    assert main(["families"]) == 0
    out = capsys.readouterr().out
    assert "resgan" in out and "dcgan" in out and "[default]" in out


def test_evaluate_folders_and_runs(tiny_run, image_folder, tmp_path, capsys):
    run, data = tiny_run
    args = ["evaluate", "--real", str(image_folder), "--fake", str(image_folder), "--resolution", "16"]
    assert main([*args, "--n", "32", "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["extractor"].startswith(("randconv", "inception")) and same["swd/avg"] >= 0
    # --real defaults to the run's own training data.
    assert main(["evaluate", "--model", str(run), "--n", "32", "--json", "--worst-pairs", str(tmp_path / "p.png")]) == 0
    captured = capsys.readouterr()
    untrained = json.loads(captured.out)
    assert Path(untrained["real"]) == data.resolve() and "run's training data" in captured.err
    # An almost untrained generator is much further from the data than the data's own crops.
    assert untrained["swd/avg"] > 2 * same["swd/avg"]
    assert (tmp_path / "p.png").exists() and 0 <= untrained["copies"] <= 1
