"""The tour behind ``artgan demo``: what artgan does best, in a few CPU minutes.

Three steps, each trained from scratch on pictures bundled in ``artgan/assets/demo``
(public domain or CC0; see SOURCES.md there), then one page:

1. a tileable 1024 px texture learned from a patch of a painting, shown tiled 2x2, with
   its seam error (:func:`artgan.metrics.seam_error`, as ``benchmarks/texture.py``);
2. two photos in the style of a painting, with the style distance ratio and content SSIM
   of each (:mod:`artgan.metrics.style`, as ``benchmarks/stylize.py``);
3. a 64 px generator trained for the remaining minutes on 200 procedurally drawn colour-field
   paintings (soft stacked blocks of colour, after Rothko: a style this small a GAN learns
   in a few CPU minutes): generated works beside training images, and a latent walk as a GIF;
4. ``index.html``, which shows all three with the commands that make them.

The output folder is laid out as a studio workspace (``collections/``, ``runs/``,
``outputs/``), so ``artgan studio --workspace DIR`` opens on the same files::

    DIR/index.html  tour.json        the page, and its figures as JSON
    DIR/inputs/                      the bundled pictures (the page's commands use them)
    DIR/collections/colour-fields/   the generator's training images
    DIR/runs/NNNNN-colour-fields-resgan-64/ the generator's run folder
    DIR/models/texture|stylizer/     the texture and stylizer runs
    DIR/outputs/texture|stylize|generate/   the pictures the page shows

The budget (``minutes``) is wall clock for the three steps and the page together. The
texture and stylizer get fixed shares of it; the generator gets whatever is left, so
slow steps shorten its training rather than the tour's total. Below about a minute the
steps' fixed costs (measuring, rendering, the first checkpoint) dominate and the tour
takes longer than asked.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import __version__
from .imaging import atomic_write_bytes, fit_long_side, load_image, make_grid, pil_to_tensor, save_gif, save_png

__all__ = ["ASSETS", "TourPlan", "TourResult", "run_tour", "split_budget"]

# The bundled pictures (artgan/assets/demo). Sources and licences: SOURCES.md there.
ASSETS: dict[str, str] = {
    "texture_source": "village_street_auvers.jpg",  # Van Gogh, its sky is the texture exemplar
    "style": "starry_night.jpg",  # Van Gogh, the stylizer's painting
    "photo_cat": "chelsea.jpg",  # CC0 photos to stylize
    "photo_cup": "coffee.jpg",
}
PHOTOS = ("photo_cat", "photo_cup")
# x, y, w, h in the painting: brush strokes of blue sky on white, no roof or tree in it.
# The whole right half of the sky, more strokes per D crop than a 160x100 patch of it
# (1.5 min screen, two seeds: patch SWD ratio 1.3 / 2.5 against 4.4 / 2.5; docs/benchmarks/demo.md).
TEXTURE_REGION = (300, 0, 300, 110)
COLLECTION = "colour-fields"
# Colour families of the colour fields (sRGB): the ground and the blocks are drawn from one.
FIELD_FAMILIES: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((120, 28, 30), (214, 96, 40), (236, 170, 60), (70, 12, 20)),  # reds and oranges
    ((24, 40, 78), (40, 96, 120), (12, 16, 30), (150, 170, 180)),  # blues
    ((214, 170, 40), (236, 120, 30), (246, 220, 150), (170, 60, 30)),  # yellows
    ((40, 70, 50), (110, 140, 80), (20, 30, 24), (200, 190, 120)),  # greens
    ((90, 40, 90), (200, 80, 110), (40, 20, 50), (230, 160, 150)),  # plums
)


@dataclass(frozen=True)
class TourPlan:
    """What the tour does and how long it may take.

    ``minutes`` is the wall-clock budget of the whole tour; ``texture_share`` and
    ``stylize_share`` of it train the texture and the stylizer, the rest (less
    ``reserve_s`` for the page) trains the generator. The sizes are the outputs' sizes;
    tests shrink them.
    """

    minutes: float = 5.0
    texture_share: float = 0.30  # 1.5 of 5 minutes (0.75 left a fine noise: docs/benchmarks/demo.md)
    stylize_share: float = 0.25  # 1.25 of 5 minutes
    # After the generator's training: its samples, the walk and the page (about 5 s), plus the
    # training loop's own end-of-run overshoot on a busy machine.
    reserve_s: float = 15.0
    min_train_minutes: float = 0.05  # no step trains for less, whatever the budget
    texture_size: int = 1024  # px, square
    fields: int = 200  # colour-field paintings drawn for the generator
    stylize_side: int = 512  # photos are stylized and measured at this long side
    resolution: int = 64  # the generator's
    walk_keyframes: int = 6
    seed: int = 0
    progress: bool = True
    # Step budgets instead of minutes (tests: a few steps whatever the machine's speed).
    texture_steps: int | None = None
    stylize_steps: int | None = None
    generator_kimg: float | None = None
    generator_swd: bool = True  # measure SWD while training (tests turn it off: it renders 256 images)

    def validate(self) -> TourPlan:
        if not self.minutes > 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        if not (0 < self.texture_share and 0 < self.stylize_share and self.texture_share + self.stylize_share < 0.9):
            raise ValueError("texture_share and stylize_share must be positive and leave the generator 10%")
        return self


def split_budget(plan: TourPlan) -> dict[str, float]:
    """Planned training minutes of each step (the generator's is re-computed when it starts)."""
    total = plan.minutes * 60
    tex = max(plan.min_train_minutes, plan.minutes * plan.texture_share)
    sty = max(plan.min_train_minutes, plan.minutes * plan.stylize_share)
    gen = max(plan.min_train_minutes, (total - plan.reserve_s) / 60 - tex - sty)
    return {"texture": round(tex, 3), "stylize": round(sty, 3), "generate": round(gen, 3)}


@dataclass
class TourResult:
    """Where the tour wrote its page, and the figures it printed (also in ``tour.json``)."""

    out: Path
    page: Path
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step and the total
    figures: dict[str, Any] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _copy_assets(inputs: Path) -> dict[str, Path]:
    """Copy the bundled pictures into ``inputs`` (the page's commands name these copies)."""
    root = resources.files("artgan") / "assets" / "demo"
    out = {}
    for key, name in ASSETS.items():
        dst = inputs / name
        if not dst.exists():
            atomic_write_bytes(dst, (root / name).read_bytes())
        out[key] = dst
    return out


def _fresh(folder: Path) -> Path:
    """Remove the tour's own earlier model folder (a re-run replaces it)."""
    if folder.exists():
        shutil.rmtree(folder)
    return folder


def _timed(name: str, seconds: dict[str, float], fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    result = fn()
    seconds[name] = round(time.perf_counter() - t0, 1)
    _say(f"  {name}: {seconds[name]:.1f} s wall")
    return result


# ------------------------------------------------------------------------------ steps


def texture_step(plan: TourPlan, src: Path, out: Path, minutes: float) -> dict[str, Any]:
    """Train a texture model on ``TEXTURE_REGION`` of ``src``; write a tileable texture and
    its 2x2 tiling; return the seam figures (and the SWD ratio measured by training)."""
    from .config import TextureConfig
    from .metrics import seam_error
    from .tasks.texture import TextureSynth

    steps = plan.texture_steps
    cfg = TextureConfig(minutes=None if steps else minutes, steps=steps, seed=plan.seed)
    model = _fresh(out / "models" / "texture")
    synth = TextureSynth.fit(src, region=TEXTURE_REGION, config=cfg, out=model, progress=plan.progress)
    side = plan.texture_size
    tex = synth(size=(side, side), seed=plan.seed, tileable=True, output="tensor")  # (3, side, side)
    plain = synth(size=(side, side), seed=plan.seed, tileable=False, output="tensor")
    meta = {"artgan:model": synth.model_id, "artgan:seed": str(plan.seed), "artgan:kind": "texture"}
    folder = out / "outputs" / "texture"
    save_png(tex, folder / f"texture-{side}px-tileable.png", metadata=meta)
    # 2x2 at half scale: the same pixels per inch as one tile of the page, and a seam would
    # show as a cross through the middle.
    tiled = fit_long_side(tex.repeat(1, 2, 2), side)
    save_png(tiled, folder / "tiled-2x2.png", metadata={**meta, "artgan:kind": "texture tiled 2x2"})
    ex = pil_to_tensor(load_image(model / "model" / "exemplar.png"))
    save_png(ex, folder / "exemplar.png", metadata={"artgan:kind": "exemplar"})
    q = synth.info.get("quality", {})
    return {
        "seam_error": round(float(seam_error(tex[None])[0]), 3),
        "seam_error_plain": round(float(seam_error(plain[None])[0]), 3),
        "seam_error_exemplar": round(float(seam_error(ex[None])[0]), 3),
        "swd_ratio": q.get("swd_ratio"),
        "steps": synth.info.get("step"),
        "train_minutes": round(float(synth.info.get("seconds", 0.0)) / 60, 2),
        "size": side,
        "exemplar": f"{TEXTURE_REGION[2]}x{TEXTURE_REGION[3]} px",
    }


def stylize_step(plan: TourPlan, style: Path, photos: list[Path], out: Path, minutes: float) -> dict[str, Any]:
    """Train a stylizer for ``style`` on ``photos``, stylize them, and measure each as
    ``benchmarks/stylize.py`` does (at ``plan.stylize_side`` px, against the style image
    as training saw it)."""
    from .config import StylizerConfig
    from .tasks.stylize import Stylizer
    from .training.stylizer import measure_each

    steps = plan.stylize_steps
    cfg = StylizerConfig(minutes=None if steps else minutes, steps=steps, seed=plan.seed)
    model = _fresh(out / "models" / "stylizer")
    st = Stylizer.fit(style, photos, config=cfg, out=model, progress=plan.progress)
    style_t = pil_to_tensor(load_image(style))
    ref = fit_long_side(style_t, cfg.train_side) if max(style_t.shape[-2:]) > cfg.train_side else style_t
    ins = [pil_to_tensor(load_image(p)) for p in photos]
    rows = measure_each(st.net, ref, ins, side=plan.stylize_side)
    folder = out / "outputs" / "stylize"
    per_photo = {}
    for p, x, m in zip(photos, ins, rows):
        y = st(x, size=plan.stylize_side, seed=plan.seed, output="tensor")
        save_png(y, folder / f"{p.stem}.png", metadata={"artgan:model": f"stylizer:{style.name}", "artgan:seed": "0"})
        per_photo[p.name] = {k: round(float(m[k]), 3) for k in ("style_ratio", "content_ssim", "edge_f1")}
    return {
        "per_photo": per_photo,
        "style_ratio": round(statistics.median(r["style_ratio"] for r in per_photo.values()), 3),
        "content_ssim": round(statistics.median(r["content_ssim"] for r in per_photo.values()), 3),
        "steps": st.info.get("step"),
        "train_minutes": round(float(st.info.get("seconds", 0.0)) / 60, 2),
        "warning": st.warning,
        "side": plan.stylize_side,
    }


def _smooth_noise(g: torch.Generator, size: int, cells: int) -> torch.Tensor:
    """(size, size) noise in [0, 1] with blotches about size/cells wide."""
    n = torch.rand(1, 1, cells, cells, generator=g)
    return F.interpolate(n, size=(size, size), mode="bicubic", align_corners=False)[0, 0]


def colour_field(seed: int, size: int = 64) -> torch.Tensor:
    """One procedural colour-field painting (3, size, size) in [-1, 1]: two or three soft-edged
    blocks of colour stacked on a ground, with uneven paint and horizontal brush drag.

    Smooth, large shapes in a few related colours: a 64 px GAN gets their layout and palette
    within a few thousand images, where photographs or painting patches need far more.
    """
    g = torch.Generator().manual_seed(seed)

    def u(a: float, b: float) -> float:
        return a + (b - a) * float(torch.rand((), generator=g))

    family = FIELD_FAMILIES[int(torch.randint(len(FIELD_FAMILIES), (), generator=g))]
    cols = [torch.tensor(c, dtype=torch.float32) * u(0.85, 1.15) for c in family]
    order = torch.randperm(len(cols), generator=g).tolist()
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    img = cols[order[0]][:, None, None] * (1 + 0.08 * (yy - 0.5))[None]  # the ground, lighter at the top
    blocks = 2 if u(0, 1) < 0.6 else 3
    margin, gap, soft = u(0.08, 0.16), u(0.04, 0.08), 0.015
    weights = torch.rand(blocks, generator=g) + 0.5
    heights = (weights / weights.sum() * (1 - 2 * margin - gap * (blocks - 1))).tolist()
    y0 = margin
    for i, h in enumerate(heights):
        wobble = (_smooth_noise(g, size, 5) - 0.5) * 0.03  # edges painted by hand
        m = torch.sigmoid((xx - margin + wobble) / soft) * torch.sigmoid((1 - margin - xx + wobble) / soft)
        m = m * torch.sigmoid((yy - y0 + wobble) / soft) * torch.sigmoid((y0 + h - yy + wobble) / soft)
        m = m * (0.85 + 0.15 * _smooth_noise(g, size, 7))  # uneven paint
        colour = cols[order[1 + i % (len(cols) - 1)]]
        img = img * (1 - m) + colour[:, None, None] * m
        y0 += h + gap
    drag = F.interpolate(torch.randn(1, 1, size, max(2, size // 8), generator=g), size=(size, size), mode="bilinear")
    img = img * (1 + 0.04 * drag[0]) + 3 * torch.randn(1, size, size, generator=g)
    return img.clamp(0, 255) / 127.5 - 1


def write_colour_fields(folder: Path, n: int, size: int = 64) -> Path:
    """Draw ``n`` colour fields (seeds 0..n-1) into ``folder`` as PNGs, unless already there."""
    for i in range(n):
        p = folder / f"field{i:03d}.png"
        if not p.exists():
            save_png(
                colour_field(i, size), p, metadata={"artgan:kind": "procedural colour field", "artgan:seed": str(i)}
            )
    return folder


def generate_step(plan: TourPlan, out: Path, minutes: float) -> dict[str, Any]:
    """Train a generator on the colour fields, then write generated works beside training
    images and a latent walk."""
    from .config import ModelConfig, TrainConfig
    from .tasks.generate import Generator
    from .training.loop import train

    data = out / "collections" / COLLECTION  # drawn by run_tour before the first step
    cfg = TrainConfig(
        model=ModelConfig(resolution=plan.resolution),
        data=str(data.resolve()),
        minutes=None if plan.generator_kimg else minutes,
        kimg=plan.generator_kimg,
        snapshot_kimg=2.0,
        checkpoint_kimg=8.0,
        seed=plan.seed,
        metric_kimg=4.0 if plan.generator_swd else 0.0,
    )
    run = train(cfg, out / "runs", progress=plan.progress)
    g = Generator.from_pretrained(run)
    fakes = make_grid(g(n=64, seed=plan.seed, output="tensor"), nrow=8)  # (3, 8*(R+2)+2, ...)
    reals = pil_to_tensor(load_image(run / "samples" / "reals.png"))
    h = max(reals.shape[1], fakes.shape[1])
    gap = torch.ones(3, h, 16)  # white
    side_by_side = torch.cat([_pad_to(reals, h), gap, _pad_to(fakes, h)], dim=2)
    folder = out / "outputs" / "generate"
    meta = {"artgan:model": g.model_id, "artgan:seed": f"{plan.seed}-{plan.seed + 63}"}
    save_png(fakes, folder / "grid.png", metadata=meta)
    save_png(side_by_side, folder / "reals-left-generated-right.png", metadata=meta)
    frames = g.walk(plan.walk_keyframes, seed=plan.seed, steps=12)
    save_gif(frames, folder / "walk.gif", fps=12)
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    return {
        "run": run.name,
        "kimg": summary.get("kimg"),
        "img_per_sec": summary.get("img_per_sec"),
        "best_swd": summary.get("best_swd"),
        "copies": summary.get("copies"),
        "train_minutes": summary.get("minutes"),
        "resolution": plan.resolution,
        "fields": plan.fields,
    }


def _pad_to(img: torch.Tensor, h: int) -> torch.Tensor:
    """(3, h0, w) -> (3, h, w), white below."""
    if img.shape[1] >= h:
        return img
    return torch.cat([img, torch.ones(3, h - img.shape[1], img.shape[2])], dim=1)


# ------------------------------------------------------------------------------ the tour

# Training a step needs to look like anything: about what a quiet 2-core CPU does in the
# default shares of 5 minutes is 250 texture steps, 130 stylizer steps and 5 kimg.
ENOUGH = {"texture": 150, "stylize": 80, "generate": 2.0}


def starved_note(figures: dict[str, Any]) -> str | None:
    """A sentence for the page when a busy or slow CPU left the steps too little training."""
    short = []
    t, s, g = figures.get("texture", {}), figures.get("stylize", {}), figures.get("generate", {})
    if (t.get("steps") or 0) < ENOUGH["texture"]:
        short.append(f"the texture {t.get('steps') or 0} training steps")
    if (s.get("steps") or 0) < ENOUGH["stylize"]:
        short.append(f"the stylizer {s.get('steps') or 0} steps")
    if (g.get("kimg") or 0.0) < ENOUGH["generate"]:
        short.append(f"the generator {g.get('kimg') or 0:g} thousand images")
    if not short:
        return None
    return (
        "this CPU was busy or slow, so " + ", ".join(short) + " fit in the budget, and those results are "
        "rough. A quiet 2-core machine fits about 250 texture steps, 130 stylizer steps and 5 thousand "
        "images in 5 minutes; artgan demo --minutes 10 gives every step twice the time."
    )


def commands(plan: TourPlan, budget: dict[str, float], run_name: str | None) -> dict[str, list[str]]:
    """The CLI commands that do what each step did, run from inside the output folder."""
    x, y, w, h = TEXTURE_REGION
    photos = " ".join(f"inputs/{ASSETS[k]}" for k in PHOTOS)
    run = f"runs/{run_name}" if run_name else "runs/00000-..."
    return {
        "texture": [
            f"artgan texture --from inputs/{ASSETS['texture_source']} --region {x},{y},{w},{h} "
            f"--size {plan.texture_size} --n 1 --tileable --minutes {budget['texture']:g} --out outputs/texture"
        ],
        "stylize": [
            f"artgan stylize {photos} --style inputs/{ASSETS['style']} --long-side {plan.stylize_side} "
            f"--minutes {budget['stylize']:g} --out outputs/stylize"
        ],
        "generate": [
            f"artgan train collections/{COLLECTION} --resolution {plan.resolution} --minutes {budget['generate']:g} "
            "--out runs",
            f"artgan generate --model {run} --n 64 --interpolate {plan.walk_keyframes} --out outputs/generate",
        ],
    }


def run_tour(out: str | os.PathLike, plan: TourPlan | None = None) -> TourResult:
    """Run the three steps into ``out`` within ``plan.minutes`` and write ``index.html``."""
    plan = (plan or TourPlan()).validate()
    t_start = time.perf_counter()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    inputs = _copy_assets(root / "inputs")
    # Drawn first (a few seconds) so that the generator's share is computed after it.
    write_colour_fields(root / "collections" / COLLECTION, plan.fields, plan.resolution)
    budget = split_budget(plan)
    seconds: dict[str, float] = {}
    figures: dict[str, Any] = {}
    _say(
        f"artgan demo: a {plan.minutes:g}-minute tour into {root} (texture {budget['texture']:g} min, "
        f"stylize {budget['stylize']:g} min, generator the rest, about {budget['generate']:g} min)"
    )

    _say(f"\n[1/3] a tileable texture from a patch of the sky in {ASSETS['texture_source']}")
    figures["texture"] = _timed(
        "texture", seconds, lambda: texture_step(plan, inputs["texture_source"], root, budget["texture"])
    )
    t = figures["texture"]
    _say(
        f"  seam error {t['seam_error']:.2f} at {t['size']} px, tileable (1 = no seam; "
        f"the same model without --tileable: {t['seam_error_plain']:.2f})"
    )

    _say(f"\n[2/3] two photos in the style of {ASSETS['style']}")
    photos = [inputs[k] for k in PHOTOS]
    figures["stylize"] = _timed(
        "stylize", seconds, lambda: stylize_step(plan, inputs["style"], photos, root, budget["stylize"])
    )
    s = figures["stylize"]
    for name, m in s["per_photo"].items():
        _say(
            f"  {name}: style distance ratio {m['style_ratio']:.2f} (lower = more style), "
            f"content SSIM {m['content_ssim']:.2f}"
        )
    if s["warning"]:
        _say(f"  warning: the stylizer's {s['warning']}")

    left = plan.minutes * 60 - (time.perf_counter() - t_start) - plan.reserve_s
    budget["generate"] = round(max(plan.min_train_minutes, left / 60), 3)
    _say(
        f"\n[3/3] a {plan.resolution} px generator trained on {plan.fields} procedural colour-field paintings "
        f"for {budget['generate']:g} min"
    )
    figures["generate"] = _timed("generate", seconds, lambda: generate_step(plan, root, budget["generate"]))
    gfig = figures["generate"]
    _say(f"  {gfig['kimg']} kimg at {gfig['img_per_sec']} images/s; best SWD {gfig['best_swd']}")

    note = starved_note(figures)
    if note:
        _say(f"\nnote: {note}")
    cmds = commands(plan, budget, gfig.get("run"))
    seconds["total"] = round(time.perf_counter() - t_start, 1)
    result = TourResult(out=root, page=root / "index.html", seconds=seconds, figures=figures, commands=cmds)
    doc = {
        "artgan_version": __version__,
        "minutes": plan.minutes,
        "budget_minutes": budget,
        "seconds": seconds,
        "figures": figures,
        "commands": cmds,
        "threads": torch.get_num_threads(),
        "note": note,
    }
    atomic_write_bytes(root / "tour.json", (json.dumps(doc, indent=2) + "\n").encode())
    atomic_write_bytes(result.page, render_page(doc).encode())
    seconds["total"] = round(time.perf_counter() - t_start, 1)
    return result


# ------------------------------------------------------------------------------ the page

_CSS = """
body{font:16px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#faf8f4;color:#222}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:34px 0 6px;border-top:1px solid #ddd;padding-top:18px}
p.lead{color:#555;margin:0 0 12px}
.row{display:flex;gap:14px;align-items:flex-start;flex-wrap:wrap}
.col{display:flex;flex-direction:column;gap:12px}
figure{margin:0}figcaption{font-size:13px;color:#666;margin-top:4px}
img{display:block;max-width:100%;height:auto;border-radius:3px}
img.pixel{image-rendering:pixelated}
pre{background:#222;color:#eee;padding:10px 12px;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px;margin:8px 0}
table{border-collapse:collapse;font-size:14px;margin:8px 0}
td,th{padding:3px 10px;border-bottom:1px solid #e3e3e3;text-align:left}th{color:#555;font-weight:600}
.fig{font-weight:600}
footer{margin-top:36px;font-size:13px;color:#666}
p.note{background:#fff4d6;border:1px solid #e8d08a;padding:8px 12px;border-radius:4px}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(src: str, alt: str, width: int | None = None, cls: str = "") -> str:
    w = f' width="{width}"' if width else ""
    c = f' class="{cls}"' if cls else ""
    return f'<img src="{_e(src)}" alt="{_e(alt)}"{w}{c}>'


def _fig(src: str, caption: str, width: int | None = None, cls: str = "") -> str:
    return f"<figure>{_img(src, caption, width, cls)}<figcaption>{_e(caption)}</figcaption></figure>"


def _pre(lines: list[str]) -> str:
    return "<pre>" + "\n".join(_e(line) for line in lines) + "</pre>"


def render_page(doc: dict[str, Any]) -> str:
    """The tour's ``index.html`` from its ``tour.json`` document (relative links only)."""
    f, sec, cmds = doc["figures"], doc["seconds"], doc["commands"]
    t, s, g = f["texture"], f["stylize"], f["generate"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>artgan demo</title><style>{_CSS}</style></head><body><main>",
        "<h1>artgan: a tour in " + _e(f"{doc['minutes']:g}") + " minutes</h1>",
        '<p class="lead">Everything below was trained from scratch on this computer\'s CPU '
        f"({doc['threads']} threads) in {sec['total'] / 60:.1f} minutes, from the pictures in "
        "<code>inputs/</code>, with nothing downloaded. Each section gives the commands that do the same "
        "from this folder.</p>",
        f'<p class="note"><b>Note:</b> {_e(doc["note"])}</p>' if doc.get("note") else "",
        # 1. texture
        f"<h2>1. A seamless texture <small>({sec['texture']:.0f} s)</small></h2>",
        f"<p>A texture model learned the brushwork of a {_e(t['exemplar'])} patch of Van Gogh's sky "
        f"({t['steps']} training steps in {t['train_minutes']:g} min), then painted a "
        f"{t['size']} px texture that wraps around. Shown tiled 2x2: a seam would show as a cross.</p>",
        '<div class="row"><div class="col">',
        _fig(f"inputs/{ASSETS['texture_source']}", "Van Gogh, Village Street in Auvers, 1890", 300),
        _fig("outputs/texture/exemplar.png", "the exemplar: a patch of its sky", 200),
        "</div>",
        f'<a href="outputs/texture/texture-{t["size"]}px-tileable.png">'
        + _fig("outputs/texture/tiled-2x2.png", f"{t['size']} px output, tiled 2x2 (click: one tile at full size)", 560)
        + "</a>",
        "</div>",
        "<table><tr><th>seam error, tileable output</th><th>same model, not tileable</th>"
        "<th>patch SWD ratio to the exemplar</th></tr>"
        f'<tr><td class="fig">{t["seam_error"]:.2f}</td><td>{t["seam_error_plain"]:.2f}</td>'
        f"<td>{_num(t['swd_ratio'])}</td></tr></table>",
        "<p><small>Seam error: the step across the wrap-around edges over the step between neighbouring "
        "pixels inside (1 = no seam). Patch SWD ratio: distance of output patches to the exemplar's over "
        "the distance between the exemplar's own two halves (1 = as close as the exemplar is to "
        "itself).</small></p>",
        _pre(cmds["texture"]),
        # 2. stylize
        f"<h2>2. Photos in the style of a painting <small>({sec['stylize']:.0f} s)</small></h2>",
        f"<p>A stylizer for <i>The Starry Night</i>, trained on the two photos "
        f"({s['steps']} steps in {s['train_minutes']:g} min): each photo is recoloured onto the painting's "
        "palette, then a generator paints the brushwork on it.</p>",
        '<div class="row">',
        _fig(f"inputs/{ASSETS['style']}", "Van Gogh, The Starry Night, 1889", 300),
        '<div class="col">',
    ]
    for key in PHOTOS:
        name = ASSETS[key]
        stem = Path(name).stem
        parts.append(
            '<div class="row">'
            + _fig(f"inputs/{name}", "photo", 260)
            + _fig(f"outputs/stylize/{stem}.png", "stylized", 260)
            + "</div>"
        )
    parts += [
        "</div></div>",
        "<table><tr><th>photo</th><th>style distance ratio</th><th>content SSIM</th><th>edge F1</th></tr>",
    ]
    for name, m in s["per_photo"].items():
        parts.append(
            f'<tr><td>{_e(name)}</td><td class="fig">{m["style_ratio"]:.2f}</td>'
            f'<td class="fig">{m["content_ssim"]:.2f}</td><td>{m["edge_f1"]:.2f}</td></tr>'
        )
    parts += [
        "</table>",
        f"<p><small>At {s['side']} px. Style distance ratio: patch SWD of the output to the painting over "
        "that of the photo (lower = more of the painting's style). Content SSIM: structural similarity of "
        "the output's luminance to the photo's (1 = same layout).</small></p>",
    ]
    if s.get("warning"):
        parts.append(f"<p><b>Warning:</b> the stylizer's {_e(s['warning'])}</p>")
    parts += [
        _pre(cmds["stylize"]),
        # 3. generate
        f"<h2>3. New works in a learned style <small>({sec['generate']:.0f} s)</small></h2>",
        f"<p>A {g['resolution']} px generator (resgan) trained for {_num(g['train_minutes'])} min "
        f"({_num(g['kimg'])} thousand images seen, {_num(g['img_per_sec'])} images/s) on {g['fields']} colour-field "
        "paintings the tour drew itself (soft blocks of colour, after Rothko: a style a small GAN learns in "
        "minutes; <code>collections/colour-fields/</code>). Left: training images. Right: generated works, "
        "seeds 0-63.</p>",
        _fig("outputs/generate/reals-left-generated-right.png", "training images (left), generated (right)"),
        '<div class="row">',
        _fig("outputs/generate/walk.gif", "a walk through the generator's latent space", 256, "pixel"),
        "</div>",
        f"<p><small>Best SWD to the training images during training (x1e3, lower is better): "
        f"{_num(g['best_swd'])}; near-copies of training images among 256 samples: {_pct(g['copies'])}.</small></p>",
        _pre(cmds["generate"]),
        # footer
        "<h2>Next</h2>",
        _pre(["artgan studio --workspace ."]),
        "<p>opens the studio on these files (the collection, the run and the outputs). "
        "<code>artgan COMMAND -h</code> lists every option.</p>",
        f"<footer>artgan {_e(doc['artgan_version'])}. Wall time: texture {sec['texture']:.0f} s, stylize "
        f"{sec['stylize']:.0f} s, generator {sec['generate']:.0f} s, total {sec['total']:.0f} s. "
        "Pictures: see <code>SOURCES.md</code> in <code>artgan/assets/demo</code>.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def _num(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return _e(v)
