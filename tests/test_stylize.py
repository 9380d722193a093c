"""Style transfer: the stylizer network, tiled inference, training, the CLI."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from artgan.cli import main
from artgan.config import ConfigError, StylizerConfig, stylizer_config_from_dict, to_dict
from artgan.imaging import tensor_to_pil
from artgan.metrics.style import luminance
from artgan.models.stylenet import StyleNet
from artgan.tasks.stylize import Stylizer, tiled_apply
from artgan.training.checkpoint import CheckpointError
from artgan.training.stylizer import apply, content_loss, train_stylizer
from synthetic import brush, photo

# Without the palette: these tests are about the network and the training loop (the
# palette has its own tests in test_palette.py and below).
TINY = StylizerConfig(width=4, res_blocks=1, d_width=8, crop=32, batch=2, minutes=None, steps=2, palette="none")


def test_stylenet_starts_as_identity_and_is_fully_convolutional():
    G = StyleNet(TINY)
    x = photo(40, 52)[None]
    y = G(x, G.make_noise(1, 40, 52, torch.Generator().manual_seed(0)))
    assert y.shape == x.shape and (y - x).abs().max() < 2e-3
    # Odd sizes go through apply()'s reflect padding.
    assert apply(G, photo(37, 45)).shape == (3, 37, 45)
    with pytest.raises(ConfigError, match="multiple of 4"):
        StylizerConfig(crop=30).validate()
    with pytest.raises(ConfigError, match="lr_d"):
        StylizerConfig(lr_d=0.0).validate()
    StylizerConfig(lr_d=None).validate()  # None: D uses lr
    with pytest.raises(ConfigError):
        StylizerConfig(swd_weight=-1.0).validate()
    old = {
        k: v for k, v in to_dict(StylizerConfig()).items() if k not in ("swd_weight", "palette")
    }  # saved before both
    assert stylizer_config_from_dict(old).swd_weight == 0.0 and StylizerConfig().swd_weight > 0
    assert stylizer_config_from_dict(old).palette == "none" and StylizerConfig().palette == "histogram"
    with pytest.raises(ConfigError, match="palette"):
        StylizerConfig(palette="sepia").validate()
    with pytest.raises(ConfigError, match="loss"):
        StylizerConfig(loss="wgan").validate()
    StylizerConfig(loss="hinge").validate()


def test_tiled_inference_matches_one_pass():
    torch.manual_seed(0)
    G = StyleNet(TINY).eval()
    with torch.no_grad():
        for p in G.parameters():  # a non-trivial net, so tiles really differ from identity
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(3, 150, 170) * 2 - 1
    whole = apply(G, x)
    tiled = tiled_apply(G, x, tile=48, overlap=48)
    # The overlap covers most of the net's reach: tiles agree with the one pass closely
    # (the net itself changes the image by ~0.25 on average).
    assert (tiled - whole).abs().mean() < 0.01 and (whole - x).abs().mean() > 0.2
    # ...and less overlap leaves more of the tile edges showing.
    assert (tiled_apply(G, x, tile=48, overlap=16) - whole).abs().mean() > (tiled - whole).abs().mean()
    assert tiled.shape == x.shape


def test_a_channels_last_stylizer_paints_the_same_pixels():
    torch.manual_seed(0)
    G = StyleNet(TINY).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(3, 36, 44) * 2 - 1
    with torch.no_grad():  # plain memory layout, weights and input
        ref = G(x[None], G.make_noise(1, 36, 44, torch.Generator().manual_seed(0)))[0]
    st = Stylizer(copy.deepcopy(G))
    assert st.net.head[1].weight.is_contiguous(memory_format=torch.channels_last)
    out = st(x, output="tensor")
    assert (ref - x).abs().mean() > 0.05 and (out - ref).abs().max() < 1e-5


def test_content_loss_ignores_colour_but_sees_structure():
    x = photo(64, 80)[None]
    recolour = x.flip(1)  # other colours, same layout... mostly
    moved = x.roll(12, dims=-1)
    assert content_loss(x, x, 2.0) == 0
    assert content_loss(moved, x, 2.0) > content_loss(x * 0.9, x, 2.0)
    assert torch.isfinite(content_loss(recolour, x, 2.0))
    # tone: a global change of brightness (and contrast) can be made free; a move never is.
    assert content_loss(x + 0.2, x, 2.0) > 0.05
    assert content_loss(x + 0.2, x, 2.0, "brightness") < 1e-4
    retoned = x * 0.5 + 0.2
    assert content_loss(retoned, x, 2.0, "brightness") > 0.02
    assert content_loss(retoned, x, 2.0, "free") < 1e-4
    assert content_loss(moved, x, 2.0, "free") > 0.1 and content_loss(moved, x, 2.0, "brightness") > 0.02


def layout_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of the coarse luminance (16 px cells) of two (3, H, W) images:
    where the light and dark areas are, whatever the brushwork."""
    a, b = (F.avg_pool2d(luminance(t[None]), 16).flatten() for t in (a, b))
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def test_training_moves_photos_towards_the_style(tmp_path: Path):
    style = brush(96, 96)
    contents = [photo(256, 256, s) for s in range(3)]  # measured at 256 px: train at that scale
    # 300 steps (~20 s). Seeds 0 and 1 reached style ratios 0.41 and 0.23, and layout
    # correlations 0.84-0.89; with content_weight 2 the stripes swamp the disc (~0.53).
    # No palette: what is measured here is what the GAN learned.
    cfg = StylizerConfig(
        width=8,
        res_blocks=1,
        d_width=16,
        crop=32,
        batch=4,
        lr=1e-3,
        minutes=None,
        steps=300,
        content_weight=10.0,
        palette="none",
    )
    folder = train_stylizer(style, contents, cfg, tmp_path / "run", name="brush", progress=False)
    q = json.loads((folder / "config.json").read_text())["quality"]
    # Untrained, the net is the identity: style ratio 1 and layout correlation 1.
    assert q["style_distance"] < 0.8 * q["style_distance_input"], q
    st = Stylizer.from_pretrained(tmp_path / "run")
    for c in contents:
        assert layout_correlation(st(c, output="tensor"), c) > 0.75
    img = tensor_to_pil(photo(50, 70))
    assert st(img, strength=0.5).size == (70, 50)
    t0 = st(img, strength=0.0, output="tensor")
    assert (t0 - (photo(50, 70))).abs().max() < 0.01  # strength 0 is the photo
    assert st(img, size=100).size == (100, 71)
    with pytest.raises(ValueError, match="strength"):
        st(img, strength=1.5)
    with pytest.raises(ValueError, match="already holds"):
        train_stylizer(style, contents, cfg, tmp_path / "run", progress=False)


