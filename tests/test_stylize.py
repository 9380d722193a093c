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
from artgan.models.stylenet import StyleNet, stylize_image
from artgan.tasks.stylize import Stylizer, tiled_stylize
from artgan.training.checkpoint import CheckpointError
from artgan.training.stylizer import content_loss, train_stylizer
from synthetic import brush, photo

# Without the palette: these tests are about the network and the training loop (the
# palette has its own tests in test_palette.py and below).
TINY = StylizerConfig(width=4, res_blocks=1, d_width=8, crop=32, batch=2, minutes=None, steps=2, palette="none")


def test_stylenet_starts_as_identity_and_is_fully_convolutional():
    G = StyleNet(TINY)
    x = photo(40, 52)[None]
    y = G(x, G.make_noise(1, 40, 52, torch.Generator().manual_seed(0)))
    assert y.shape == x.shape and (y - x).abs().max() < 2e-3
    # Odd sizes go through stylize_image()'s reflect padding.
    assert stylize_image(G, photo(37, 45)).shape == (3, 37, 45)
    with pytest.raises(ConfigError, match="multiple of 4"):
        StylizerConfig(crop=30).validate()
    with pytest.raises(ConfigError, match="lr_d"):
        StylizerConfig(lr_d=0.0).validate()
    StylizerConfig(lr_d=None).validate()  # None: D uses lr
    with pytest.raises(ConfigError):
        StylizerConfig(style_weight=-1.0).validate()
    old = {
        k: v for k, v in to_dict(StylizerConfig()).items() if k not in ("style_weight", "palette")
    }  # saved before both
    assert stylizer_config_from_dict(old).style_weight == 0.0 and StylizerConfig().style_weight > 0
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
    whole = stylize_image(G, x)
    tiled = tiled_stylize(G, x, tile=48, overlap=48)
    # The overlap covers most of the net's reach: tiles agree with the one pass closely
    # (the net itself changes the image by ~0.25 on average).
    assert (tiled - whole).abs().mean() < 0.01 and (whole - x).abs().mean() > 0.2
    # ...and less overlap leaves more of the tile edges showing.
    assert (tiled_stylize(G, x, tile=48, overlap=16) - whole).abs().mean() > (tiled - whole).abs().mean()
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


def test_content_loss_ignores_color_but_sees_structure():
    x = photo(64, 80)[None]
    recolor = x.flip(1)  # other colors, same layout... mostly
    moved = x.roll(12, dims=-1)
    assert content_loss(x, x, 2.0) == 0
    assert content_loss(moved, x, 2.0) > content_loss(x * 0.9, x, 2.0)
    assert torch.isfinite(content_loss(recolor, x, 2.0))
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
        "--long-side",
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
                "--style-weight",
                "3",
                "--palette",
                "linear",
                "--no-progress",
            ]
        )
        == 0
    )
    (run,) = (tmp_path / "run").iterdir()  # a numbered run folder inside --out
    assert run.name == "00000-painting-stylizer" and capsys.readouterr().out.strip() == str(run)
    saved = json.loads((run / "model" / "config.json").read_text())
    assert saved["stylizer"]["style_weight"] == 3.0 and saved["stylizer"]["palette"] == "linear"
    assert main(["stylize", str(ph), "--model", str(run), "--out", str(tmp_path / "o2")]) == 0
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
    assert (
        main(["train-translator", str(photos), str(paintings), "--out", str(tmp_path), "--steps", "2", "--no-progress"])
        == 0
    )
    run = tmp_path / "00000-paintings-translator"
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


def test_a_stylizer_trained_with_the_removed_target_ssim_still_stylizes(tmp_path: Path):
    """``target_ssim`` (removed in 0.2.0) in an old config.json: null is ignored; a value
    still loads for inference, but resuming the training is refused, naming the file."""
    folder = train_stylizer(brush(48, 48), [photo(48, 48)], TINY, tmp_path / "run", progress=False)
    cfg_file = folder / "config.json"
    raw = json.loads(cfg_file.read_text())
    assert "target_ssim" not in raw["stylizer"]
    x = photo(40, 44)
    before = Stylizer.from_pretrained(folder)(x, output="tensor")
    for value in (None, 0.65):
        raw["stylizer"]["target_ssim"] = value
        cfg_file.write_text(json.dumps(raw))
        assert torch.equal(Stylizer.from_pretrained(tmp_path / "run")(x, output="tensor"), before)
    assert stylizer_config_from_dict(raw["stylizer"]) == TINY
    with pytest.raises(ConfigError, match=r"config\.json.*target_ssim.*removed in artgan 0\.2\.0"):
        train_stylizer(None, [photo(48, 48)], replace(TINY, steps=3), tmp_path / "run", resume=True, progress=False)
    raw["stylizer"]["target_ssim"] = None  # "off": the run goes on
    cfg_file.write_text(json.dumps(raw))
    resumed = train_stylizer(
        None, [photo(48, 48)], replace(TINY, steps=3), tmp_path / "run", resume=True, progress=False
    )
    assert json.loads((resumed / "config.json").read_text())["step"] == 3


def test_fit_caches_the_stylizer_and_retrains_on_request(tmp_path: Path, monkeypatch, capsys):
    """Stylizer.fit trains once into the cache (published whole: no temp folder is left),
    reuses the model for the same pixels and settings, and trains afresh with cache=False."""
    import artgan.tasks.stylize as task
    from artgan.tasks.cache import cache_folder

    monkeypatch.setenv("ARTGAN_CACHE", str(tmp_path / "cache"))
    style, ph = tmp_path / "painting.png", tmp_path / "holiday.png"
    tensor_to_pil(brush(64, 64)).save(style)
    tensor_to_pil(photo(48, 48)).save(ph)
    trained = []
    real_train = task.train_stylizer
    monkeypatch.setattr(task, "train_stylizer", lambda *a, **k: trained.append(a[3]) or real_train(*a, **k))
    st = Stylizer.fit(style, [ph], config=TINY, progress=False)
    assert len(trained) == 1 and trained[0].parent.name.startswith(".tmp-")  # trained beside the cache
    assert st.folder is not None and st.folder.parent.parent.name == "stylizers"
    assert [p.name for p in st.folder.parent.parent.iterdir()] == [st.folder.parent.name]  # no temp left
    capsys.readouterr()
    again = Stylizer.fit(style, [ph], config=TINY, progress=False)
    assert len(trained) == 1 and again.folder == st.folder
    assert "reusing the stylizer trained earlier for painting.png" in capsys.readouterr().err
    # An incomplete run under the key (stopped early) is not reused.
    cfg_file = st.folder / "config.json"
    cfg_file.write_text(cfg_file.read_text().replace('"complete": true', '"complete": false'))
    Stylizer.fit(style, [ph], config=TINY, progress=False)
    assert len(trained) == 2 and json.loads(cfg_file.read_text())["complete"] is True
    Stylizer.fit(style, [ph], config=TINY, cache=False, progress=False)  # --retrain
    assert len(trained) == 3 and cache_folder("stylizers", st.folder.parent.name) == st.folder.parent
