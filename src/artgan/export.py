"""Trained models as ONNX files, for inference outside PyTorch (onnxruntime, C++, browsers).

Example::

    from artgan.export import export_model, parity
    export_model("runs/00000-art-resgan-64", "art.onnx")    # a generator, stylizer or texture run
    parity("runs/00000-art-resgan-64", "art.onnx")           # max |onnxruntime - torch|, ~1e-6

What each file computes (float32, NCHW, images in [-1, 1]; ``B`` is free in every file):

- **generator** (``artgan train``): ``z`` (B, z_dim) -> ``image`` (B, 3, R, R). A resgan
  with noise inputs (the default) also takes ``noise_8``, ``noise_16``, ... ``noise_R``,
  each (2, B, 1, r, r) standard normal. artgan draws them per latent (seeded by the
  latent's bytes); :func:`generator_feeds` draws them the same way, so image *i* equals
  ``artgan generate``'s ``seed+i``. Any N(0, 1) noise gives valid images.
- **stylizer** (``train-stylizer``, ``train-translator``, the stylize cache): ``photo``
  (B, 3, H, W), any H and W, -> ``image`` (B, 3, H, W) at strength 1, the palette recolor
  included (each photo by its own color statistics). With noise channels (the default,
  2) it also takes ``noise`` (B, k, H, W) standard normal; :func:`stylizer_feeds` draws
  it from a seed as ``artgan stylize`` does. The whole image runs in one pass: the task
  does the same up to 576 px and tiles larger images (for memory), so above that the two
  differ slightly where tiles overlap. ``strength`` and ``preserve_color`` are two lines
  of arithmetic after the model (see :class:`OnnxStylizer`).
- **texture** (``train-texture``, the texture cache): ``grid`` (B, z_ch, h/c, w/c) and per
  level ``noise<l>a`` (B, 1, h_l/2, w_l/2) and ``noise<l>b`` (B, 1, h_l, w_l), c = 2**levels,
  -> ``image`` (B, 3, h, w): the tileable torus (every conv pads by wrapping around, as
  in the model). :func:`texture_feeds` draws the inputs as ``artgan texture --tileable``.

Random inputs are explicit because onnxruntime cannot replay torch's random generator.

The palette (:class:`artgan.models.palette.Palette`) is rebuilt from operators ONNX has:
its 3x3 eigen-decompositions (``torch.linalg.eigh`` has none) as a fixed number of Jacobi
sweeps in float64, ``unique_consecutive`` + ``bucketize`` as group means and a binary
search, each value measured from its segment's start. Like Palette itself (which does
its 3x3 algebra in float64 too), it matches a float64 run of Palette within ~3e-6, except
where two nearly equal colors cover much of a photo: quantile knots one ulp apart are one
tied knot or two depending on the last bit, and there the engines can differ by ~0.05.

Exporting uses the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``):
it needs only the ``onnx`` package, and traces the dynamic batch and image sizes.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models.palette import EPS, KNOTS, LEVELS, PHOTO_SAMPLE, Palette
from .models.resgan import ResGenerator
from .models.stylenet import StyleNet
from .models.texgan import TextureGenerator
from .training.checkpoint import CheckpointError, read_config_json, resolve_model_folder

if TYPE_CHECKING:
    from PIL import Image

    from .tasks.generate import Generator
    from .tasks.stylize import Stylizer
    from .tasks.texture import TextureSynth

__all__ = [
    "OPSET",
    "ExportError",
    "Kind",
    "model_kind",
    "export_model",
    "export_generator",
    "export_stylizer",
    "export_texture",
    "generator_feeds",
    "stylizer_feeds",
    "texture_feeds",
    "session",
    "run_onnx",
    "parity",
    "palette_graph",
    "OnnxGenerator",
    "OnnxStylizer",
]

OPSET = 17
Kind = Literal["generate", "stylize", "texture"]
# Cyclic sweeps over the 3 pairs: 4 reach float64 precision on 20,000 random 3x3 (condition
# numbers up to 1e6, repeated eigenvalues, already diagonal); one more for margin.
JACOBI_SWEEPS = 5


class ExportError(ValueError):
    """onnx or onnxruntime is missing, or a file is not an artgan export. A usage error (exit 2)."""


def _need_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ExportError("ONNX export needs the onnx package: pip install onnx onnxruntime") from exc
    return onnx


def _need_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ExportError("running ONNX files needs onnxruntime: pip install onnxruntime") from exc
    return onnxruntime


# --------------------------------------------------------------------------------------
# The palette in operators ONNX has (Palette.forward, batched)


def _rotation_masks(p: int, q: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, 3) float64 masks of a Jacobi rotation in the (p, q) plane: where its cosine goes,
    and where its sine goes (+1) and its negative (-1)."""
    cos, sin = torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64)
    cos[p, p] = cos[q, q] = 1
    sin[p, q], sin[q, p] = 1, -1
    return cos, sin


