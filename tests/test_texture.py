"""Seamless textures: the generator's torus, training that learns, the model folder, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from artgan.cli import main
from artgan.config import ConfigError, TextureConfig
from artgan.data.crops import random_crops, wrapped_crops
from artgan.metrics import seam_error
from artgan.metrics.texture import halves_swd, texture_swd
from artgan.models.texgan import MultiScaleDiscriminator, TextureGenerator, num_scales, wrap_resize
from artgan.tasks.texture import TextureSynth
from artgan.training.checkpoint import CheckpointError
from artgan.training.texture import (
    TextureError,
    choose_patch,
    exemplar_key,
    load_exemplar,
    measure,
    parse_region,
    train_texture,
)

TINY = TextureConfig(width=8, max_width=32, levels=2, z_ch=8, d_width=8, batch=2, crops=2, minutes=None, steps=2)


def stripes(h: int = 48, w: int = 48, period: int = 8, seed: int = 0) -> torch.Tensor:
    """A two-color stripe texture with a little noise: (3, h, w) in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(w)
    band = ((x // (period // 2)) % 2).float()  # 0/1 columns
    red, blue = torch.tensor([0.8, -0.6, -0.6]), torch.tensor([-0.6, -0.4, 0.8])
    img = red[:, None, None] * band[None, None, :] + blue[:, None, None] * (1 - band)[None, None, :]
    return (img.expand(3, h, w) + 0.05 * torch.randn(3, h, w, generator=g)).clamp(-1, 1)


def test_generator_is_a_torus_any_size():
    G = TextureGenerator(TINY).eval()
    g = torch.Generator().manual_seed(0)
    noise = G.sample_noise(2, (16, 24), g)
    y = G(noise)
    assert y.shape == (2, 3, 16, 24) and y.abs().max() <= 1
    # Rolling every noise input by one coarse cell rolls the image by one cell exactly:
    # the output lives on a torus, so its left and right (top and bottom) edges continue each other.
    c = G.cell
    rolled = [n.roll(shifts=(n.shape[-2] * c // 16, n.shape[-1] * c // 24), dims=(-2, -1)) for n in noise]
    assert torch.allclose(G(rolled), y.roll(shifts=(c, c), dims=(-2, -1)), atol=1e-5)
    with pytest.raises(ValueError, match="multiple of 4"):
        G.sample_noise(1, (10, 16), g)


def test_render_is_seeded_and_tileable_output_has_no_seam():
    torch.manual_seed(0)
    G = TextureGenerator(TINY).eval()
    a = G.render((40, 52), seed=3, tileable=True)
    assert torch.equal(a, G.render((40, 52), seed=3, tileable=True))
    assert not torch.equal(a, G.render((40, 52), seed=4, tileable=True))
    assert a.shape == (3, 40, 52)
    assert G.render((37, 45), seed=3, tileable=True).shape == (3, 37, 45)
    # Exact torus: the wrap-around step is like an interior one; a plain window's is not
    # (its opposite edges are a receptive field apart, so independent).
    tiles = torch.stack([G.render((40, 52), seed=s, tileable=True) for s in range(8)])
    plain = torch.stack([G.render((40, 52), seed=s, tileable=False) for s in range(8)])
    assert float(seam_error(tiles).mean()) < 1.2
    assert float(seam_error(plain).mean()) > 1.3 * float(seam_error(tiles).mean())


def test_wrap_resize_keeps_a_torus_seamless():
    # A smooth periodic image resized to sizes that are not its own stays seamless; a
    # non-periodic ramp does not (the metric can tell them apart).
    y, x = torch.meshgrid(torch.arange(40.0), torch.arange(48.0), indexing="ij")
    torus = torch.stack(
        [
            torch.sin(2 * torch.pi * x / 48),
            torch.cos(2 * torch.pi * y / 40),
            torch.sin(2 * torch.pi * (x / 48 + y / 40)),
        ]
    )
    for size in ((37, 45), (40, 48), (23, 61)):
        assert float(seam_error(wrap_resize(torus, size)[None])[0]) < 1.2
    ramp = (x / 48).expand(3, 40, 48)
    assert float(seam_error(wrap_resize(ramp, (37, 45))[None])[0]) > 5


def test_multiscale_discriminator_scales():
    assert [num_scales(p) for p in (16, 32, 48, 64, 96)] == [1, 2, 2, 3, 3]
    D = MultiScaleDiscriminator(TINY.d_width, 32)
    maps = D(torch.randn(3, 3, 32, 32))
    assert len(maps) == 2 and all(m.shape[0] == 3 for m in maps)


def test_wrapped_crops_wrap_around():
    img = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    crops = wrapped_crops(img, 5, 4, torch.Generator().manual_seed(0))
    assert crops.shape == (10, 1, 4, 4)
    tiled = img.repeat(1, 1, 2, 2)
    for i, c in enumerate(crops):  # each crop is a window of the 2x2-tiled image
        found = any(torch.equal(c, tiled[i // 5, :, y : y + 4, x : x + 4]) for y in range(6) for x in range(6))
        assert found
    with pytest.raises(ValueError, match="does not fit"):
        random_crops(img[0], 1, 7, torch.Generator())


def test_texture_swd_tells_same_texture_from_another():
    a, b = stripes(64, 96, seed=1), stripes(64, 96, seed=2)
    other = stripes(64, 96, period=16, seed=3).flip(0)  # other colors, wider stripes
    same = texture_swd(a[None], b, patch=32)["swd/avg"]
    diff = texture_swd(other[None], b, patch=32)["swd/avg"]
    assert same < 0.3 * diff
    assert halves_swd(a, patch=32)["swd/avg"] < 0.3 * diff


def test_patch_choice_and_bad_exemplars(tmp_path: Path):
    assert choose_patch(48, 48) == 32 and choose_patch(50, 64) == 32
    assert choose_patch(128, 128) == 64 and choose_patch(1000, 800) == 96
    small = tmp_path / "small.png"
    Image.new("RGB", (20, 60), (10, 200, 30)).save(small)
    with pytest.raises(TextureError, match="small.png.*20x60.*at least 48"):
        load_exemplar(small)
    big = tmp_path / "big.png"
    Image.new("RGB", (100, 80), (10, 200, 30)).save(big)
    with pytest.raises(TextureError, match="does not fit the 100x80"):
        load_exemplar(big, (50, 0, 60, 40))
    assert load_exemplar(big, (10, 5, 60, 50)).shape == (3, 50, 60)
    with pytest.raises(TextureError, match="x,y,w,h"):
        parse_region("1,2,3")
    with pytest.raises(ConfigError, match="multiple of 8"):
        TextureConfig(patch=20).validate()


def test_training_learns_the_exemplar(tmp_path: Path):
    ex = stripes(48, 48)
    cfg = TextureConfig(
        width=8, max_width=32, levels=2, z_ch=8, d_width=16, minutes=None, steps=200, lr=1e-3, batch=4, crops=2, seed=0
    )
    torch.manual_seed(0)
    untrained = TextureGenerator(replace_patch(cfg, 32)).eval()
    before = measure(untrained, ex, cfg)
    color_before = (untrained.render((64, 64), 0).mean((1, 2)) - ex.mean((1, 2))).abs().max()
    folder = train_texture(ex, cfg, tmp_path / "run", name="stripes", progress=False)
    after = json.loads((folder / "config.json").read_text())["quality"]
    # The patch statistics move well towards the exemplar's (about halved in 150 steps).
    assert after["swd"] < 0.6 * before["swd"], (before, after)
    # ... and so do the colors: towards the stripes' mean color and contrast, away from grey.
    synth = TextureSynth.from_pretrained(folder)
    out = synth(size=(64, 64), seed=0, output="tensor")
    assert (out.mean((1, 2)) - ex.mean((1, 2))).abs().max() < 0.5 * color_before
    assert out.std() > 0.5 * ex.std()
    assert after["seam_error"] < 1.2
    assert (tmp_path / "run" / "preview.png").is_file()
    rows = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert all("loss/D" in r for r in rows)


def replace_patch(cfg: TextureConfig, patch: int) -> TextureConfig:
    from dataclasses import replace

    return replace(cfg, patch=patch)


def test_model_folder_resume_and_api(tmp_path: Path):
    ex = ((stripes(48, 56) + 1) * 127.5).round() / 127.5 - 1  # 8-bit, like any image file (and exemplar.png)
    folder = train_texture(ex, TINY, tmp_path / "run", name="s", progress=False)
    raw = json.loads((folder / "config.json").read_text())
    assert raw["task"] == "texture" and raw["step"] == 2 and raw["complete"] is True
    assert raw["texture"]["patch"] == choose_patch(48, 56)
    from dataclasses import replace

    train_texture(None, replace(TINY, steps=5), tmp_path / "run", resume=True, progress=False)
    raw = json.loads((folder / "config.json").read_text())
    assert raw["step"] == 5 and raw["exemplar"]["name"] == "s"
    # 2 steps + 3 resumed steps give exactly the weights of 5 steps in one go.
    straight = train_texture(ex, replace(TINY, steps=5), tmp_path / "straight", name="s", progress=False)
    from safetensors.torch import load_file

    a, b = load_file(str(folder / "G_ema.safetensors")), load_file(str(straight / "G_ema.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(TextureError, match="already holds"):
        train_texture(ex, TINY, tmp_path / "run", progress=False)
    # Handed to the image generator, a texture model is named for what it is.
    from artgan.tasks.generate import Generator

    with pytest.raises(CheckpointError, match="a texture model, not an image generator"):
        Generator.from_pretrained(folder)
    synth = TextureSynth.from_pretrained(tmp_path / "run")
    img = synth(size=(30, 50), seed=1)
    assert img.size == (50, 30)
    t = synth(size=(32, 32), seed=1, tileable=True, output="tensor")
    assert torch.equal(t, synth(size=(32, 32), seed=1, tileable=True, output="tensor"))
    with pytest.raises(ValueError, match="between 8 and"):
        synth(size=(4, 4))


def test_wrong_model_folder_is_named(tmp_path: Path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format_version": 1, "model": {}}))
    (tmp_path / "m" / "G_ema.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a texture model"):
        TextureSynth.from_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match="no texture model"):
        TextureSynth.from_pretrained(tmp_path)


def test_cache_key_depends_on_pixels_and_settings():
    a, b = stripes(seed=1), stripes(seed=2)
    assert exemplar_key(a, TINY) == exemplar_key(a.clone(), TINY)
    assert exemplar_key(a, TINY) != exemplar_key(b, TINY)
    assert exemplar_key(a, TINY) != exemplar_key(a, replace_patch(TINY, 32))


def test_cli_texture_trains_caches_and_writes(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("ARTGAN_CACHE", str(tmp_path / "cache"))
    ex = tmp_path / "swatch.png"
    arr = ((stripes(48, 48) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(ex)
    args = [
        "texture",
        str(ex),
        "--steps",
        "2",
        "--size",
        "40x24",
        "--n",
        "2",
        "--tileable",
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    ]
    assert main(args) == 0
    outs = sorted((tmp_path / "o").glob("swatch-seed*.png"))
    assert [p.name for p in outs] == ["swatch-seed0.png", "swatch-seed1.png"]
    assert Image.open(outs[0]).size == (40, 24)
    assert (tmp_path / "o" / "sheet.png").is_file()
    capsys.readouterr()
    assert main(args) == 0  # second time: the cached model, no training
    assert "reusing the texture model" in capsys.readouterr().err
    # A region of a larger picture, and the training step on its own.
    big = tmp_path / "painting.png"
    Image.fromarray(arr).resize((120, 90)).save(big)
    assert (
        main(
            [
                "train-texture",
                "--from",
                str(big),
                "--region",
                "10,10,64,48",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "texture",
                "--model",
                str(tmp_path / "run" / "00000-painting-texture"),
                "--size",
                "32",
                "--n",
                "1",
                "--out",
                str(tmp_path / "o2"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "o2" / "painting-seed0.png").is_file()
    assert main(["texture", "--from", str(big), "--out", str(tmp_path / "o3")]) == 2
    assert "--region" in capsys.readouterr().err


def test_model_cache_publishes_whole_runs_and_cleans_up(tmp_path: Path, monkeypatch):
    """tasks.cache.cached_fit: a run appears under its key only once trained; a failed
    training leaves nothing behind; temp folders of a killed process are swept."""
    from types import SimpleNamespace

    from artgan.tasks.cache import cache_folder, cache_root, cached_fit

    monkeypatch.setenv("ARTGAN_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    final = cache_folder("textures", "k1")

    def load(run: Path) -> SimpleNamespace:
        return SimpleNamespace(info=json.loads((run / "config.json").read_text()), folder=run)

    def train(run: Path, complete: bool = True) -> None:
        assert run.parent.name.startswith(".tmp-k1-")  # beside the published folder, never into it
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"complete": complete}))

    def fails(run: Path) -> None:
        run.mkdir()
        (run / "config.json").write_text("{}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_fit("textures", "k1", fails, load, what="the model")
    assert not final.exists() and list(final.parent.iterdir()) == []
    (final.parent / ".tmp-k1-killed").mkdir()  # left by a killed process
    model, reused = cached_fit("textures", "k1", lambda r: train(r, complete=False), load, what="the model")
    assert not reused and model.folder == final and model.info == {"complete": False}
    assert [p.name for p in final.parent.iterdir()] == ["k1"]
    model, reused = cached_fit("textures", "k1", train, load, what="the model")  # incomplete: trained again
    assert not reused and model.info == {"complete": True}
    model, reused = cached_fit("textures", "k1", fails, load, what="the model")
    assert reused and model.info == {"complete": True}
    model, reused = cached_fit("textures", "k1", train, load, what="the model", retrain=True)
    assert not reused and [p.name for p in final.parent.iterdir()] == ["k1"]
