"""VGG-19 convolutional features, for perceptual losses with weights the user already has.

artgan never downloads weights. :func:`load_vgg19` reads torchvision's ImageNet VGG-19
checkpoint (``vgg19-dcbb9e9d.pth``) from a path, ``$ARTGAN_VGG19`` or the torch hub cache;
:class:`VGG19Features` has the same parameter names as torchvision's ``features`` part
(``features.0.weight`` ... ``features.34.bias``), so that file loads as it is.

    vgg = load_vgg19()                              # or VGG19Features() with random weights
    acts = vgg(x, ("relu1_1", "relu4_2"))           # x (B, 3, H, W) in [-1, 1]
    acts["relu4_2"].shape                           # (B, 512, H // 8, W // 8)
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "VGG19Features",
    "VGGWeightsError",
    "find_vgg19_weights",
    "load_vgg19",
    "VGG19_ENV",
    "VGG19_FILE",
    "DEFAULT_LAYERS",
]

VGG19_ENV = "ARTGAN_VGG19"
VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's name for the ImageNet weights
# Output channels of each conv, "M" for a 2x2 max pool: torchvision's configuration "E".
_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
# Gatys et al.'s choice: style from the first ReLU of every block, content from relu4_2.
DEFAULT_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsError(ValueError):
    """VGG-19 weights missing or unusable. ``str(err)`` says where we looked and what to do."""


class VGG19Features(nn.Module):
    """The convolutional part of VGG-19 (no classifier), returning named activations.

    Input: images (B, 3, H, W) in [-1, 1] RGB; ImageNet normalisation happens inside.
    Output: ``{name: activation}`` for the requested names (``relu{block}_{k}``, e.g.
    relu4_2 is (B, 512, H // 8, W // 8)). Only the layers up to the deepest requested one
    run. Weights are random until loaded (:func:`load_vgg19`); they are initialised the way
    torchvision does, so random-weight activations keep a sensible scale with depth.
    """

    # Buffers, registered in __init__ (declared here so they type as tensors, not Module).
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        self.layer_index: dict[str, int] = {}  # "relu4_2" -> its index in self.features
        c_in, block, k = 3, 1, 1
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                block, k = block + 1, 1
                continue
            assert isinstance(v, int)
            layers.append(nn.Conv2d(c_in, v, 3, padding=1))
            # Not in-place: an activation we hand out must not be overwritten by the next layer.
            layers.append(nn.ReLU())
            self.layer_index[f"relu{block}_{k}"] = len(layers) - 1
            c_in, k = v, k + 1
        # The attribute name "features" gives torchvision's state-dict keys (features.N.*).
        self.features = nn.Sequential(*layers)
        # Not persistent: the state dict then holds exactly torchvision's features.* keys.
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                assert m.bias is not None  # built with a bias (nn.Conv2d's default)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, layers: Sequence[str] = DEFAULT_LAYERS) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> {name: (B, C, H / 2^(block-1), W / 2^(block-1))}."""
        if isinstance(layers, str):
            layers = (layers,)
        unknown = [n for n in layers if n not in self.layer_index]
        if unknown:
            raise ValueError(f"unknown VGG-19 layer(s) {unknown}; known: {', '.join(self.layer_index)}")
        if not layers:
            return {}
        wanted = {self.layer_index[n]: n for n in layers}
        last = max(wanted)
        h = ((x + 1) / 2 - self.mean) / self.std  # [-1, 1] -> [0, 1] -> ImageNet-normalised
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
            if i == last:
                break  # deeper layers would cost time and change nothing
        return out


def _hub_checkpoints() -> Path:
    # torch.hub.get_dir only computes a path ($TORCH_HOME/hub by default); it never downloads.
    return Path(torch.hub.get_dir()) / "checkpoints"


def _how_to_provide() -> str:
    return (
        f"artgan never downloads weights: get torchvision's ImageNet VGG-19 file ({VGG19_FILE}) "
        f"and pass --vgg-weights PATH (Python: load_vgg19(path)), set {VGG19_ENV}=PATH, "
        f"or put it in {_hub_checkpoints()}"
    )


def find_vgg19_weights(path: str | os.PathLike | None = None) -> Path:
    """The VGG-19 checkpoint to use: ``path`` if given, else ``$ARTGAN_VGG19``, else
    ``torch.hub.get_dir()/checkpoints/vgg19*.pth`` (torchvision's own name first).

    A path given explicitly (argument or environment) must exist: silently falling back to
    another file would hide a typo. Raises :class:`VGGWeightsError` listing what was searched.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise VGGWeightsError(
                f"VGG-19 weights: {p} (given as --vgg-weights / path) is not a file. {_how_to_provide()}"
            )
        return p
    env = os.environ.get(VGG19_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise VGGWeightsError(f"VGG-19 weights: {p} (from ${VGG19_ENV}) is not a file. {_how_to_provide()}")
        return p
    ckpts = _hub_checkpoints()
    # vgg19_bn-*.pth also matches vgg19*.pth but has batch-norm layers in between: skip it.
    found = sorted(
        Path(f) for f in glob.glob(glob.escape(str(ckpts)) + "/vgg19*.pth") if not Path(f).name.startswith("vgg19_bn")
    )
    found.sort(key=lambda f: f.name != VGG19_FILE)  # stable: torchvision's exact file first
    if found:
        return found[0]
    raise VGGWeightsError(
        "VGG-19 weights not found (needed by --perceptual vgg19). Searched: --vgg-weights (not given), "
        f"${VGG19_ENV} (not set), {ckpts / 'vgg19*.pth'} (no such file). {_how_to_provide()}"
    )


def load_vgg19(path: str | os.PathLike | None = None) -> VGG19Features:
    """Load VGG-19 features from a torchvision-format state dict (see :func:`find_vgg19_weights`
    for where it is looked for). ``classifier.*`` keys are ignored. Returns the network in
    eval mode with gradients off for its weights (it is a fixed loss network)."""
    p = find_vgg19_weights(path)
    fix = f"expected torchvision's VGG-19 state dict ({VGG19_FILE}); vgg19_bn and other networks do not fit"
    try:
        # weights_only: a checkpoint is data; never run code from a file found on disk.
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for junk files
        raise VGGWeightsError(
            f"{p}: cannot be read as a PyTorch weights file ({type(exc).__name__}: {exc}); {fix}"
        ) from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VGGWeightsError(f"{p}: not a state dict (a mapping of names to tensors); {fix}")
    net = VGG19Features()
    expected = net.state_dict()
    feats = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    missing = [k for k in expected if k not in feats]
    unexpected = [k for k in feats if k not in expected]
    wrong = [
        f"{k} is {tuple(v.shape)}, not {tuple(expected[k].shape)}"
        for k, v in feats.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        problems = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if items:
                more = f" and {len(items) - 3} more" if len(items) > 3 else ""
                problems.append(f"{label}: {', '.join(items[:3])}{more}")
        raise VGGWeightsError(f"{p}: not a VGG-19 state dict ({'; '.join(problems)}); {fix}")
    net.load_state_dict(feats)
    return net.eval().requires_grad_(False)
