"""The one place that touches PIL and uint8.

Inside artgan an image is a float32 tensor in [-1, 1], RGB, shaped (3, H, W) or a batch
(N, 3, H, W). This module turns files into such tensors (safely) and tensors into PNGs,
and holds the few whole-image tensor helpers every layer shares (resizing, YCbCr).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "ImageError",
    "decode_image",
    "load_image",
    "pil_to_tensor",
    "tensor_to_pil",
    "make_grid",
    "png_bytes",
    "save_png",
    "atomic_write_bytes",
    "resize",
    "fit_long_side",
    "to_ycbcr",
    "from_ycbcr",
    "keep_colors",
]

# Decoders we trust; everything else (EPS runs Ghostscript, PSD/ICO/... are rare and
# quirky) is refused before Pillow picks a plugin.
ALLOWED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "WEBP", "TIFF", "BMP"})
# 64 megapixels: an 8k x 8k painting scan passes; a 30000 x 30000 "bomb" header does not.
DEFAULT_MAX_PIXELS = 64_000_000
_SRGB = ImageCms.createProfile("sRGB")


class ImageError(ValueError):
    """An input image that cannot be used. ``str(err)`` names the file and what to do."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def decode_image(
    data: bytes,
    name: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Decode encoded image bytes into a clean RGB PIL image.

    Applies EXIF orientation, converts an embedded ICC profile to sRGB, and composites
    alpha onto ``background`` (white, like paper: transparent art is usually drawn on it).
    Raises ImageError with a reason a user can act on.
    """
    try:
        # formats= restricts which plugins may even try: a .jpg that is really an EPS is refused.
        img: Image.Image = Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS))
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fires at open for headers far beyond its limit.
        raise ImageError(name, f"too many pixels for the pixel budget; downscale it first ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for junk input
        raise ImageError(name, "not a supported image (allowed: PNG, JPEG, WebP, TIFF, BMP)") from exc
    w, h = img.size
    if w * h > max_pixels:
        # Checked from the header, before any pixel is decoded.
        raise ImageError(name, f"{w}x{h} pixels exceeds the pixel budget of {max_pixels:,}; downscale it first")
    if w < 1 or h < 1:
        raise ImageError(name, "image has no pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except Exception as exc:  # noqa: BLE001
        raise ImageError(name, f"truncated or corrupt image data ({type(exc).__name__}: {exc})") from exc
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block should not lose the picture
        pass
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(img, src, _SRGB, outputMode=out_mode)
            if converted is not None:  # None only with inPlace=True, which is not asked for here
                img = converted
        except Exception:  # noqa: BLE001 - unusable profile: keep the pixels as they are
            pass
    return _to_rgb(img, background)


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Flatten any mode to RGB; alpha is composited, not dropped (dropping shows junk colours)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bit rather than clipping everything to white.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return Image.fromarray((arr / top * 255).round().astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def load_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Read and decode one image file (see :func:`decode_image`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(str(p), f"cannot read file ({exc.strerror})") from exc
    return decode_image(data, str(p), max_pixels=max_pixels)


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 tensor (3, H, W) in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).float()
    return t / 127.5 - 1.0


def to_uint8(t: torch.Tensor) -> torch.Tensor:
    """Float tensor in [-1, 1] (any shape) -> uint8 tensor of the same shape."""
    return ((t.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """Tensor (3, H, W) or (1, 3, H, W) in [-1, 1] -> RGB PIL image."""
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected (3, H, W), got {tuple(t.shape)}")
    arr = to_uint8(t.cpu()).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(arr, "RGB")


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> torch.Tensor:
    """Tile a batch (N, 3, H, W) into one image (3, H', W'), ``nrow`` images per row.

    Padding is mid-grey (0.0) so neither dark nor light art blends into it.
    """
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / nrow))
    grid = images.new_zeros(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, y : y + h, x : x + w] = images[i]
    return grid


def resize(img: torch.Tensor, size: tuple[int, int], *, antialias: bool | None = None) -> torch.Tensor:
    """(3, H, W) -> (3, h, w) for ``size`` = (h, w), bilinear, clamped to [-1, 1].
    ``antialias`` (None: when either side shrinks) low-passes first, against aliasing."""
    h, w = size
    if img.shape[-2:] == (h, w):
        return img
    if antialias is None:
        antialias = h < img.shape[-2] or w < img.shape[-1]
    out = F.interpolate(img[None], size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)
    return out[0].clamp(-1, 1)


def fit_long_side(img: torch.Tensor, side: int, *, multiple: int = 1) -> torch.Tensor:
    """(3, H, W) -> scaled so the longer side is ``side`` (antialiased when it shrinks),
    both sides rounded to a ``multiple``."""
    _, h, w = img.shape
    s = side / max(h, w)
    nh, nw = max(multiple, round(h * s / multiple) * multiple), max(multiple, round(w * s / multiple) * multiple)
    return resize(img, (nh, nw), antialias=nh < h)


def to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (3, H, W) in [-1, 1] -> Y, Cb, Cr (3, H, W) on the same scale (Rec. 601)."""
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack([y, 0.564 * (b - y), 0.713 * (r - y)])


def from_ycbcr(ycc: torch.Tensor) -> torch.Tensor:
    """Y, Cb, Cr (3, H, W) from :func:`to_ycbcr` -> RGB (3, H, W), clamped to [-1, 1]."""
    y, cb, cr = ycc
    r = y + cr / 0.713
    b = y + cb / 0.564
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b]).clamp(-1, 1)


def keep_colors(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """The luminance of ``stylized`` under the colors (Cb, Cr) of ``photo``, both (3, H, W):
    a style's light and texture without its palette."""
    return from_ycbcr(torch.cat([to_ycbcr(stylized)[:1], to_ycbcr(photo)[1:]]))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    Temp file in the same folder (so ``os.replace`` is a rename on one filesystem), flush,
    fsync, replace. On failure (a full disk, say) the temp file is removed and the old file
    is untouched.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; outputs (images, pages) should get the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def png_bytes(image: Image.Image | torch.Tensor, metadata: dict[str, str] | None = None) -> bytes:
    """An image (PIL, or a tensor (3, H, W) in [-1, 1]) encoded as PNG, with provenance
    text chunks (the artgan version plus ``metadata``; never file paths)."""
    from . import __version__  # local: keeps import order one-way at module load

    img = tensor_to_pil(image) if isinstance(image, torch.Tensor) else image
    info = PngImagePlugin.PngInfo()
    meta = {"Software": f"artgan {__version__}"}
    meta.update(metadata or {})
    for key, value in meta.items():
        info.add_text(str(key), str(value))
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, compress_level=4)
    return buf.getvalue()


def save_png(
    image: Image.Image | torch.Tensor,
    path: str | os.PathLike,
    *,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Save an image as PNG atomically, with provenance text chunks (see :func:`png_bytes`)."""
    atomic_write_bytes(path, png_bytes(image, metadata))
    return Path(path)


def save_gif(frames: Sequence[Image.Image], path: str | os.PathLike, fps: float = 12.0) -> Path:
    """Write an endlessly looping animated GIF atomically."""
    if not frames:
        raise ValueError("no frames to write")
    buf = io.BytesIO()
    frames[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=list(frames[1:]),
        duration=int(round(1000 / fps)),
        loop=0,
        optimize=False,
    )
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
