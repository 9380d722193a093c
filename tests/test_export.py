"""ONNX export: onnxruntime gives PyTorch's pixels (within 1e-4, fp32) for every exportable
model, at other batch sizes and image sizes than the export's; the CLI's errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from artgan.cli import main  # noqa: E402
from artgan.config import ModelConfig, StylizerConfig, TextureConfig, TrainConfig  # noqa: E402
from artgan.export import (  # noqa: E402
    OnnxGenerator,
    OnnxStylizer,
    export_generator,
    export_model,
    export_stylizer,
    export_texture,
    generator_feeds,
    model_kind,
    palette_graph,
    parity,
    run_onnx,
)
from artgan.imaging import load_image, pil_to_tensor, tensor_to_pil  # noqa: E402
from artgan.models import build_generator  # noqa: E402
from artgan.models.palette import Palette  # noqa: E402
from artgan.tasks.generate import Generator  # noqa: E402
from artgan.tasks.stylize import Stylizer  # noqa: E402
from artgan.training.checkpoint import save_model_folder  # noqa: E402
from artgan.training.loop import train  # noqa: E402
from artgan.training.stylizer import train_stylizer  # noqa: E402
from artgan.training.texture import train_texture  # noqa: E402
from conftest import SHARED  # noqa: E402
from synthetic import brush, photo  # noqa: E402

TOL = 1e-4
GEN = ModelConfig(family="resgan", resolution=32, width=8, max_width=32, z_dim=16)  # 32 px: has an SLE
STY = StylizerConfig(width=4, res_blocks=2, d_width=8, crop=32, batch=2, minutes=None, steps=2)  # histogram palette
TEX = TextureConfig(width=8, max_width=32, levels=2, z_ch=8, d_width=8, batch=2, crops=2, minutes=None, steps=2)


def jiggle(weights: Path, scale: float = 0.05) -> None:
    """Perturb a saved net's weights so every path matters (resgan's noise strengths start
    at 0, a stylizer's last conv at 0); BN variances are scaled, palette statistics kept."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for k, v in load_file(str(weights)).items():
        if v.is_floating_point() and "palette" not in k:
            noise = torch.rand(v.shape, generator=g) if "running_var" in k else torch.randn(v.shape, generator=g)
            v = v * (1 + 0.5 * noise) if "running_var" in k else v + scale * noise
        out[k] = v.contiguous()
    save_file(out, str(weights), metadata={"format": "pt"})


