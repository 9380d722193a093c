"""Classic neural style transfer (Gatys et al. 2016) with VGG-19 weights found locally.

An optional extra beside the trained stylizer (tasks/stylize.py): nothing is trained and
nothing is downloaded, but it needs torchvision's VGG-19 file on disk (models/vgg.py says
where it is looked for). The output's pixels are optimised, starting from the photo, so
that its relu4_2 activations stay close to the photo's (content) while the Gram matrices
of relu1_1 ... relu5_1 approach the painting's (style), plus a small total-variation term
against pixel noise.

Each loss term is a *relative* squared error (divided by the squared size of its target),
so every style layer weighs the same whatever its activation scale, and the weights do not
depend on the image size or on the scale of the VGG weights. The default weights were set
with random VGG weights (no trained file was at hand); check them against the real ones.

    ns = NeuralStyle.from_pretrained()              # or from_pretrained("vgg19-dcbb9e9d.pth")
    img = ns(Image.open("photo.jpg"), Image.open("starry.jpg"), strength=0.9)   # PIL image
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import torch
from PIL import Image

from ..imaging import keep_colors, pil_to_tensor, resize, tensor_to_pil
from ..models.vgg import VGG19Features, find_vgg19_weights, load_vgg19

__all__ = [
    "NeuralStyle",
    "PerceptualLoss",
    "neural_style",
    "gram",
    "tv_loss",
    "STYLE_LAYERS",
    "CONTENT_LAYER",
    "DEFAULT_STEPS",
]

STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
# Relative to content_weight=1. With random VGG weights at 128 px, 60 L-BFGS steps took the
# style error down ~97% while the content error rose to ~0.08: strong style, layout intact.
STYLE_WEIGHT = 10.0
TV_WEIGHT = 1.0  # absolute: a photo's tv_loss is ~0.01-0.05, L-BFGS noise pushes it higher
DEFAULT_STEPS = 200
DEFAULT_SIDE = 512  # with size=None larger photos are shrunk to this: cost grows with pixels
MIN_SIDE = 16  # relu5_1 sits after four 2x2 pools: 16 px leaves it one pixel
MAX_SIDE = 2048  # VGG activations of a 2048 px image already take several GB
_EPS = 1e-20  # only guards a division by an all-zero target


def gram(f: torch.Tensor) -> torch.Tensor:
    """Feature correlations: (B, C, H, W) -> (B, C, C), averaged over the H*W positions
    (so images of different sizes are comparable)."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def _working_size(h: int, w: int, size: int | None) -> tuple[int, int]:
    """Pixel size to optimise at: longer side = ``size``, or at most DEFAULT_SIDE if None."""
    side = size if size is not None else min(max(h, w), DEFAULT_SIDE)
    s = side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation of (..., H, W): mean squared difference of neighbouring pixels,
    vertical plus horizontal (a photo in [-1, 1] scores about 0.01-0.05)."""
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean()
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
    return dy + dx


class PerceptualLoss:
    """Gatys et al.'s loss of an image (3, H, W) against a fixed content photo (3, H, W) and
    style image (3, h, w), through ``vgg``. Calling it returns the terms and their weighted
    ``total`` as 0-dim tensors (differentiable in the image)."""

    def __init__(
        self,
        vgg: VGG19Features,
        content: torch.Tensor,
        style: torch.Tensor,
        *,
        content_weight: float = 1.0,
        style_weight: float = STYLE_WEIGHT,
        tv_weight: float = TV_WEIGHT,
    ) -> None:
        self.vgg = vgg
        self.weights = {"content": content_weight, "style": style_weight, "tv": tv_weight}
        with torch.no_grad():
            p = vgg(content[None].float(), (CONTENT_LAYER,))[CONTENT_LAYER]
            acts = vgg(style[None].float(), STYLE_LAYERS)
        self.content_target = p
        self.content_scale = p.pow(2).mean().clamp_min(_EPS)
        self.style_targets = {n: gram(a) for n, a in acts.items()}
        self.style_scales = {n: g.pow(2).mean().clamp_min(_EPS) for n, g in self.style_targets.items()}

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (3, H, W) -> {"content", "style", "tv", "total"}."""
        acts = self.vgg(x[None], STYLE_LAYERS + (CONTENT_LAYER,))
        content = (acts[CONTENT_LAYER] - self.content_target).pow(2).mean() / self.content_scale
        # Gatys weighs the style layers equally; relative errors make "equally" mean something.
        style = sum(
            (gram(acts[n]) - self.style_targets[n]).pow(2).mean() / self.style_scales[n] for n in STYLE_LAYERS
        ) / len(STYLE_LAYERS)
        tv = tv_loss(x)
        terms = {"content": content, "style": style, "tv": tv}
        terms["total"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms


class _Diverged(Exception):
    """Raised inside the optimiser's closure to stop at a non-finite loss."""


def neural_style(
    content: torch.Tensor,
    style: torch.Tensor,
    vgg: VGG19Features,
    *,
    steps: int = DEFAULT_STEPS,
    size: int | None = None,
    content_weight: float = 1.0,
    style_weight: float = STYLE_WEIGHT,
    tv_weight: float = TV_WEIGHT,
    preserve_color: bool = False,
    optimizer: Literal["lbfgs", "adam"] = "lbfgs",
    lr: float | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Stylize ``content`` (3, H, W) in [-1, 1] with ``style`` (3, h, w) -> (3, H', W').

    The photo is scaled so its longer side is ``size`` px (default: its own, at most 512);
    the style image is scaled to about the same number of pixels, so brush strokes keep a
    similar size relative to the picture. ``steps`` counts loss evaluations (one VGG forward
    and backward each). ``optimizer`` is "lbfgs" (default: converges in far fewer steps)
    or "adam" (``lr`` in [-1, 1] pixel units, default 0.05). The lowest-loss image seen is
    returned. ``preserve_color`` keeps the photo's colors (its Cb/Cr) under the result's
    luminance.
    """
    if content.dim() != 3 or content.shape[0] != 3 or style.dim() != 3 or style.shape[0] != 3:
        raise ValueError(f"expected images (3, H, W), got {tuple(content.shape)} and {tuple(style.shape)}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if size is not None and not MIN_SIDE <= size <= MAX_SIDE:
        raise ValueError(f"size must be between {MIN_SIDE} and {MAX_SIDE} px, got {size}")
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    h, w = _working_size(content.shape[-2], content.shape[-1], size)
    if min(h, w) < MIN_SIDE:
        raise ValueError(
            f"the photo would be {w}x{h} px; VGG-19 needs at least {MIN_SIDE} px a side (give a larger --size)"
        )
    if max(h, w) > MAX_SIDE:
        raise ValueError(f"the photo is {w}x{h} px; give size <= {MAX_SIDE}")
    x0 = resize(content.float(), (h, w))
    k = math.sqrt(h * w / (style.shape[-2] * style.shape[-1]))
    style_h, style_w = max(MIN_SIDE, round(style.shape[-2] * k)), max(MIN_SIDE, round(style.shape[-1] * k))
    loss_fn = PerceptualLoss(
        vgg,
        x0,
        resize(style.float(), (style_h, style_w)),
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
    )

    from tqdm.auto import tqdm

    x = x0.clone().requires_grad_(True)
    best_loss, best_x = math.inf, x0.clone()
    bar = tqdm(total=steps, unit="step", desc="neural style", disable=not progress, dynamic_ncols=True)

    def evaluate() -> float:
        nonlocal best_loss, best_x
        terms = loss_fn(x)
        value = float(terms["total"].detach())
        if not math.isfinite(value):
            raise _Diverged
        # Gradients for the pixels only: the VGG weights are constants here, and skipping
        # their gradients saves time and leaves the caller's module untouched.
        (x.grad,) = torch.autograd.grad(terms["total"], x)
        if value < best_loss:
            best_loss, best_x = value, x.detach().clone()
        bar.update(1)
        bar.set_postfix(
            loss=f"{value:.4g}",
            style=f"{float(terms['style'].detach()):.3g}",
            content=f"{float(terms['content'].detach()):.3g}",
            refresh=False,
        )
        return value

    try:
        if optimizer == "lbfgs":
            # max_eval caps the loss evaluations at `steps`; max_iter is never the limit, so
            # the optimiser stops right after an evaluation and no final step goes unmeasured.
            # Tolerances are 0: the relative losses make per-pixel gradients tiny by design.
            lbfgs = torch.optim.LBFGS(
                [x],
                lr=1.0,
                max_iter=steps + 1,
                max_eval=steps,
                history_size=50,
                tolerance_grad=0.0,
                tolerance_change=0.0,
            )
            lbfgs.step(evaluate)
        else:
            adam = torch.optim.Adam([x], lr=0.05 if lr is None else lr)
            for _ in range(steps):
                evaluate()
                adam.step()
    except _Diverged:
        pass  # keep the best image measured before the loss went non-finite
    finally:
        bar.close()
    y = best_x.clamp(-1, 1)
    if preserve_color:
        y = keep_colors(y, x0)
    return y


class NeuralStyle:
    """Optimisation-based style transfer with a local VGG-19 (see :func:`neural_style`).

    Example::

        ns = NeuralStyle.from_pretrained()                     # finds the VGG-19 file
        img = ns(Image.open("photo.jpg"), Image.open("starry.jpg"), strength=0.8, size=512)
    """

    def __init__(self, vgg: VGG19Features, weights: Path | None = None) -> None:
        self.vgg = vgg.eval().requires_grad_(False)
        self.weights = weights

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None) -> NeuralStyle:
        """Load VGG-19 from ``path``, ``$ARTGAN_VGG19`` or the torch hub cache (never downloads)."""
        p = find_vgg19_weights(path)
        return cls(load_vgg19(p), p)

    def __call__(
        self,
        image: Image.Image | torch.Tensor,
        style: Image.Image | torch.Tensor,
        strength: float = 1.0,
        *,
        preserve_color: bool = False,
        size: int | None = None,
        steps: int = DEFAULT_STEPS,
        progress: bool = True,
        output: str = "pil",
    ) -> Image.Image | torch.Tensor:
        """Stylize ``image`` with ``style`` (PIL, or tensors (3, H, W) in [-1, 1]).

        ``strength`` in [0, 1] blends from the photo (0) to the full result (1); ``size``
        is the output's longer side in px (default: the photo's, at most 512);
        ``output`` "pil" or "tensor" (3, H', W').
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if output not in ("pil", "tensor"):
            raise ValueError("output must be 'pil' or 'tensor'")
        x = pil_to_tensor(image) if isinstance(image, Image.Image) else image.float()
        s = pil_to_tensor(style) if isinstance(style, Image.Image) else style.float()
        y = neural_style(x, s, self.vgg, steps=steps, size=size, preserve_color=preserve_color, progress=progress)
        x = resize(x, (y.shape[-2], y.shape[-1]))
        y = x + strength * (y - x)
        return tensor_to_pil(y) if output == "pil" else y
