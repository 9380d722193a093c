"""Texture benchmark: train one model per exemplar, then measure quality, seams and speed.

    python benchmarks/texture.py ../shared/data/textures --minutes 3 --threads 2 --out /tmp/texbench

For every image in the folder (one after another: two cores), this trains a texture model
for ``--minutes`` and then measures:

- ``swd``: patch SWD (x1e3) between crops of four 256 px tileable outputs and crops of the
  exemplar; ``halves_swd``: the same between the exemplar's own two halves (what two
  samples of one texture score); ``swd_ratio`` = swd / halves_swd (target <= 1.5).
- ``seam_tileable``: seam error (wrap-around step / interior neighbour step) of four
  1024 px ``tileable=True`` outputs (target <= 1.2); ``seam_plain``: the same for
  ``tileable=False`` outputs, for contrast; ``seam_exemplar``: the exemplar's own.
- ``render_1024_s``: seconds to render one 1024x1024 texture, median of ``--repeats``
  after a warm-up (target <= 1 s).
- ``train_minutes``, ``steps``.

Prints one JSON document (command, commit, machine, per-texture figures, medians) to
stdout, a markdown table to stderr, and writes ``sheet.png`` in ``--out``: one row per
texture with the exemplar, then two outputs each tiled 2x2 (a seam would show as a cross).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from _common import git_commit, load_average, log, machine_info
from artgan.config import TextureConfig
from artgan.imaging import make_grid, save_png
from artgan.metrics import seam_error
from artgan.tasks.texture import TextureSynth
from artgan.training.texture import load_exemplar, train_texture

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def _fit(img: torch.Tensor, side: int) -> torch.Tensor:
    """(3, h, w) -> (3, side, side): at its own scale (the outputs' scale) if it fits,
    else scaled down to fit; centred on grey."""
    _, h, w = img.shape
    s = min(1.0, side / max(h, w))
    small = F.interpolate(
        img[None],
        size=(max(1, round(h * s)), max(1, round(w * s))),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0]
    out = torch.zeros(3, side, side)
    y, x = (side - small.shape[1]) // 2, (side - small.shape[2]) // 2
    out[:, y : y + small.shape[1], x : x + small.shape[2]] = small
    return out


def bench_one(path: Path, args: argparse.Namespace) -> tuple[dict, list[torch.Tensor]]:
    ex = load_exemplar(path)
    cfg = TextureConfig(minutes=args.minutes, threads=args.threads, seed=args.seed)
    run = args.out / "runs" / path.stem
    t0 = time.time()
    folder = train_texture(ex, cfg, run, name=path.name, progress=False)
    train_s = time.time() - t0
    synth = TextureSynth.from_pretrained(folder)
    info = synth.info
    q = info["quality"]
    times = []
    synth(size=(1024, 1024), seed=0, tileable=True, output="tensor")  # warm-up
    for r in range(args.repeats):
        t = time.perf_counter()
        synth(size=(1024, 1024), seed=r, tileable=True, output="tensor")
        times.append(time.perf_counter() - t)
    tiled = torch.stack([synth(size=(1024, 1024), seed=s, tileable=True, output="tensor") for s in range(4)])
    plain = torch.stack([synth(size=(1024, 1024), seed=s, tileable=False, output="tensor") for s in range(4)])
    row = {
        "texture": path.name,
        "size": list(ex.shape[-2:]),
        "patch": info["texture"]["patch"],
        "steps": info["step"],
        "train_minutes": round(info["seconds"] / 60, 2),
        "wall_minutes": round(train_s / 60, 2),
        "swd": q["swd"],
        "halves_swd": q["halves_swd"],
        "swd_ratio": q["swd_ratio"],
        "swd_patch": q["patch"],
        "seam_tileable": round(float(seam_error(tiled).mean()), 3),
        "seam_plain": round(float(seam_error(plain).mean()), 3),
        "seam_exemplar": round(float(seam_error(ex[None])[0]), 3),
        "render_1024_s": round(statistics.median(times), 3),
    }
    return row, sheet_cells(synth, ex)


def sheet_cells(synth: TextureSynth, ex: torch.Tensor, side: int = 192) -> list[torch.Tensor]:
    """The exemplar at its own scale, then two outputs of ``side`` px each tiled 2x2."""
    cells = [_fit(ex, 2 * side)]
    for s in (0, 1):
        cells.append(synth(size=(side, side), seed=s, tileable=True, output="tensor").repeat(1, 2, 2))
    return cells


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", default="../shared/data/textures", help="folder of exemplar images")
    ap.add_argument("--minutes", type=float, default=3.0, help="training minutes per texture (default 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="timed 1024 px renders per texture (median)")
    ap.add_argument("--only", default=None, help="comma list of file names or stems to run")
    ap.add_argument("--out", type=Path, default=Path("/tmp/artgan-texture-bench"))
    ap.add_argument("--sheet-only", action="store_true", help="only redraw sheet.png from the runs already in --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    files = sorted(p for p in data.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if args.only:
        keep = {s.strip() for s in args.only.split(",")}
        files = [p for p in files if p.name in keep or p.stem in keep]
    if not files:
        log(f"no images in {data}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.sheet_only:
        cells = []
        for path in files:
            cells += sheet_cells(TextureSynth.from_pretrained(args.out / "runs" / path.stem), load_exemplar(path))
        log(f"sheet: {save_png(make_grid(torch.stack(cells), nrow=3, pad=8), args.out / 'sheet.png')}")
        return 0
    machine = machine_info()
    rows, cells = [], []
    for i, path in enumerate(files):
        log(f"[{i + 1}/{len(files)}] {path.name}")
        row, c = bench_one(path, args)
        log("  " + json.dumps(row))
        rows.append(row)
        cells += c
    sheet = save_png(make_grid(torch.stack(cells), nrow=3, pad=8), args.out / "sheet.png")
    med = {
        k: round(statistics.median(r[k] for r in rows), 3)
        for k in ("swd_ratio", "seam_tileable", "seam_plain", "render_1024_s", "train_minutes")
    }
    doc = {
        "benchmark": "texture",
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
        "commit": git_commit(),
        "machine": {**machine, "load_average_end": load_average()},
        "minutes": args.minutes,
        "results": rows,
        "medians": med,
        "targets": {"swd_ratio": 1.5, "seam_tileable": 1.2, "render_1024_s": 1.0, "train_minutes": 3.0},
        "met": {
            "swd_ratio": sum(r["swd_ratio"] <= 1.5 for r in rows),
            "seam_tileable": sum(r["seam_tileable"] <= 1.2 for r in rows),
            "render_1024_s": sum(r["render_1024_s"] <= 1.0 for r in rows),
            "of": len(rows),
        },
        "sheet": str(sheet),
    }
    print(json.dumps(doc, indent=2))
    log("\n| texture | size | steps | SWD | halves SWD | ratio | seam tileable | seam plain | 1024 px render s |")
    log("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        log(
            f"| {r['texture']} | {r['size'][1]}x{r['size'][0]} | {r['steps']} | {r['swd']:.1f} | {r['halves_swd']:.1f} | "
            f"{r['swd_ratio']:.2f} | {r['seam_tileable']:.2f} | {r['seam_plain']:.2f} | {r['render_1024_s']:.2f} |"
        )
    log(f"medians: {med}; sheet: {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
