"""Read a folder (recursively) or a zip of images, once, up front.

Every candidate file is decoded before training starts, so a broken file is found in
seconds rather than killing a run hours later. Unusable files are listed with a reason.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from ..imaging import DEFAULT_MAX_PIXELS, ImageError, decode_image, pil_to_tensor

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".webp", ".tif", ".tiff", ".bmp"})
# Image types we recognise but do not decode: listed as rejects so the user knows why.
FOREIGN_SUFFIXES = frozenset(
    {".gif", ".heic", ".heif", ".avif", ".psd", ".svg", ".eps", ".jp2", ".ico", ".raw", ".cr2", ".nef"}
)
MAX_FILE_BYTES = 512 * 1024 * 1024  # a single compressed file beyond this is not a painting
MIN_SIDE = 16


class DatasetError(ValueError):
    """The data source as a whole cannot be used (missing, empty, too few images)."""


@dataclass
class IngestResult:
    """Decoded images (uint8 tensors (3, H, W)) plus what was refused and why."""

    images: list[torch.Tensor] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def report(self) -> str:
        """Human-readable list of rejects, one per line ("name: reason")."""
        return "".join(f"{name}: {reason}\n" for name, reason in self.rejected)

    def fingerprint(self) -> str:
        """A short hash of the usable images' names and decoded pixels: a run keeps it, so
        a resume can tell when its data changed. 16 hex digits."""
        h = hashlib.sha256()
        for name, img in zip(self.names, self.images):
            h.update(name.encode() + b"\0" + str(tuple(img.shape)).encode())
            h.update(img.contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def _iter_folder(root: Path) -> Iterator[tuple[str, Callable[[], bytes], int]]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        # Hidden folders (.git, .thumbnails) and macOS resource forks are never art.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            p = Path(dirpath) / fn
            rel = str(p.relative_to(root))
            try:
                size = p.stat().st_size
            except OSError:
                size = -1
            yield rel, p.read_bytes, size


def _iter_zip(zf: zipfile.ZipFile) -> Iterator[tuple[str, Callable[[], bytes], int]]:
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or base.startswith(".") or "__MACOSX/" in info.filename:
            continue
        yield info.filename, functools.partial(zf.read, info), info.file_size


def _decode_one(
    name: str, read: Callable[[], bytes], size: int, keep_short: Callable[[int, int], tuple[int, int]], max_pixels: int
) -> tuple[torch.Tensor | None, str | None]:
    """Decode, check and downscale one file. Returns (uint8 (3, H, W), None) or (None, reason)."""
    if size > MAX_FILE_BYTES:
        return None, f"file is {size / 2**20:.0f} MB, more than {MAX_FILE_BYTES // 2**20} MB"
    if size == 0:
        return None, "empty file (0 bytes)"
    try:
        img = decode_image(read(), name, max_pixels=max_pixels)
    except ImageError as exc:
        return None, exc.reason
    except OSError as exc:
        return None, f"cannot read file ({exc})"
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        return None, f"only {w}x{h} pixels; need at least {MIN_SIDE} on the shorter side"
    tw, th = keep_short(w, h)
    if (tw, th) != (w, h):
        # Downscale once here with a high-quality filter so training never resizes
        # multi-megapixel images per step.
        img = img.resize((tw, th), Image.Resampling.LANCZOS if tw < w else Image.Resampling.BICUBIC)
    t = pil_to_tensor(img)
    return ((t + 1) * 127.5).round().clamp(0, 255).to(torch.uint8), None


def ingest(
    source: str | os.PathLike,
    *,
    target_short: int | Callable[[int], int],
    min_short: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> IngestResult:
    """Decode every image under ``source`` (a folder, searched recursively, or a .zip).

    Images are resized so their shorter side is at most ``target_short`` and at least
    ``min_short`` (aspect kept). ``target_short`` may be a function of the number of
    candidate image files, for callers whose choice depends on how many there are.
    Raises DatasetError if the source is missing or holds no candidate image files at all.
    """
    src = Path(source)
    if not src.exists():
        raise DatasetError(f"{src}: no such file or folder; give a folder of images or a .zip")

    zf: zipfile.ZipFile | None = None
    if src.is_dir():
        entries = list(_iter_folder(src))
    elif zipfile.is_zipfile(src):
        zf = zipfile.ZipFile(src)
        entries = list(_iter_zip(zf))
    else:
        try:
            decode_image(src.read_bytes(), str(src), max_pixels=max_pixels)
        except ImageError as exc:
            raise DatasetError(f"{src}: not a folder, a zip, or a usable image ({exc.reason})") from exc
        entries = [(src.name, src.read_bytes, src.stat().st_size)]

    result = IngestResult()
    candidates = []
    for name, read, size in entries:
        suffix = Path(name).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            candidates.append((name, read, size))
        elif suffix in FOREIGN_SUFFIXES:
            result.rejected.append((name, f"{suffix} files are not supported; convert to PNG or JPEG"))
    if not candidates:
        raise DatasetError(f"{src}: no image files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))}, recursively)")

    short_goal = target_short(len(candidates)) if callable(target_short) else target_short

    def keep_short(w: int, h: int) -> tuple[int, int]:
        short = min(w, h)
        goal = min(short, short_goal) if short > short_goal else max(short, min_short)
        s = goal / short
        return max(1, round(w * s)), max(1, round(h * s))

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(candidates), desc="reading images", unit="img", leave=False)
    # Pillow releases the GIL while decoding, so threads use both cores. A zip handle is
    # not safe to share across threads, so zips decode serially.
    workers = 1 if zf is not None else min(4, os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_decode_one, n, r, s, keep_short, max_pixels) for n, r, s in candidates]
            for (name, _, _), fut in zip(candidates, futures):
                tensor, reason = fut.result()
                if tensor is None:
                    result.rejected.append((name, reason or "unknown error"))
                else:
                    result.images.append(tensor)
                    result.names.append(name)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if zf is not None:
            zf.close()
    return result


def crop_short_side(resolution: int, min_scale: float) -> int:
    """Shorter side to keep so the smallest random crop is still >= ``resolution`` pixels."""
    return int(math.ceil(resolution / min_scale))
