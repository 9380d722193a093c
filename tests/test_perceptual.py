"""Perceptual style transfer: VGG-19 features, finding and loading weights, the optimisation,
the CLI. All with randomly initialised VGG weights: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import synthetic
from artgan.cli import main
from artgan.imaging import tensor_to_pil, to_ycbcr
from artgan.models.vgg import VGG19_ENV, VGG19Features, VGGWeightsError, find_vgg19_weights, load_vgg19
from artgan.tasks.perceptual import NeuralStyle, PerceptualLoss, neural_style

CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def photo(h: int = 32, w: int = 40) -> torch.Tensor:
    return synthetic.photo(h, w)


def brush(h: int = 40, w: int = 40, seed: int = 0) -> torch.Tensor:
    return synthetic.brush(h, w, seed, stripe=4)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> tuple[VGG19Features, Path]:
    """A random VGG19Features and its weights saved the way torchvision's file is laid out."""
    torch.manual_seed(0)
    net = VGG19Features().eval()
    state = dict(net.state_dict())
    state["classifier.0.weight"] = torch.zeros(4, 4)  # torchvision files carry the classifier too
    path = tmp_path_factory.mktemp("vgg") / "vgg19-test.pth"
    torch.save(state, path)
    return net, path


@pytest.fixture
def no_weights(tmp_path, monkeypatch) -> Path:
    """No $ARTGAN_VGG19 and an empty torch hub cache."""
    monkeypatch.delenv(VGG19_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


def test_parameter_names_are_torchvisions() -> None:
    net = VGG19Features()
    expected = {f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")}
    assert set(net.state_dict()) == expected  # the normalisation buffers are not saved
    assert net.features[34].weight.shape == (512, 512, 3, 3) and len(net.features) == 37
    assert net.layer_index["relu4_2"] == 22 and net.layer_index["relu5_1"] == 29


def test_activation_shapes_normalisation_and_early_stop(vgg_file) -> None:
    net, _ = vgg_file
    x = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        acts = net(x)
    shapes = {k: tuple(v.shape) for k, v in acts.items()}
    assert shapes == {
        "relu1_1": (2, 64, 32, 40),
        "relu2_1": (2, 128, 16, 20),
        "relu3_1": (2, 256, 8, 10),
        "relu4_1": (2, 512, 4, 5),
        "relu4_2": (2, 512, 4, 5),
        "relu5_1": (2, 512, 2, 2),
    }
    # [-1, 1] -> ImageNet normalisation happens inside.
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    manual = F.relu(net.features[0](((x + 1) / 2 - mean) / std))
    torch.testing.assert_close(acts["relu1_1"], manual)
    # Nothing deeper than the deepest requested layer runs.
    calls = []
    hook = net.features[23].register_forward_hook(lambda *_: calls.append(1))
    try:
        with torch.no_grad():
            assert set(net(x, ("relu1_1", "relu4_2"))) == {"relu1_1", "relu4_2"}
        assert calls == []
    finally:
        hook.remove()
    with pytest.raises(ValueError, match="relu9_9"):
        net(x, ("relu9_9",))


def test_load_from_path_env_and_hub_cache(vgg_file, no_weights, monkeypatch, tmp_path) -> None:
    net, path = vgg_file
    loaded = load_vgg19(path)  # classifier.* is ignored
    for (k, a), b in zip(net.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    monkeypatch.setenv(VGG19_ENV, str(path))
    assert find_vgg19_weights() == path
    assert torch.equal(load_vgg19().features[0].weight, net.features[0].weight)
    monkeypatch.delenv(VGG19_ENV)
    # The hub cache: torchvision's exact name wins, the batch-norm variant is never taken.
    ckpts = no_weights / "checkpoints"
    (ckpts / "vgg19_bn-c79401a0.pth").write_bytes(b"")
    with pytest.raises(VGGWeightsError):
        find_vgg19_weights()
    (ckpts / "vgg19-other.pth").write_bytes(b"")
    (ckpts / "vgg19-dcbb9e9d.pth").write_bytes(b"")
    assert find_vgg19_weights() == ckpts / "vgg19-dcbb9e9d.pth"


def test_missing_weights_say_where_and_how(no_weights, tmp_path) -> None:
    with pytest.raises(VGGWeightsError) as err:
        find_vgg19_weights()
    msg = str(err.value)
    for part in ("--vgg-weights", VGG19_ENV, "vgg19-dcbb9e9d.pth", str(no_weights / "checkpoints")):
        assert part in msg
    missing = tmp_path / "typo.pth"
    with pytest.raises(VGGWeightsError, match="typo.pth"):
        load_vgg19(missing)


def test_wrong_files_are_named(tmp_path) -> None:
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(2, 3, 3, 3), "fc.bias": torch.zeros(2)}, other)
    with pytest.raises(VGGWeightsError, match="resnet.pth: not a VGG-19 state dict.*missing: features.0.weight"):
        load_vgg19(other)
    shaped = tmp_path / "narrow.pth"
    torch.save({"features.0.weight": torch.zeros(32, 3, 3, 3)}, shaped)
    with pytest.raises(VGGWeightsError, match=r"narrow.pth.*features.0.weight is \(32, 3, 3, 3\)"):
        load_vgg19(shaped)
    junk = tmp_path / "notes.pth"
    junk.write_text("not weights")
    with pytest.raises(VGGWeightsError, match="notes.pth: cannot be read"):
        load_vgg19(junk)


def test_neural_style_lowers_its_loss(vgg_file) -> None:
    net, _ = vgg_file
    c, s = photo(), brush()
    y = neural_style(c, s, net, steps=12, progress=False)
    assert y.shape == c.shape and y.min() >= -1 and y.max() <= 1
    assert all(p.grad is None for p in net.parameters())  # only the pixels were differentiated
    loss = PerceptualLoss(net, c, s)
    with torch.no_grad():
        before, after = loss(c), loss(y)
    # It trades some content (0 at the start) for a much closer style: the total drops for real.
    assert before["content"] == 0 and after["content"] > 0
    assert after["style"] < 0.6 * before["style"]  # measured: 0.49x
    assert after["total"] < 0.8 * before["total"]  # measured: 0.67x
    # Adam works too (more steps for the same drop), and --size sets the longer side.
    y2 = neural_style(c, s, net, steps=4, size=32, optimizer="adam", lr=0.05, progress=False)
    assert y2.shape == (3, 26, 32)
    with pytest.raises(ValueError, match="at least 16 px"):
        neural_style(photo(8, 48), s, net, steps=1, progress=False)


def test_neural_style_task_strength_and_color(vgg_file) -> None:
    net, _ = vgg_file
    ns = NeuralStyle(net)
    c, s = photo(), brush()
    same = ns(c, s, 0.0, steps=2, progress=False, output="tensor")
    torch.testing.assert_close(same, c)  # strength 0 is the photo
    kept = ns(tensor_to_pil(c), tensor_to_pil(s), steps=3, preserve_color=True, progress=False, output="tensor")
    assert kept.shape == c.shape
    # The photo's chroma survives wherever the result is not clipped.
    inside = (kept.abs() < 0.99).all(0)
    assert (to_ycbcr(kept)[1:] - to_ycbcr(c)[1:])[:, inside].abs().max() < 0.02
    assert isinstance(ns(c, s, steps=1, progress=False), Image.Image)


def _files(tmp_path: Path) -> tuple[Path, Path]:
    content = tmp_path / "photo.jpg"
    tensor_to_pil(photo()).save(content, quality=95)
    style = tmp_path / "painting.png"
    tensor_to_pil(brush()).save(style)
    return content, style


def test_cli_perceptual_writes_named_outputs(vgg_file, tmp_path, capsys) -> None:
    _, weights = vgg_file
    content, style = _files(tmp_path)
    out = tmp_path / "out"
    code = main(
        [
            "stylize",
            str(content),
            "--style",
            str(style),
            "--perceptual",
            "vgg19",
            "--vgg-weights",
            str(weights),
            "--out",
            str(out),
            "--perceptual-steps",
            "3",
            "--long-side",
            "32",
            "--strength",
            "0.8",
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    with Image.open(out / "photo.png") as img:
        assert img.size == (32, 26)
        assert img.text["artgan:model"] == "perceptual:vgg19" and img.text["artgan:steps"] == "3"
    assert [p.name for p in out.iterdir()] == ["photo.png"]


def test_cli_perceptual_errors_exit_2(vgg_file, no_weights, tmp_path, capsys) -> None:
    content, style = _files(tmp_path)
    out = tmp_path / "out"
    base = ["stylize", str(content), "--style", str(style), "--perceptual", "vgg19", "--out", str(out), "--no-progress"]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "--vgg-weights" in err and VGG19_ENV in err and "Traceback" not in err
    bad = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    assert main(base + ["--vgg-weights", str(bad)]) == 2
    assert f"{bad}: not a VGG-19 state dict" in capsys.readouterr().err
    _, weights = vgg_file
    no_style = [a for a in base if a not in ("--style", str(style))]
    assert main(no_style + ["--vgg-weights", str(weights)]) == 2
    assert "--style" in capsys.readouterr().err
    assert not out.exists()  # nothing written by failed runs