def test_wrong_model_folder(tmp_path: Path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format_version": 1, "task": "texture"}))
    (tmp_path / "m" / "G_ema.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a stylizer"):
        Stylizer.from_pretrained(tmp_path / "m")


def test_cli_stylize_names_outputs_after_content(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("ARTGAN_CACHE", str(tmp_path / "cache"))
    style = tmp_path / "painting.png"
    tensor_to_pil(brush(96, 96)).save(style)
    ph = tmp_path / "holiday.jpg"
    tensor_to_pil(photo(60, 90)).save(ph)
    args = [
        "stylize",
        str(ph),
        "--style",
        str(style),
        "--out",
        str(tmp_path / "o"),
        "--steps",
        "2",
        "--size",
        "64",
        "--strength",
        "0.7",
        "--preserve-color",
        "--no-progress",
    ]
    assert main(args) == 0
    out = tmp_path / "o" / "holiday.png"
    assert Image.open(out).size == (64, 43)
    capsys.readouterr()
    assert main(args) == 0
    assert "reusing the stylizer" in capsys.readouterr().err
    assert (
        main(
            [
                "train-stylizer",
                "--style",
                str(style),
                "--out",
                str(tmp_path / "run"),
                "--steps",
                "2",
                "--target-ssim",
                "0.7",
                "--style-weight",
                "3",
                "--palette",
                "linear",
                "--no-progress",
            ]
        )
        == 0
    )
    saved = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert saved["stylizer"]["target_ssim"] == 0.7 and "content_scale" in saved["quality"]
    assert saved["stylizer"]["swd_weight"] == 3.0 and saved["stylizer"]["palette"] == "linear"
    assert main(["stylize", str(ph), "--model", str(tmp_path / "run"), "--out", str(tmp_path / "o2")]) == 0
    assert (tmp_path / "o2" / "holiday.png").is_file()
    assert main(["stylize", str(ph), "--out", str(tmp_path / "o3")]) == 2
    assert "--style" in capsys.readouterr().err


def test_cli_train_translator_on_folders(tmp_path: Path, capsys):
    photos, paintings = tmp_path / "photos", tmp_path / "paintings"
    photos.mkdir()
    paintings.mkdir()
    for i in range(2):
        tensor_to_pil(photo(60, 72, i)).save(photos / f"p{i}.png")
        tensor_to_pil(brush(64, 80, i)).save(paintings / f"a{i}.png")
    (paintings / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    run = tmp_path / "run"
    assert (
        main(["train-translator", str(photos), str(paintings), "--out", str(run), "--steps", "2", "--no-progress"]) == 0
    )
    err = capsys.readouterr().err
    assert "broken.png" in err  # the reject is named, the run goes on
    cfg = json.loads((run / "model" / "config.json").read_text())
    assert cfg["style"]["images"] == 2 and cfg["stylizer"]["content"] == "luma+nce"
    assert main(["stylize", str(photos / "p0.png"), "--model", str(run), "--out", str(tmp_path / "o")]) == 0
    assert Image.open(tmp_path / "o" / "p0.png").size == (72, 60)
    assert (
        main(
            [
                "train-translator",
                str(photos),
                str(tmp_path / "nothing"),
                "--out",
                str(tmp_path / "r2"),
                "--steps",
                "2",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "nothing" in capsys.readouterr().err


def test_collapse_warning_names_what_broke():
    from artgan.training.stylizer import collapse_warning

    healthy = {"style_distance": 300.0, "style_distance_input": 520.0, "content_ssim": 0.77, "edge_f1": 0.88}
    assert collapse_warning(healthy) is None
    # Figures of the Kandinsky run that collapsed to a white image (lr 5e-4, 5 min).
    white = {"style_distance": 1024.2, "style_distance_input": 557.1, "content_ssim": 0.36, "edge_f1": 0.0}
    msg = collapse_warning(white)
    assert msg is not None and "further from the style" in msg and "edge F1 0.00" in msg and "preview.png" in msg
    assert "edge F1" in collapse_warning({**healthy, "edge_f1": 0.1})
    assert "further" not in collapse_warning({**healthy, "edge_f1": 0.1})
    # The Bruegel run that turned into saturated blobs kept some edges but no structure.
    assert "content SSIM 0.15" in collapse_warning({**healthy, "content_ssim": 0.146, "edge_f1": 0.284})
    # The white Kandinsky model kept after the rollback: faint edges and SSIM pass, contrast does not.
    assert "nearly flat" in collapse_warning({**healthy, "content_ssim": 0.36, "edge_f1": 0.33, "contrast": 0.0})
    assert collapse_warning({**healthy, "contrast": 0.8}) is None


def test_a_collapsed_stylizer_goes_back_to_its_last_healthy_state(tmp_path, monkeypatch):
    """When the end-of-training figures look collapsed, the saved G_ema is the last one that
    passed the health check (here: step 2 of 5), and config.json says so."""
    from safetensors.torch import load_file

    import artgan.training.stylizer as st

    contents = [photo(64, 64, seed=s) for s in range(2)]
    cfg = replace(TINY, steps=5)
    monkeypatch.setattr(st, "HEALTH_SECONDS", 0.0)  # check after every step
    checked = []
    monkeypatch.setattr(st, "is_healthy", lambda h: checked.append(h) or len(checked) <= 2)
    calls = []  # the first (end-of-training) measure looks collapsed, the one after the rollback not
    real_problems = st.collapse_problems
    monkeypatch.setattr(
        st, "collapse_problems", lambda q: calls.append(q) or (["made up"] if len(calls) == 1 else real_problems(q))
    )
    folder = train_stylizer(brush(64, 64), contents, cfg, tmp_path / "long", progress=False)
    assert len(checked) == 5 and all(0 <= h["edge_f1"] <= 1 and h["contrast"] > 0 for h in checked)
    quality = json.loads((folder / "config.json").read_text())["quality"]
    assert quality["rolled_back"] == {"from_step": 5, "to_step": 2} and "warning" not in quality
    # Training is deterministic and the checks draw no training randomness: the EMA of a
    # 2-step run is exactly the state that was kept.
    monkeypatch.setattr(st, "collapse_problems", real_problems)
    short = train_stylizer(brush(64, 64), contents, replace(TINY, steps=2), tmp_path / "short", progress=False)
    kept, ref = load_file(folder / "G_ema.safetensors"), load_file(short / "G_ema.safetensors")
    assert kept.keys() == ref.keys() and all(torch.equal(kept[k], ref[k]) for k in kept)
    live = load_file(folder / "G.safetensors")  # the training state itself is not rolled back
    assert any(not torch.equal(live[k], kept[k]) for k in kept if k in live)


def test_a_saved_collapse_warning_is_repeated_when_the_model_is_used(tmp_path, capsys):
    """The warning lives in config.json's quality, so `stylize --model` repeats it."""
    folder = train_stylizer(brush(48, 48), [photo(48, 48)], TINY, tmp_path / "run", progress=False)
    cfg_file = folder / "config.json"
    raw = json.loads(cfg_file.read_text())
    assert Stylizer.from_pretrained(folder).warning is None  # two steps of a tiny net: still near identity, not flagged
    raw["quality"]["warning"] = "training may have collapsed: made up for the test"
    cfg_file.write_text(json.dumps(raw))
    assert Stylizer.from_pretrained(tmp_path / "run").warning.endswith("made up for the test")
    tensor_to_pil(photo(40, 40)).save(tmp_path / "p.png")
    capsys.readouterr()
    assert (
        main(["stylize", str(tmp_path / "p.png"), "--model", str(tmp_path / "run"), "--out", str(tmp_path / "o")]) == 0
    )
    assert "made up for the test" in capsys.readouterr().err and (tmp_path / "o" / "p.png").is_file()


def test_steer_content_scale_moves_towards_the_target_within_bounds():
    from artgan.training.stylizer import CONTENT_SCALE_RANGE, steer_content_scale

    assert steer_content_scale(1.0, 0.85, 0.65) < 1.0 < steer_content_scale(1.0, 0.45, 0.65)
    assert steer_content_scale(1.0, 0.65, 0.65) == 1.0
    assert steer_content_scale(0.3, 1.0, 0.1) == CONTENT_SCALE_RANGE[0]
    assert steer_content_scale(3.9, 0.0, 0.9) == CONTENT_SCALE_RANGE[1]


@pytest.mark.parametrize("ssim, rises", [(0.6, True), (0.7, False)])
def test_target_ssim_steers_the_content_weight_and_records_it(tmp_path, monkeypatch, ssim, rises):
    """With target_ssim, every health check moves the content scale towards the target
    (up when G_ema keeps less structure than asked, down when more); the scale is logged
    in stats.jsonl, saved with the quality figures and survives a resume."""
    import artgan.training.stylizer as st
    import artgan.training.ticker as ticker

    monkeypatch.setattr(st, "HEALTH_SECONDS", 0.0)  # check after every step
    monkeypatch.setattr(ticker, "LOG_SECONDS", 0.0)  # a stats row after every step
    # What the check measures is forced, so the direction is known (a tiny G is near identity).
    monkeypatch.setattr(st, "health", lambda G, c: {"content_ssim": ssim, "edge_f1": 0.8, "contrast": 1.0})
    contents = [photo(48, 48, seed=s) for s in range(2)]
    cfg = replace(TINY, steps=8, target_ssim=0.65)
    folder = train_stylizer(brush(48, 48), contents, cfg, tmp_path / "run", progress=False)
    scale = json.loads((folder / "config.json").read_text())["quality"]["content_scale"]
    assert (scale > 1.0) if rises else (scale < 1.0)
    logged = [json.loads(line)["content_scale"] for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert len(logged) == 8 and logged[0] == 1.0 and logged[-1] != 1.0  # steering waits for a quarter of the budget
    more = train_stylizer(None, contents, replace(cfg, steps=9), tmp_path / "run", resume=True, progress=False)
    again = json.loads((more / "config.json").read_text())["quality"]["content_scale"]
    assert (again > scale) if rises else (again < scale)  # it went on from the saved scale, not from 1
