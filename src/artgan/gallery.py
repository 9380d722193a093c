"""A self-contained HTML gallery for one training run folder.

The page is plain HTML + CSS + inline SVG: no JavaScript, no external assets, and
only *relative* image links, so a run folder can be copied, zipped or served by any
static file server and still show its pictures. It is cheap to rebuild, so the
training loop may rewrite it every time it saves a sample grid.

Run folder layout it understands (everything optional)::

    config.json        resolved options (a JSON object)
    stats.jsonl        one JSON object per line, at least "kimg" and losses
    samples/fakes000000.png, samples/fakes000004.png, ...   grids, named by kimg
    samples/reals.png  a grid of training images
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .imaging import atomic_write_bytes

__all__ = ["write_gallery", "line_chart"]

_FAKES_RE = re.compile(r"^fakes(\d+)\.png$")
_LOSS_KEYS = ("loss/D", "loss/G")
_SWD_KEYS = ("metric/swd/avg",)
_COLORS = {"loss/D": "#d1495b", "loss/G": "#00798c", "metric/swd/avg": "#6a4c93"}
_CONFIG_KEYS = ("family", "resolution", "kimg", "dataset", "data")
_MAX_TIMELINE = 24  # thumbnails; beyond this we sample evenly to keep the page light


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------- reading


def _number(value: Any) -> float | None:
    """A finite float from a stats value, or None.

    Accepts plain numbers and StyleGAN-style ``{"mean": x, ...}`` dicts; bools are
    not numbers here (a flag would otherwise plot as 0/1).
    """
    if isinstance(value, dict):
        value = value.get("mean")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _read_stats(path: Path) -> list[dict[str, float]]:
    """Rows of finite numeric stats that carry a ``kimg``; bad lines are skipped.

    A killed process can leave a half-written last line, and a crash can leave
    garbage anywhere, so every line is parsed on its own.
    """
    rows: list[dict[str, float]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return rows
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict) or _number(obj.get("kimg")) is None:
            continue
        row = {k: v for k, v in ((k, _number(v)) for k, v in obj.items()) if v is not None}
        rows.append(row)
    return rows


def _read_config(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _config_fields(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline fields, looked up at the top level, then one level down.

    Configs are often nested (``{"model": {"family": ...}, "train": {...}}``), and
    the gallery should not need to know the exact schema.
    """
    found: list[tuple[str, str]] = []
    for key in _CONFIG_KEYS:
        value = config.get(key)
        if value is None:
            value = next(
                (sub[key] for sub in config.values() if isinstance(sub, dict) and sub.get(key) is not None), None
            )
        if value is None:
            continue
        if isinstance(value, dict):  # e.g. {"data": {"path": ..., "size": ...}}
            value = value.get("path", value.get("name", json.dumps(value, sort_keys=True)))
        text = value if isinstance(value, str) else json.dumps(value)
        found.append((key, text if len(text) <= 120 else text[:117] + "..."))
    return found


def _fakes(samples: Path) -> list[tuple[int, Path]]:
    """Fake grids as ``(kimg, path)``, oldest first (by the number, not the name)."""
    if not samples.is_dir():
        return []
    grids = [(int(m.group(1)), p) for p in samples.iterdir() if (m := _FAKES_RE.match(p.name)) and p.is_file()]
    return sorted(grids)


def _href(target: Path, html_dir: Path) -> str:
    """A URL for ``target`` relative to the page, so the folder can move as a whole."""
    try:
        rel = os.path.relpath(target.resolve(), html_dir.resolve())
    except ValueError:  # different drives on Windows: no relative path exists
        return target.resolve().as_uri()
    return urllib.parse.quote(Path(rel).as_posix())


