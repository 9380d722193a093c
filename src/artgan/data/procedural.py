"""A bundled, procedurally drawn dataset: one imaginary painter's abstract series.

`make demo` must train a GAN on a fresh clone with no downloads, so we paint the
training set ourselves. Every image is a warm, earthy abstract landscape by the same
"painter": a soft gradient sky, a horizon band, one big sun-like disc, a few thick
brush strokes and arcs, an occasional cool accent, and canvas grain. The composition
is random per seed; the palette and vocabulary of shapes are shared, so the set reads
as one series with a style a small GAN can pick up in a few CPU minutes at 32-64 px.

Pure numpy + Pillow; deterministic for a given seed (PNG bytes included).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

__all__ = ["PALETTE", "ACCENT", "draw_artwork", "write_procedural_set"]

# The painter's palette family (sRGB). Light colours are used for skies, mid and dark
# ones for grounds and strokes; a single cool accent keeps the warm set from being flat.
PALETTE: dict[str, tuple[int, int, int]] = {
    "cream": (238, 222, 190),
    "ochre": (218, 162, 66),
    "terracotta": (198, 96, 58),
    "sienna": (146, 68, 38),
    "olive": (118, 116, 60),
    "umber": (58, 40, 30),
}
ACCENT: tuple[int, int, int] = (36, 94, 132)  # a deep cobalt blue

_SKY = ("cream", "ochre", "cream", "terracotta")  # cream twice: light skies dominate
_GROUND = ("terracotta", "sienna", "olive", "umber")
_SHAPE = ("terracotta", "ochre", "sienna", "umber", "cream")
_STROKE = ("umber", "sienna", "olive", "cream", "terracotta")


def _jittered_palette(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Return the palette with a shared per-image colour cast plus small per-colour jitter.

    The shared cast makes each painting's "light" differ; the per-colour jitter stays
    small so every image still reads as the same painter. Both are mostly multiplicative
    gains, so dark colours keep their hue (an additive shift turns umber purple).
    """
    cast = rng.normal(1.0, 0.02, size=3) * rng.normal(1.0, 0.05)
    out = {}
    for name, rgb in {**PALETTE, "accent": ACCENT}.items():
        gain = rng.normal(1.0, 0.02, size=3) * rng.normal(1.0, 0.06)
        out[name] = np.clip(np.asarray(rgb, np.float32) * cast * gain, 0, 255)
    return out


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], shape (size, size): a tiny random grid upsampled.

    Bicubic upsampling of a `cells x cells` grid gives blotches about size/cells wide,
    which look like uneven paint coverage rather than pixel noise.
    """
    grid = rng.random((cells, cells), dtype=np.float32)
    img = Image.fromarray(grid, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) * 2.0 - 1.0


def _streaks(rng: np.random.Generator, size: int, vertical: bool) -> np.ndarray:
    """Directional brush-drag texture in roughly [-1, 1], shape (size, size).

    Noise that is fine across one axis and stretched along the other looks like the
    bristle marks of a wide brush dragged over the ground colour.
    """
    small = rng.standard_normal((max(2, size // 24), size)).astype(np.float32)
    img = Image.fromarray(small, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32)
    return arr if vertical else arr.T


def _background(rng: np.random.Generator, pal: dict[str, np.ndarray], s: int) -> np.ndarray:
    """Sky-to-ground gradient with blotchy coverage; float32 (s, s, 3) in [0, 255]."""
    top = pal[_SKY[rng.integers(len(_SKY))]]
    bottom = pal[_GROUND[rng.integers(len(_GROUND))]]
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / (s - 1)
    # A slight diagonal tilt keeps gradients from all looking like the same poster.
    tilt = rng.uniform(-0.35, 0.35)
    t = np.clip(yy + tilt * (xx - 0.5), 0.0, 1.0)
    t = t ** rng.uniform(0.7, 1.4)  # move where the blend happens
    img = top * (1.0 - t[..., None]) + bottom * t[..., None]
    # Uneven paint: luminance blotches plus a faint independent colour drift.
    img += 22.0 * _smooth_noise(rng, s, 4)[..., None]
    img += 5.0 * np.stack([_smooth_noise(rng, s, 3) for _ in range(3)], axis=-1)
    img += 3.5 * _streaks(rng, s, vertical=bool(rng.random() < 0.5))[..., None]
    return img


def _rgba(color: np.ndarray, alpha: int) -> tuple[int, int, int, int]:
    c = np.clip(color, 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2]), int(alpha)


def _shade(rng: np.random.Generator, color: np.ndarray, amount: float) -> np.ndarray:
    """A nearby tone of `color`: overlapping dabs vary slightly, as real paint does.

    Mostly a brightness change with a little per-channel drift, so hues stay in family.
    """
    return color * rng.normal(1.0, amount / 255.0, size=3) + rng.normal(0.0, amount)


def _horizon(rng: np.random.Generator, draw: ImageDraw.ImageDraw, pal: dict[str, np.ndarray], s: int) -> None:
    """A wavy horizontal band of ground colour across the canvas, painted in two layers."""
    y0 = rng.uniform(0.5, 0.78) * s
    height = rng.uniform(0.08, 0.2) * s
    color = pal[_GROUND[rng.integers(len(_GROUND))]]
    xs = np.linspace(-0.05 * s, 1.05 * s, 24)
    phase, freq = rng.uniform(0, 2 * np.pi, 2), rng.uniform(1.0, 3.0, 2)
    for layer in range(2):
        wave_top = 0.03 * s * np.sin(freq[0] * np.pi * xs / s + phase[0] + layer)
        wave_bot = 0.03 * s * np.sin(freq[1] * np.pi * xs / s + phase[1] - layer)
        top = [(float(x), float(y0 + w)) for x, w in zip(xs, wave_top)]
        bot = [(float(x), float(y0 + height + w)) for x, w in zip(xs[::-1], wave_bot[::-1])]
        draw.polygon(top + bot, fill=_rgba(_shade(rng, color, 8.0), 150 + 60 * layer))


def _disc(rng: np.random.Generator, draw: ImageDraw.ImageDraw, pal: dict[str, np.ndarray], s: int) -> None:
    """The painter's signature sun: a large disc built from a few offset translucent layers."""
    r = rng.uniform(0.12, 0.24) * s
    cx, cy = rng.uniform(0.2, 0.8) * s, rng.uniform(0.18, 0.55) * s
    color = pal[_SHAPE[rng.integers(len(_SHAPE))]]
    # Several slightly shifted, slightly shrunk layers give a soft, hand-painted edge.
    for k in range(4):
        dx, dy = rng.normal(0.0, 0.015 * s, 2)
        rk = r * (1.0 - 0.06 * k)
        box = (cx + dx - rk, cy + dy - rk, cx + dx + rk, cy + dy + rk)
        draw.ellipse(box, fill=_rgba(_shade(rng, color, 10.0), 110 + 30 * k))