def smooth_photos(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.interpolate(torch.randn(b, 3, h // 6, w // 6, generator=g), size=(h, w), mode="bilinear")
    mix = torch.tensor([[1.0, 0.4, 0.0], [0.3, 1.0, 0.3], [0.0, -0.4, 1.0]])
    return (0.3 * torch.einsum("ij,bjhw->bihw", mix, x) + 0.02 * torch.randn(b, 3, h, w, generator=g)).clamp(-1, 1)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny saved models of every exportable kind, with non-trivial weights."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for family in ("resgan", "dcgan"):
        cfg = replace(GEN, family=family)
        torch.manual_seed(0)
        out[family] = save_model_folder(
            root / family, nimg=0, config=TrainConfig(model=cfg, data="x"), G_ema=build_generator(cfg)
        )
        jiggle(out[family] / "G_ema.safetensors")
    folder = train_stylizer(brush(48, 48), [photo(48, 48)], STY, root / "stylizer", name="brush", progress=False)
    jiggle(folder / "G_ema.safetensors")
    out["stylizer"] = folder.parent
    folder = train_texture(brush(48, 48, stripe=4), TEX, root / "texture", name="stripes", progress=False)
    jiggle(folder / "G_ema.safetensors", 0.02)
    out["texture"] = folder.parent
    return out


@pytest.fixture(scope="module")
def stylizer_onnx(models, tmp_path_factory) -> Path:
    return export_stylizer(models["stylizer"], tmp_path_factory.mktemp("onnx") / "s.onnx")


# -------------------------------------------------------------------- the palette graph


def test_palette_graph_is_the_palette(tmp_path: Path):
    """The palette in ONNX-able ops (Jacobi eigen-decompositions, binary search for the
    quantile map) against Palette, on photos of several sizes, one with a flat white area
    (many tied quantile knots)."""
    style = brush(64, 64)
    flat = smooth_photos(1, 40, 52, seed=3)
    flat[:, :, :, :30] = 1.0  # 58% white pixels: tied knots in every color axis
    for mode in ("linear", "histogram"):
        pal = Palette(mode).fit([style])
        for x in (smooth_photos(3, 40, 52), smooth_photos(1, 31, 17, seed=1), flat):
            assert (palette_graph(pal, x) - pal(x)).abs().max() < TOL


def test_palette_graph_matches_float64_on_real_photos():
    """Both engines do the 3x3 algebra in float64 and measure each segment of the quantile
    map from its start, so where the map is well-conditioned both stay within 1e-5 of a
    float64 run of Palette. Where two nearly equal colors cover much of a photo
    (HappyFish's background) quantile knots fall one ulp apart, and whether they count as
    one tied knot flips with the last bit of the photo's mean: there both engines differ
    from float64 (and from each other) by up to ~0.06, and nothing is asserted."""
    photos = sorted((SHARED / "photos").glob("*.jpg"))[:4]
    art = sorted((SHARED / "art").glob("*.png"))
    if not photos or not art:
        pytest.skip(f"shared test data not found at {SHARED}")
    style = pil_to_tensor(load_image(art[1]))
    pal, pal64 = Palette("histogram").fit([style]), Palette("histogram").fit([style]).double()
    checked = 0
    for p in photos:
        x = torch.nn.functional.interpolate(pil_to_tensor(load_image(p))[None], size=(120, 150), mode="area")
        exact = pal64(x.double())
        graph_err = float((palette_graph(pal, x).double() - exact).abs().max())
        torch_err = float((pal(x).double() - exact).abs().max())
        if torch_err < 1e-5:  # well-conditioned
            assert graph_err < 1e-5, (p.name, graph_err, torch_err)
            checked += 1
    assert checked >= 3


# -------------------------------------------------------------------- parity


@pytest.mark.parametrize("family", ["resgan", "dcgan"])
def test_generator_parity_any_batch(models, tmp_path: Path, family: str):
    path = export_generator(models[family], tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(path))
    names = [i.name for i in sess.get_inputs()]
    assert names == (["z", "noise_8", "noise_16", "noise_32"] if family == "resgan" else ["z"])
    # Exported with a batch of 2; image i of the file is `generate --seed i`'s.
    for batch in (1, 2, 5):
        assert parity(models[family], path, batch=batch, seed=7) < TOL
    if family == "resgan":  # the noise is a real input: other noise, other fine detail
        g = Generator.from_pretrained(models[family])
        feeds = generator_feeds(g, [0, 1])
        a = run_onnx(sess, feeds)
        feeds["noise_32"] = np.random.default_rng(0).standard_normal(feeds["noise_32"].shape).astype(np.float32)
        assert np.abs(run_onnx(sess, feeds) - a).max() > 1e-3


def test_onnx_generator_is_called_like_the_task(models, tmp_path: Path):
    path = export_generator(models["resgan"], tmp_path / "g.onnx")
    g, og = Generator.from_pretrained(models["resgan"]), OnnxGenerator(path, threads=1, batch_size=3)
    assert (og.z_dim, og.noise_sizes, og.resolution) == (16, [8, 16, 32], 32)
    # Its own noise draw (no model folder) gives generate's images, across its batches of 3.
    a, b = g(n=7, seed=5, truncation=0.7, output="tensor"), og(n=7, seed=5, truncation=0.7, output="tensor")
    assert a.shape == b.shape == (7, 3, 32, 32) and (a - b).abs().max() < TOL
    assert len(og(n=2)) == 2 and isinstance(og(n=1)[0], Image.Image)
    with pytest.raises(ValueError, match="truncation"):
        og(n=1, truncation=0.0)


def test_stylizer_parity_any_batch_and_size(models, stylizer_onnx: Path):
    path = stylizer_onnx
    sess = ort.InferenceSession(str(path))
    assert [i.name for i in sess.get_inputs()] == ["photo", "noise"]
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["artgan_kind"] == "stylize" and meta["artgan_palette"] == "histogram"
    # Exported on 2 photos of 42x54; sizes not multiples of 4 go through the reflect padding.
    for batch, size in ((2, (48, 60)), (1, (33, 70)), (3, (64, 64))):
        assert parity(models["stylizer"], path, batch=batch, size=size) < TOL
    # ... and other content, through the task's whole call. (Not synthetic.photo's flat
    # regions: near-tied quantile knots make both engines ill-conditioned there, see the test above.)
    assert parity(models["stylizer"], path, photos=smooth_photos(2, 56, 44, seed=5), seed=3) < TOL


def test_stylizer_with_linear_palette(models, tmp_path: Path):
    run = tmp_path / "linear"
    (run / "model").mkdir(parents=True)
    for f in (models["stylizer"] / "model").iterdir():
        (run / "model" / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((run / "model" / "config.json").read_text())
    cfg["stylizer"]["palette"] = "linear"
    (run / "model" / "config.json").write_text(json.dumps(cfg))
    kind, path = export_model(run, tmp_path / "lin.onnx")
    assert kind == "stylize"
    assert parity(run, path, batch=2, size=(36, 50)) < TOL


def test_texture_parity_any_batch_and_size(models, tmp_path: Path):
    path = export_texture(models["texture"], tmp_path / "t.onnx")
    sess = ort.InferenceSession(str(path))
    assert [i.name for i in sess.get_inputs()] == ["grid", "noise1a", "noise1b", "noise2a", "noise2b"]
    # Exported at 12x16 px (cell 4); other sizes and batches, output i = `texture --tileable --seed i`.
    for batch, size in ((2, (20, 28)), (1, (32, 12)), (3, (16, 16))):
        assert parity(models["texture"], path, batch=batch, size=size, seed=3) < TOL


def test_onnx_stylizer_is_called_like_the_task(models, stylizer_onnx: Path):
    st, ost = Stylizer.from_pretrained(models["stylizer"]), OnnxStylizer(stylizer_onnx, threads=1)
    img = tensor_to_pil(smooth_photos(1, 50, 66, seed=1)[0])
    for kw in ({}, {"strength": 0.6, "preserve_color": True, "seed": 4}, {"size": 40}):
        a, b = st(img, output="tensor", **kw), ost(img, output="tensor", **kw)
        assert a.shape == b.shape and (a - b).abs().max() < TOL
    assert isinstance(ost(img), Image.Image)
    with pytest.raises(ValueError, match="strength"):
        ost(img, strength=2.0)


# -------------------------------------------------------------------- the command


def test_cli_export_a_training_run(image_folder: Path, tmp_path: Path, capsys):
    cfg = TrainConfig(
        model=replace(GEN, resolution=16), data=str(image_folder), batch=8, kimg=0.016, grid=2, metric_kimg=0
    )
    run = train(cfg, tmp_path / "runs", progress=False)
    out = tmp_path / "exports" / "art.onnx"  # the folder is made
    assert main(["export", "--model", str(run), "--out", str(out)]) == 0
    std = capsys.readouterr()
    assert std.out.strip() == str(out) and "max abs difference" in std.err
    assert model_kind(run)[0] == "generate"
    meta = ort.InferenceSession(str(out)).get_modelmeta().custom_metadata_map
    assert meta["artgan_kind"] == "generate" and "z (B, 16)" in meta["artgan_inputs"]
    assert parity(run, out, batch=3) < TOL
    before = out.read_bytes()
    # An existing --out is kept unless --overwrite.
    assert main(["export", "--model", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and out.read_bytes() == before
    assert main(["export", "--model", str(run), "--out", str(out), "--overwrite", "--no-check"]) == 0


def test_cli_export_errors_are_one_line(models, tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    wrong_task = tmp_path / "wrong" / "model"
    wrong_task.mkdir(parents=True)
    (wrong_task / "config.json").write_text(json.dumps({"format_version": 1, "task": "texture", "texture": {}}))
    (wrong_task / "G_ema.safetensors").write_bytes(b"")
    good = str(models["texture"])
    cases = [
        (["--model", str(tmp_path / "nope"), "--out", str(tmp_path / "a.onnx")], "no such folder"),
        (["--model", str(tmp_path / "empty"), "--out", str(tmp_path / "a.onnx")], "not an artgan model"),
        (["--model", str(tmp_path / "wrong"), "--out", str(tmp_path / "a.onnx")], "cannot read weights"),
        (["--model", good, "--out", str(tmp_path / "a.png")], "ending in .onnx"),
        (["--model", good, "--out", str(tmp_path / "empty")], "is a folder"),
        (["--model", good, "--out", str(tmp_path / "afile" / "a.onnx")], "is a file"),
        (["--model", good, "--out", str(tmp_path / "afile")], "ending in .onnx"),
        (["--out", str(tmp_path / "a.onnx")], "--model RUN is required"),
        (["--model", good], "--out FILE.onnx is required"),
    ]
    for args, msg in cases:
        assert main(["export", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and msg in err, (args, err)
    assert not (tmp_path / "a.onnx").exists() and not (tmp_path / "a.png").exists()