# ----------------------------------------------------------------------------- chart


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0 if lo == 0 else lo + abs(lo) * 0.1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    # Integer multiples of the step (not repeated addition), so errors do not pile up;
    # leftover noise such as 0.30000000000000004 disappears when labels are formatted.
    k0, k1 = math.floor(lo / step), math.ceil(hi / step)
    return [k * step for k in range(k0, max(k1, k0 + 1) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _tick(value: float) -> str:
    # More digits than _fmt so kimg ticks like 25000 print as such, not as 2.5e+04.
    return f"{value:.6g}"


_PALETTE = ("#d1495b", "#00798c", "#6a4c93", "#edae49", "#30638e", "#3b3b3b")


def line_chart(
    rows: list[dict[str, float]],
    keys: tuple[str, ...] = _LOSS_KEYS,
    ylabel: str = "loss",
    x_key: str = "kimg",
    xlabel: str = "kimg",
) -> str:
    """Inline SVG line chart of ``keys`` against ``x_key``, with axes and a legend."""
    series = {k: [(r[x_key], r[k]) for r in rows if k in r and x_key in r] for k in keys}
    series = {k: pts for k, pts in series.items() if pts}
    if not series:
        return f'<p class="empty">no {_esc(ylabel)} values yet</p>'
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    xt, yt = _nice_ticks(min(xs), max(xs)), _nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    width, height = 720, 320
    left, right, top, bottom = 60, 20, 34, 44  # room for tick labels and axis titles
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_esc(ylabel)} curves">'
    ]
    # Grid lines and tick labels first, so the curves are drawn on top of them.
    for t in xt:
        parts.append(
            f'<line class="grid" x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" '
            f'y2="{top + ph}"/><text x="{px(t):.1f}" y="{top + ph + 16}" '
            f'text-anchor="middle">{_esc(_tick(t))}</text>'
        )
    for t in yt:
        parts.append(
            f'<line class="grid" x1="{left}" y1="{py(t):.1f}" x2="{left + pw}" '
            f'y2="{py(t):.1f}"/><text x="{left - 6}" y="{py(t) + 4:.1f}" '
            f'text-anchor="end">{_esc(_tick(t))}</text>'
        )
    parts.append(f'<rect class="frame" x="{left}" y="{top}" width="{pw}" height="{ph}"/>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">{_esc(xlabel)}</text>')
    parts.append(
        f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle">{_esc(ylabel)}</text>'
    )
    colors = {name: _COLORS.get(name, _PALETTE[i % len(_PALETTE)]) for i, name in enumerate(series)}
    for name, pts in series.items():
        color = colors[name]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(
            f'<polyline data-series="{_esc(name)}" fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>'
        )
        if len(pts) == 1:  # a one-point polyline is invisible: mark it
            x, y = pts[0]
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
    # Legend in the top margin, right-aligned: outside the plot, so it never hides a curve.
    step = 34 + 7 * max(len(n) for n in series)  # room for the longest label
    for i, name in enumerate(reversed(list(series))):
        lx, ly = left + pw - step - i * step, top - 10
        color = colors[name]
        parts.append(
            f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="3"/>'
            f'<text x="{lx + 26}" y="{ly}">{_esc(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------ page

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
.meta { color: #666; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) { background: #f0f0f0; }
.grids { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #555; font-size: .9em; }
img { image-rendering: pixelated; background: #ddd; }  /* small grids stay crisp */
img.large { max-width: min(100%, 768px); width: 768px; height: auto; }
img.medium { max-width: 100%; width: 384px; height: auto; }
.timeline { display: flex; gap: .6em; overflow-x: auto; padding-bottom: .5em; }
.timeline figure { flex: none; text-align: center; }
.timeline img { width: 128px; height: auto; }
.chart text { font-size: 11px; fill: #444; }
.chart .grid { stroke: #e3e3e3; } .chart .frame { fill: none; stroke: #999; }
.empty { color: #888; font-style: italic; }
"""


def _figure(src: str, caption: str, cls: str) -> str:
    return (
        f'<figure><a href="{_esc(src)}"><img class="{cls}" src="{_esc(src)}" '
        f'alt="{_esc(caption)}" loading="lazy"></a>'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _timeline(grids: list[tuple[int, Path]]) -> list[tuple[int, Path]]:
    """At most ``_MAX_TIMELINE`` grids, evenly spread and always including the first."""
    if len(grids) <= _MAX_TIMELINE:
        return grids
    step = (len(grids) - 1) / (_MAX_TIMELINE - 1)
    return [grids[round(i * step)] for i in range(_MAX_TIMELINE)]


def _render(run_dir: Path, out_dir: Path, title: str, sample_images: list[Path]) -> str:
    config = _read_config(run_dir / "config.json")
    rows = _read_stats(run_dir / "stats.jsonl")
    fakes = _fakes(run_dir / "samples")
    reals = run_dir / "samples" / "reals.png"

    body: list[str] = [f"<h1>{_esc(title)}</h1>"]
    info = [f"{_esc(k)}: <b>{_esc(v)}</b>" for k, v in _config_fields(config)]
    if rows:
        info.append(f"progress: <b>{_esc(_fmt(rows[-1]['kimg']))} kimg</b>")
    info.append(f"updated {_esc(time.strftime('%Y-%m-%d %H:%M:%S'))}")
    body.append(f'<p class="meta">{" &middot; ".join(info)}</p>')

    body.append("<h2>Samples</h2>")
    figures = []
    if fakes:
        kimg, latest = fakes[-1]
        figures.append(_figure(_href(latest, out_dir), f"fakes at {kimg} kimg", "large"))
    if reals.is_file():
        figures.append(_figure(_href(reals, out_dir), "reals", "medium"))
    figures += [_figure(_href(p, out_dir), p.name, "medium") for p in sample_images]
    body.append(f'<div class="grids">{"".join(figures)}</div>' if figures else '<p class="empty">no samples yet</p>')

    body.append("<h2>Losses</h2>")
    if rows:
        body.append(line_chart(rows))
        if any(k in r for r in rows for k in _SWD_KEYS):
            body.append("<h2>Quality (SWD x1e3 of the EMA generator, lower is better)</h2>")
            body.append(line_chart(rows, _SWD_KEYS, "SWD"))
        # Last value of every other numeric stat (aug/p, r1, timing, ...).
        last: dict[str, float] = {}
        for row in rows:
            last.update(row)
        others = sorted(k for k in last if k != "kimg" and k not in _LOSS_KEYS)
        if others:
            cells = "".join(f'<tr><td>{_esc(k)}</td><td class="num">{_esc(_fmt(last[k]))}</td></tr>' for k in others)
            body.append(f"<h2>Latest stats</h2><table><tr><th>stat</th><th>value</th></tr>{cells}</table>")
    else:
        body.append('<p class="empty">no stats yet</p>')

    if len(fakes) > 1:
        thumbs = "".join(_figure(_href(p, out_dir), f"{k} kimg", "thumb") for k, p in _timeline(fakes[:-1]))
        body.append(f'<h2>Timeline</h2><div class="timeline">{thumbs}</div>')

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_gallery(
    run_dir: Path, out_html: Path | None = None, *, title: str | None = None, sample_images: list[Path] | None = None
) -> Path:
    """Write an HTML overview of a training run and return its path.

    Args:
        run_dir: the run folder (``config.json``, ``stats.jsonl``, ``samples/``).
        out_html: where to write; defaults to ``run_dir / "index.html"``. Image links
            are made relative to this file's folder.
        title: page title; defaults to the run folder's name.
        sample_images: extra images to show beside the grids (e.g. generated outputs).

    Missing or partial inputs are fine: a run with no stats or no samples yet still
    gets a page saying so.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder not found: {run_dir}")
    out_html = Path(out_html) if out_html is not None else run_dir / "index.html"
    out_html.parent.mkdir(parents=True, exist_ok=True)
    page = _render(run_dir, out_html.parent, title or run_dir.resolve().name, [Path(p) for p in sample_images or []])
    atomic_write_bytes(out_html, page.encode("utf-8"))
    return out_html