# Built once here, not inside the traced code (where each index assignment would be an op).
_PAIRS = {(p, q): _rotation_masks(p, q) for p, q in ((0, 1), (0, 2), (1, 2))}
_EYE = torch.eye(3, dtype=torch.float64)


def _jacobi_eigh(c: torch.Tensor, sweeps: int = JACOBI_SWEEPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric float64 (B, 3, 3) -> eigenvalues (B, 3) and eigenvectors (B, 3, 3) as
    columns, by cyclic Jacobi rotations (a fixed count, so the graph has no loop). The
    order is arbitrary: only matrix functions of the result are used, and those do not
    depend on it."""
    v = _EYE.expand_as(c)
    a = c
    for _ in range(sweeps):
        for (p, q), (cos_mask, sin_mask) in _PAIRS.items():
            apq = a[:, p, q]
            live = apq.abs() > 1e-300
            one = torch.ones_like(apq)
            theta = (a[:, q, q] - a[:, p, p]) / (2 * torch.where(live, apq, one))
            sign = torch.where(theta >= 0, one, -one)
            # tan of the angle that zeroes a[p, q], the smaller root (stable).
            t = torch.where(live, sign / (theta.abs() + torch.sqrt(theta * theta + 1)), torch.zeros_like(apq))
            cos = torch.rsqrt(t * t + 1)
            rot = (_EYE - cos_mask) + cos[:, None, None] * cos_mask + (t * cos)[:, None, None] * sin_mask
            a = rot.transpose(1, 2) @ a @ rot
            v = v @ rot
    return (a * _EYE).sum(-1), v  # the diagonal (torch.diagonal exports with an If node)


def _sqrtm(c: torch.Tensor, eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched :func:`artgan.models.palette._sqrtm`: (B, 3, 3) -> its root and inverse root."""
    e, v = _jacobi_eigh(c)
    e = e.clamp_min(0) + eps
    vt = v.transpose(1, 2)
    return (v * e.sqrt()[:, None, :]) @ vt, (v * e.clamp_min(1e-12).rsqrt()[:, None, :]) @ vt


def _quantiles(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``torch.quantile(x, levels, dim=-1)`` (linear) moved to the last dim: (..., n) -> (..., K)."""
    srt = torch.sort(x, dim=-1).values
    ranks = levels * (srt.shape[-1] - 1)
    lo = ranks.floor()
    w = ranks - lo
    below = srt.index_select(-1, lo.long())
    above = srt.index_select(-1, ranks.ceil().long())
    # torch.lerp's two-sided formula, so the values agree to the last bit where they can.
    return torch.where(w < 0.5, below + w * (above - below), above - (above - below) * (1 - w))


def _match(z: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Batched :func:`artgan.models.palette._match`: values ``z`` (B, 3, N) whose quantiles
    are ``source`` (B, 3, K, non-decreasing) onto quantiles ``target`` (3, K), K = KNOTS.

    Tied source knots take the mean of their targets (as there); the knot below each value
    is found by a binary search over the K knots (6 steps for K = 65) instead of
    ``unique_consecutive`` + ``bucketize``, which have no fixed-shape ONNX form."""
    k = KNOTS  # a Python int: the search below is unrolled
    eq = (source[..., :, None] == source[..., None, :]).to(z.dtype)  # (B, 3, K, K)
    values = (eq @ target[..., None]).squeeze(-1) / eq.sum(-1)  # group means (B, 3, K)
    # The last knot index j <= K-2 with source[j] < z (0 if none): z's segment.
    idx = torch.zeros_like(z, dtype=torch.long)
    step = 1 << ((k - 2).bit_length() - 1)
    while step:
        cand = idx + step
        ok = (cand <= k - 2) & (torch.gather(source, -1, cand.clamp_max(k - 1)) < z)
        idx = torch.where(ok, cand, idx)
        step //= 2
    lo, hi = torch.gather(source, -1, idx), torch.gather(source, -1, idx + 1)
    v_lo, v_hi = torch.gather(values, -1, idx), torch.gather(values, -1, idx + 1)
    # Measured from the segment's own start, not as intercept + slope * z: two knots a few
    # ulps apart (two nearly equal colors covering much of a photo) give a huge slope, and
    # the intercept form then loses everything to cancellation (0.2 on such pixels).
    width = hi - lo
    live = width > 0
    t = torch.where(
        live,
        (torch.minimum(torch.maximum(z, lo), hi) - lo) / torch.where(live, width, torch.ones_like(width)),
        torch.zeros_like(width),
    )
    return v_lo + t * (v_hi - v_lo)


def palette_graph(pal: Palette, x: torch.Tensor) -> torch.Tensor:
    """``pal(x)`` for images (B, 3, H, W) in [-1, 1], in operators that export to ONNX with
    a dynamic batch and size. Each image is recolored by its own statistics, as there."""
    b = x.shape[0]
    flat = x.reshape(b, 3, -1)  # (B, 3, N)
    n = flat.shape[-1]
    # palette._pixels: every step-th pixel, step = ceil(N / PHOTO_SAMPLE).
    sample = flat.index_select(2, torch.arange(0, n, (n + PHOTO_SAMPLE - 1) // PHOTO_SAMPLE))
    mean = sample.mean(-1, keepdim=True)  # (B, 3, 1)
    # The 3x3 algebra in float64: its own rounding then stays far below float32's.
    d = (sample - mean).double()
    cov = d @ d.transpose(1, 2) / (d.shape[-1] - 1)
    root, inv_root = _sqrtm(cov, EPS)
    a = (inv_root @ _sqrtm(root @ pal.cov.double() @ root)[0] @ inv_root).float()  # (B, 3, 3)
    out = a @ (flat - mean)
    if pal.mode == "histogram":
        axes_t = pal.axes.T
        z = axes_t @ out
        knots = _quantiles(axes_t @ (a @ (sample - mean)), LEVELS)  # (B, 3, K): the photo's own
        out = pal.axes @ _match(z, knots, pal.quantiles)
    return (out + pal.mean[:, None]).reshape(x.shape).clamp(-1, 1)


# --------------------------------------------------------------------------------------
# The graphs: modules whose forward takes every input explicitly


@contextmanager
def _given_noise(net: ResGenerator, maps: dict[int, torch.Tensor]) -> Iterator[None]:
    """Make ``net`` use ``maps`` ({r: (2, B, 1, r, r)}) instead of drawing its noise (an
    instance attribute shadows the method for the duration)."""
    net.draw_noise = lambda z: maps  # type: ignore[method-assign]
    try:
        yield
    finally:
        del net.draw_noise


class GeneratorGraph(nn.Module):
    """z (B, z_dim) [and noise maps (2, B, 1, r, r) per block of a resgan] -> (B, 3, R, R)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.noise_sizes: list[int] = list(net.res[1:]) if isinstance(net, ResGenerator) and net.noise else []

    def forward(self, z: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        if not self.noise_sizes:
            return self.net(z)
        assert isinstance(self.net, ResGenerator)
        with _given_noise(self.net, dict(zip(self.noise_sizes, noise))):
            return self.net(z)


class StylizerGraph(nn.Module):
    """photo (B, 3, H, W) [and noise (B, k, H, W)] -> stylized (B, 3, H, W): the palette,
    reflect padding to a multiple of 4, the net, the crop back (``stylize_image``)."""

    def __init__(self, net: StyleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, photo: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        x = photo if self.net.palette is None else palette_graph(self.net.palette, photo)
        h, w = x.shape[-2], x.shape[-1]
        pad = (0, (-w) % StyleNet.multiple, 0, (-h) % StyleNet.multiple)
        if noise is not None:
            noise = F.pad(noise, pad, mode="reflect")
        return self.net(F.pad(x, pad, mode="reflect"), noise)[:, :, :h, :w]


class TextureGraph(nn.Module):
    """grid (B, z_ch, h/c, w/c) and per level two noise maps -> texture (B, 3, h, w)."""

    def __init__(self, net: TextureGenerator) -> None:
        super().__init__()
        self.net = net

    def forward(self, grid: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        return self.net([grid, *noise])


# --------------------------------------------------------------------------------------
# Which model a folder holds


def model_kind(path: str | os.PathLike, which: str = "latest") -> tuple[Kind, Path]:
    """("generate" | "stylize" | "texture", model folder) for a run or model folder.

    Stylizer and texture runs keep their model in ``model/`` with a ``task`` in its
    config.json; anything else is looked up as a generator run (``latest`` or ``best``
    checkpoint), whose errors say what a generator folder must hold."""
    p = Path(path)
    for cand in (p, p / "model", p / ".old-model"):
        if (cand / "config.json").is_file() and (cand / "G_ema.safetensors").is_file():
            task = read_config_json(cand).get("task", "generate")
            if task in ("stylize", "texture"):
                return task, cand
            if task != "generate":
                raise CheckpointError(f"{cand}: a {task!r} model; only generators, stylizers and textures export")
    return "generate", resolve_model_folder(p, which)


# --------------------------------------------------------------------------------------
# Export


def _write_onnx(
    graph: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: str | os.PathLike,
    *,
    input_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    meta: dict[str, str],
) -> Path:
    """Trace ``graph`` on ``args``, add ``meta`` to the file, write it atomically."""
    onnx = _need_onnx()
    from .imaging import atomic_write_bytes

    # ONNX has had Atanh since opset 9; the TorchScript exporter just never mapped it.
    torch.onnx.register_custom_op_symbolic("aten::atanh", lambda g, x: g.op("Atanh", x), OPSET)
    buf = io.BytesIO()
    graph.eval()
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter's deprecation notice, and tracer notes on Python-side shape
        # checks (the checks pass on the example inputs and are not part of the graph).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            args,
            buf,  # type: ignore[arg-type]  # file objects work with the TorchScript exporter
            dynamo=False,
            opset_version=OPSET,
            input_names=input_names,
            output_names=["image"],
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    from . import __version__

    onnx.helper.set_model_props(model, {"artgan_version": __version__, **meta})
    model.producer_name = "artgan"
    model.doc_string = meta.get("artgan_inputs", "")
    onnx.checker.check_model(model)
    out = Path(path)
    atomic_write_bytes(out, model.SerializeToString())
    return out


def _batch_axes(names: Sequence[str], axis: int = 0) -> dict[str, dict[int, str]]:
    return {n: {axis: "batch"} for n in names}


def export_generator(folder: str | os.PathLike, path: str | os.PathLike, *, which: str = "latest") -> Path:
    """Export a generator run or model folder (``which``: its ``latest`` or ``best``
    checkpoint) to ``path``: z (B, z_dim) [+ noise_<r> (2, B, 1, r, r)] -> image (B, 3, R, R)."""
    from .tasks.generate import Generator

    g = Generator.from_pretrained(folder, which=which)
    graph = GeneratorGraph(g.net)
    feeds = generator_feeds(g, [0, 1])
    names = list(feeds)
    axes = {"z": {0: "batch"}, **{n: {1: "batch"} for n in names[1:]}, "image": {0: "batch"}}
    doc = f"z (B, {g.config.z_dim}) float32 N(0, 1)" + (
        "; " + ", ".join(f"{n} (2, B, 1, {n[6:]}, {n[6:]}) N(0, 1)" for n in names[1:]) if names[1:] else ""
    )
    return _write_onnx(
        graph,
        tuple(torch.from_numpy(v) for v in feeds.values()),
        path,
        input_names=names,
        dynamic_axes=axes,
        meta={
            "artgan_kind": "generate",
            "artgan_model": g.model_id,
            "artgan_inputs": doc + f" -> image (B, 3, {g.resolution}, {g.resolution}) in [-1, 1]",
        },
    )


def export_stylizer(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Export a stylizer run or model folder to ``path``: photo (B, 3, H, W) [+ noise
    (B, k, H, W)] -> image (B, 3, H, W), palette included; batch, height and width free."""
    from .tasks.stylize import Stylizer

    st = Stylizer.from_pretrained(folder)
    net = st.net.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    # Not a multiple of 4, so the padding is traced (it is dynamic either way).
    photos = _example_photos(2, 42, 54)
    feeds = stylizer_feeds(st, photos, [0, 1])
    names = list(feeds)
    axes = {n: {0: "batch", 2: "height", 3: "width"} for n in [*names, "image"]}
    k = net.noise_channels
    doc = "photo (B, 3, H, W) float32 in [-1, 1]" + (f"; noise (B, {k}, H, W) N(0, 1)" if k else "")
    palette = net.palette.mode if net.palette is not None else "none"
    return _write_onnx(
        StylizerGraph(net),
        tuple(torch.from_numpy(v) for v in feeds.values()),
        path,
        input_names=names,
        dynamic_axes=axes,
        meta={
            "artgan_kind": "stylize",
            "artgan_model": str(st.info.get("style", {}).get("name", "stylizer")),
            "artgan_palette": palette,
            "artgan_inputs": doc + " -> image (B, 3, H, W) in [-1, 1], strength 1",
        },
    )


def export_texture(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Export a texture run or model folder to ``path``: grid + per-level noise -> the
    tileable texture (B, 3, h, w); batch and size free (multiples of the noise cell)."""
    from .tasks.texture import TextureSynth

    synth = TextureSynth.from_pretrained(folder)
    c = synth.net.cell
    feeds = texture_feeds(synth, (3 * c, 4 * c), [0, 1])
    names = list(feeds)
    axes = {n: {0: "batch", 2: f"{n}_height", 3: f"{n}_width"} for n in names}
    axes["image"] = {0: "batch", 2: "height", 3: "width"}
    levels = synth.config.levels
    maps = [f"grid (B, {synth.config.z_ch}, h/{c}, w/{c})"]
    for lv in range(1, levels + 1):
        coarse, fine = 2 ** (levels - lv + 1), 2 ** (levels - lv)
        maps += [f"noise{lv}a (B, 1, h/{coarse}, w/{coarse})", f"noise{lv}b (B, 1, h/{fine}, w/{fine})"]
    doc = ", ".join(maps).replace("/1,", ",").replace("/1)", ")") + ", all N(0, 1), h and w multiples of " + str(c)
    return _write_onnx(
        TextureGraph(synth.net),
        tuple(torch.from_numpy(v) for v in feeds.values()),
        path,
        input_names=names,
        dynamic_axes=axes,
        meta={
            "artgan_kind": "texture",
            "artgan_model": synth.model_id,
            "artgan_cell": str(c),
            "artgan_inputs": doc + " -> image (B, 3, h, w) in [-1, 1], a torus (tiles seamlessly)",
        },
    )


def export_model(folder: str | os.PathLike, path: str | os.PathLike, *, which: str = "latest") -> tuple[Kind, Path]:
    """Export whatever ``folder`` holds; returns its kind and the file written."""
    kind, _ = model_kind(folder, which)
    if kind == "stylize":
        return kind, export_stylizer(folder, path)
    if kind == "texture":
        return kind, export_texture(folder, path)
    return kind, export_generator(folder, path, which=which)


# --------------------------------------------------------------------------------------
# Inputs drawn as artgan draws them


def generator_feeds(g: Generator, seeds: Sequence[int], truncation: float = 1.0) -> dict[str, np.ndarray]:
    """Inputs for images of ``seeds``: ``z`` (B, z_dim) and, for a resgan with noise, the
    noise maps ``noise_<r>`` (2, B, 1, r, r) it would draw for those latents. The file's
    output i then equals ``g(n=1, seed=seeds[i], truncation=truncation)``."""
    from .models.common import seeds_to_z

    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    z = seeds_to_z([int(s) for s in seeds], g.config.z_dim) * truncation
    feeds = {"z": z.numpy()}
    net = g.net
    if isinstance(net, ResGenerator) and net.noise:
        with torch.no_grad():
            maps = net.draw_noise(z)  # eval mode: seeded by each latent, as in generate
        feeds.update({f"noise_{r}": maps[r].contiguous().numpy() for r in net.res[1:]})
    return feeds


def stylizer_feeds(st: Stylizer, photos: torch.Tensor, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Inputs for ``photos`` (B, 3, H, W): the photos, and for a net with noise channels
    the noise ``artgan stylize --seed`` draws, one seed per photo."""
    b, _, h, w = photos.shape
    if len(seeds) != b:
        raise ValueError(f"{b} photos need {b} seeds, got {len(seeds)}")
    feeds = {"photo": photos.float().contiguous().numpy()}
    if st.net.noise_channels:
        noise = [st.net.make_noise(1, h, w, torch.Generator().manual_seed(int(s))) for s in seeds]
        feeds["noise"] = torch.cat([n for n in noise if n is not None]).numpy()
    return feeds


def texture_feeds(synth: TextureSynth, size: tuple[int, int], seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Inputs for textures of ``size`` = (h, w), multiples of the noise cell, one per seed:
    output i equals ``synth(size, seeds[i], tileable=True)``."""
    per_seed = [synth.net.sample_noise(1, size, torch.Generator().manual_seed(int(s))) for s in seeds]
    names = ["grid"] + [f"noise{lv}{ab}" for lv in range(1, synth.config.levels + 1) for ab in "ab"]
    return {n: torch.cat([p[i] for p in per_seed]).numpy() for i, n in enumerate(names)}


def _example_photos(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """(b, 3, h, w) smooth random color fields with correlated channels, inside [-1, 1]:
    photo-like color statistics for tracing and parity checks."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, max(2, h // 8), max(2, w // 8), generator=g)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    mix = torch.tensor([[1.0, 0.3, 0.0], [0.2, 1.0, 0.4], [0.0, -0.5, 1.0]])
    x = torch.einsum("ij,bjhw->bihw", mix, x) + 0.05 * torch.randn(b, 3, h, w, generator=g)
    return (0.3 * x).clamp(-1, 1)


# --------------------------------------------------------------------------------------
# Running and checking


def session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An onnxruntime CPU session for ``path``; ``threads`` caps its intra-op threads."""
    ort = _need_ort()
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(path_or_session: Any, feeds: dict[str, np.ndarray], threads: int | None = None) -> np.ndarray:
    """The ``image`` output of an exported file (a path or a :func:`session`) on ``feeds``."""
    sess = path_or_session if hasattr(path_or_session, "run") else session(path_or_session, threads)
    return sess.run(["image"], feeds)[0]


def parity(
    folder: str | os.PathLike,
    onnx_path: str | os.PathLike,
    *,
    batch: int = 2,
    size: tuple[int, int] | None = None,
    photos: torch.Tensor | None = None,
    seed: int = 0,
    which: str = "latest",
) -> float:
    """max |onnxruntime - torch| (float32) of the file exported from ``folder``, on
    ``batch`` inputs for seeds ``seed..``; the torch side is the task users call:

    - generator: ``Generator(n=1, seed=s)`` per image;
    - stylizer: ``Stylizer(photo, seed=s)`` per photo (``photos`` (B, 3, H, W), default
      synthetic ones of ``size`` (h, w), default (48, 60));
    - texture: ``TextureSynth(size, seed=s, tileable=True)``, ``size`` a multiple of the
      noise cell (default 5 x 7 cells).
    """
    kind, _ = model_kind(folder, which)
    seeds = list(range(seed, seed + batch))
    ref: torch.Tensor
    if kind == "generate":
        from .tasks.generate import Generator

        g = Generator.from_pretrained(folder, which=which)
        feeds = generator_feeds(g, seeds)
        ref = torch.cat([g(n=1, seed=s, output="tensor") for s in seeds])
    elif kind == "stylize":
        from .models.stylenet import stylize_image
        from .tasks.stylize import OVERLAP, TILE, Stylizer

        st = Stylizer.from_pretrained(folder)
        x = photos if photos is not None else _example_photos(batch, *(size or (48, 60)), seed=seed)
        seeds = list(range(seed, seed + x.shape[0]))
        feeds = stylizer_feeds(st, x, seeds)
        if max(x.shape[-2:]) <= TILE + OVERLAP:  # the task itself: one pass at this size
            ref = torch.stack([st(xi, seed=s, output="tensor") for xi, s in zip(x, seeds)])
        else:  # the task would tile; compare with its one-pass function
            noise = torch.from_numpy(feeds["noise"]) if "noise" in feeds else None
            ref = torch.stack(
                [stylize_image(st.net, xi, None if noise is None else noise[i : i + 1]) for i, xi in enumerate(x)]
            )
    else:
        from .tasks.texture import TextureSynth

        synth = TextureSynth.from_pretrained(folder)
        c = synth.net.cell
        size = size or (5 * c, 7 * c)
        feeds = texture_feeds(synth, size, seeds)
        ref = torch.stack([synth(size, seed=s, tileable=True, output="tensor") for s in seeds])
    out = run_onnx(onnx_path, feeds)
    if out.shape != tuple(ref.shape):
        raise AssertionError(f"onnxruntime gave {out.shape}, torch {tuple(ref.shape)}")
    return float(np.abs(out - ref.numpy()).max())


# --------------------------------------------------------------------------------------
# The tasks' calls, the models run by onnxruntime


class OnnxGenerator:
    """An exported generator run with onnxruntime, called like :class:`artgan.Generator`:
    the same seeds give the same images (within 1e-4), with no model folder needed.

    Example::

        g = OnnxGenerator("art.onnx", threads=2)
        images = g(n=64, seed=0)                    # 64 PIL images
        batch = g(n=4, seed=0, output="tensor")     # (4, 3, R, R) in [-1, 1]
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None, batch_size: int = 64) -> None:
        self.path = Path(path)
        self.session = session(path, threads)
        inputs = self.session.get_inputs()
        if inputs[0].name != "z":
            raise ExportError(f"{path}: not an exported generator (inputs {', '.join(i.name for i in inputs)})")
        self.z_dim = int(inputs[0].shape[1])
        self.noise_sizes = [int(i.name.removeprefix("noise_")) for i in inputs[1:]]
        self.resolution = int(self.session.get_outputs()[0].shape[-1])
        self.batch_size = batch_size

    def feeds(self, z: torch.Tensor) -> dict[str, np.ndarray]:
        """Inputs for latents ``z`` (B, z_dim): each latent's noise maps are drawn as
        :meth:`artgan.models.resgan.ResGenerator.draw_noise` does in eval mode (a torch
        generator seeded by the CRC-32 of the latent's float32 bytes)."""
        import zlib

        feeds = {"z": z.float().contiguous().numpy()}
        maps = {r: torch.empty(2, len(z), 1, r, r) for r in self.noise_sizes}
        for i, zi in enumerate(z.float()):
            gen = torch.Generator().manual_seed(zlib.crc32(zi.numpy().tobytes()))
            for r in self.noise_sizes:
                maps[r][:, i] = torch.randn(2, 1, r, r, generator=gen)
        feeds.update({f"noise_{r}": m.numpy() for r, m in maps.items()})
        return feeds

    @overload
    def __call__(
        self, n: int = ..., seed: int = ..., truncation: float = ..., output: Literal["pil"] = ...
    ) -> list[Image.Image]: ...
    @overload
    def __call__(
        self, n: int = ..., seed: int = ..., truncation: float = ..., output: Literal["tensor"] = ...
    ) -> torch.Tensor: ...

    def __call__(self, n: int = 8, seed: int = 0, truncation: float = 1.0, output: str = "pil"):
        """``n`` images from seeds ``seed..seed+n-1``: PIL images or a tensor (n, 3, R, R)."""
        from .imaging import tensor_to_pil
        from .models.common import seeds_to_z

        if n < 1:
            raise ValueError("n must be at least 1")
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation must be in (0, 1], got {truncation}")
        if output not in ("pil", "tensor"):
            raise ValueError("output must be 'pil' or 'tensor'")
        z = seeds_to_z(list(range(seed, seed + n)), self.z_dim) * truncation
        imgs = torch.cat([torch.from_numpy(run_onnx(self.session, self.feeds(c))) for c in z.split(self.batch_size)])
        return imgs if output == "tensor" else [tensor_to_pil(im) for im in imgs]


class OnnxStylizer:
    """An exported stylizer run with onnxruntime, called like :class:`artgan.Stylizer`.

    Example::

        st = OnnxStylizer("starry.onnx", threads=2)
        img = st(Image.open("photo.jpg"), strength=0.8, size=512)

    The image runs in one pass at any size (no tiles: memory grows with the image).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = session(path, threads)
        names = [i.name for i in self.session.get_inputs()]
        if names[0] != "photo":
            raise ExportError(f"{path}: not an exported stylizer (inputs {', '.join(names)})")
        noise = self.session.get_inputs()[1] if len(names) > 1 else None
        self.noise_channels = int(noise.shape[1]) if noise is not None else 0

    @overload
    def __call__(
        self,
        image: Image.Image | torch.Tensor,
        strength: float = ...,
        *,
        preserve_color: bool = ...,
        size: int | None = ...,
        seed: int = ...,
        output: Literal["pil"] = ...,
    ) -> Image.Image: ...
    @overload
    def __call__(
        self,
        image: Image.Image | torch.Tensor,
        strength: float = ...,
        *,
        preserve_color: bool = ...,
        size: int | None = ...,
        seed: int = ...,
        output: Literal["tensor"] = ...,
    ) -> torch.Tensor: ...

    def __call__(
        self,
        image,
        strength: float = 1.0,
        *,
        preserve_color: bool = False,
        size: int | None = None,
        seed: int = 0,
        output: str = "pil",
    ):
        """As :meth:`artgan.Stylizer.__call__`: PIL or (3, H, W) in [-1, 1] in, PIL or tensor out."""
        from PIL import Image

        from .imaging import fit_long_side, keep_colors, pil_to_tensor, tensor_to_pil
        from .tasks.stylize import MAX_SIDE

        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if output not in ("pil", "tensor"):
            raise ValueError("output must be 'pil' or 'tensor'")
        x = pil_to_tensor(image) if isinstance(image, Image.Image) else image.float()
        if size is not None:
            if not 8 <= size <= MAX_SIDE:
                raise ValueError(f"size must be between 8 and {MAX_SIDE} px, got {size}")
            x = fit_long_side(x, size)
        h, w = x.shape[-2:]
        feeds = {"photo": x[None].contiguous().numpy()}
        if self.noise_channels:
            noise = torch.randn(1, self.noise_channels, h, w, generator=torch.Generator().manual_seed(seed))
            feeds["noise"] = noise.numpy()
        y = torch.from_numpy(run_onnx(self.session, feeds))[0]
        if preserve_color:
            y = keep_colors(y, x)
        y = x + strength * (y - x)
        return tensor_to_pil(y) if output == "pil" else y