def _arc(rng: np.random.Generator, draw: ImageDraw.ImageDraw, pal: dict[str, np.ndarray], s: int) -> None:
    """A thick open arc, the painter's recurring gesture around or beside the sun."""
    r = rng.uniform(0.18, 0.4) * s
    cx, cy = rng.uniform(0.15, 0.85) * s, rng.uniform(0.2, 0.8) * s
    start = rng.uniform(0, 360)
    span = rng.uniform(70, 200)
    width = int(rng.uniform(0.035, 0.07) * s)
    color = pal[_STROKE[rng.integers(len(_STROKE))]]
    for k in range(2):
        d = rng.normal(0.0, 0.01 * s)
        box = (cx - r + d, cy - r + d, cx + r + d, cy + r + d)
        fill = _rgba(_shade(rng, color, 10.0), 170)
        draw.arc(box, start + 4 * k, start + span - 4 * k, fill=fill, width=width)


def _curve(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    """A smooth random curve across the canvas: a cubic Bezier, shape (n, 2) in pixels."""
    p0 = rng.uniform(0.05, 0.95, 2)
    direction = rng.uniform(0, 2 * np.pi)
    length = rng.uniform(0.45, 0.9)
    p3 = np.clip(p0 + length * np.array([np.cos(direction), np.sin(direction)]), -0.05, 1.05)
    # Control points pushed sideways give a single gentle bend, like one arm movement.
    normal = np.array([-(p3 - p0)[1], (p3 - p0)[0]])
    p1 = p0 + (p3 - p0) / 3 + normal * rng.uniform(-0.5, 0.5)
    p2 = p0 + 2 * (p3 - p0) / 3 + normal * rng.uniform(-0.5, 0.5)
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    return pts * s


def _stroke(
    rng: np.random.Generator,
    draw: ImageDraw.ImageDraw,
    color: np.ndarray,
    s: int,
    width: float,
) -> None:
    """A thick brush stroke: many overlapping translucent dabs along a smooth curve.

    The dab radius tapers at both ends (pressure) and each dab wobbles and shifts tone
    a little, so the stroke looks loaded with paint rather than drawn with a pen.
    """
    n = 70
    pts = _curve(rng, s, n)
    t = np.linspace(0.0, 1.0, n)
    pressure = np.sin(np.pi * np.clip(t * 1.1 - 0.05, 0.0, 1.0)) ** 0.5
    radius = 0.5 * width * s * (0.5 + 0.5 * pressure)
    for (x, y), r in zip(pts, radius):
        jx, jy = rng.normal(0.0, 0.12 * r, 2)
        rx, ry = r * rng.uniform(0.85, 1.15), r * rng.uniform(0.85, 1.15)
        fill = _rgba(_shade(rng, color, 7.0), int(rng.uniform(45, 90)))
        draw.ellipse((x + jx - rx, y + jy - ry, x + jx + rx, y + jy + ry), fill=fill)


def _grain(rng: np.random.Generator, s: int) -> np.ndarray:
    """Canvas weave plus fine grain in roughly [-1, 1], shape (s, s)."""
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    weave = 0.5 * (np.sin(xx * 2.1) * np.sin(yy * 2.1))
    return weave + rng.standard_normal((s, s)).astype(np.float32)


def draw_artwork(seed: int, size: int = 96) -> Image.Image:
    """Paint one artwork of the series; an RGB `size x size` image, deterministic per seed.

    Drawn at 2x and downsampled with LANCZOS, which antialiases shape edges for free.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    rng = np.random.default_rng(seed)
    s = 2 * size
    pal = _jittered_palette(rng)

    canvas = Image.fromarray(np.clip(_background(rng, pal, s), 0, 255).astype(np.uint8), "RGB")
    # "RGBA" draw mode alpha-blends fills onto the RGB canvas, which is what lets
    # overlapping translucent dabs build up like layers of paint.
    draw = ImageDraw.Draw(canvas, "RGBA")

    _horizon(rng, draw, pal, s)
    _disc(rng, draw, pal, s)
    for _ in range(rng.integers(0, 3)):
        _arc(rng, draw, pal, s)
    for _ in range(rng.integers(2, 5)):
        color = pal[_STROKE[rng.integers(len(_STROKE))]]
        _stroke(rng, draw, color, s, width=rng.uniform(0.07, 0.13))
    # The cool accent appears in most works, always small, so it stays an accent.
    if rng.random() < 0.75:
        if rng.random() < 0.5:
            _stroke(rng, draw, pal["accent"], s, width=rng.uniform(0.03, 0.05))
        else:
            r = rng.uniform(0.04, 0.07) * s
            cx, cy = rng.uniform(0.1, 0.9, 2) * s
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_rgba(pal["accent"], 220))

    arr = np.asarray(canvas, dtype=np.float32)
    arr += 7.0 * _grain(rng, s)[..., None]
    canvas = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def _image_seed(seed: int, index: int) -> int:
    """Independent per-image seed, so sets with nearby `seed`s do not share images."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint32)[0])


def _png_bytes(img: Image.Image, image_seed: int) -> bytes:
    info = PngInfo()
    # Provenance without paths or timestamps keeps the bytes reproducible.
    info.add_text("Software", "artgan.data.procedural")
    info.add_text("Seed", str(image_seed))
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, optimize=False)
    return buf.getvalue()


def write_procedural_set(out_dir: Path, n: int = 48, size: int = 96, seed: int = 0) -> list[Path]:
    """Write `n` PNGs `art_000.png`, ... to `out_dir` and return their paths.

    Idempotent: a file whose bytes already match is left untouched (mtime included),
    and any other file is replaced atomically, so an interrupted run never leaves a
    truncated PNG behind. Files beyond `n` from earlier runs are not removed.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(n - 1)))
    paths = []
    for i in range(n):
        path = out_dir / f"art_{i:0{width}d}.png"
        image_seed = _image_seed(seed, i)
        data = _png_bytes(draw_artwork(image_seed, size), image_seed)
        if not (path.is_file() and path.read_bytes() == data):
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        paths.append(path)
    return paths
