"""Style-transfer benchmark: one stylizer per painting, measured on every photo.

    python benchmarks/stylize.py --photos ../shared/data/photos \\
        --styles starry_night.jpg,kandinky.png,PieterBruegel.png --minutes 5 --out /tmp/stbench > out.json

For each style image (one after another: two cores) this trains a stylizer for
``--minutes`` on the photos, as ``artgan stylize PHOTOS --style PAINTING`` does, except that
with ``--holdout`` (default) every other photo is left out of training so the figures
also show how it does on photos it never saw. Then, per photo x style, at ``--side`` px
on the photo's longer side:

- ``style_distance``: patch SWD (x1e3) between the output and the style image;
  ``style_distance_input``: the same for the unstylized photo; ``style_ratio`` = the
  first over the second (target <= 0.6: at least 40% lower).
- ``content_ssim``: SSIM of luminance between output and photo (target >= 0.5);
  ``edge_f1``: F1 of their edge maps.
- the same means at each ``--strengths`` value (the trade-off curve);
- ``infer_ms``: median milliseconds to stylize a square photo of 256, 512 and 1024 px
  (``--repeats`` runs after a warm-up; target at 512: <= 500 ms).

Prints one JSON document (command, commit, machine, rows, per-style and overall medians)
to stdout, a markdown table to stderr, and writes ``sheet.png`` in ``--out``: rows are
photos, columns are styles (the first column is the photo, the first row the styles).
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

from _common import git_commit, load_average, log, machine_info
from artgan.config import StylizerConfig
from artgan.imaging import fit_long_side, load_image, make_grid, pil_to_tensor, save_png
from artgan.metrics.style import content_ssim, style_distance
from artgan.models.stylenet import stylize_image
from artgan.tasks.stylize import Stylizer
from artgan.training.stylizer import measure_each, train_stylizer

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
DEFAULT_STYLES = "starry_night.jpg,kandinky.png,PieterBruegel.png"


def _cell(img: torch.Tensor, side: int) -> torch.Tensor:
    """(3, h, w) -> (3, side, side): scaled to fit, centred on grey."""
    small = fit_long_side(img, side)
    out = torch.zeros(3, side, side)
    y, x = (side - small.shape[1]) // 2, (side - small.shape[2]) // 2
    out[:, y : y + small.shape[1], x : x + small.shape[2]] = small
    return out


def infer_ms(st: Stylizer, repeats: int) -> dict[str, float]:
    """Median ms to stylize a random square image of 256, 512 and 1024 px."""
    out = {}
    for side in (256, 512, 1024):
        x = torch.rand(3, side, side, generator=torch.Generator().manual_seed(side)) * 2 - 1
        st(x, output="tensor")  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            st(x, output="tensor")
            times.append(time.perf_counter() - t)
        out[str(side)] = round(1000 * statistics.median(times), 1)
    return out


def strength_curve(
    st: Stylizer, style: torch.Tensor, photos: list[torch.Tensor], full: list[dict], side: int, strengths: list[float]
) -> list[dict]:
    """Median style ratio and content SSIM over the photos at each strength. Each photo is
    stylized once and blended as ``Stylizer`` does; the unstylized distances come from
    ``full`` (measure_each at strength 1), which also gives the point at strength 1."""
    points: dict[float, list[tuple[float, float]]] = {s: [] for s in strengths}
    for p, m in zip(photos, full):
        c = fit_long_side(p, side, multiple=4)
        y = stylize_image(st.net, c)
        for s in strengths:
            if s == 1.0:
                points[s].append((m["style_ratio"], m["content_ssim"]))
                continue
            b = c + s * (y - c)
            patch = min(64, *c.shape[-2:], *style.shape[-2:])
            ratio = style_distance(b, style, patch=patch, n=128) / max(m["style_distance_input"], 1e-8)
            points[s].append((ratio, content_ssim(b, c)))
    return [
        {
            "strength": s,
            "style_ratio": round(statistics.median(r for r, _ in v), 3),
            "content_ssim": round(statistics.median(q for _, q in v), 3),
        }
        for s, v in points.items()
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", default="../shared/data/photos", help="folder of content photos")
    ap.add_argument("--art", default="../shared/data/art", help="folder the --styles names are in")
    ap.add_argument("--styles", default=DEFAULT_STYLES, help="comma list of style image names in --art")
    ap.add_argument("--minutes", type=float, default=5.0, help="training minutes per style (default 5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=512, help="photos are measured at this long side (default 512)")
    ap.add_argument("--strengths", default="0.25,0.5,0.75,1", help="strengths for the trade-off curve")
    ap.add_argument("--repeats", type=int, default=5, help="timed inferences per size (median)")
    ap.add_argument(
        "--no-holdout",
        dest="holdout",
        action="store_false",
        help="train on every photo (default: every other photo is held out)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a StylizerConfig field, e.g. --set content_weight=5 (repeatable)",
    )
    ap.add_argument("--out", type=Path, default=Path("/tmp/artgan-stylize-bench"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    photo_paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    style_paths = [Path(args.art) / s.strip() for s in args.styles.split(",") if s.strip()]
    if not photo_paths or not style_paths:
        log("need photos and at least one style")
        return 2
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    strengths = [float(s) for s in args.strengths.split(",")]
    photos = [pil_to_tensor(load_image(p)) for p in photo_paths]
    train_idx = list(range(0, len(photos), 2)) if args.holdout else list(range(len(photos)))
    args.out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    rows, curves, timings, cells = [], {}, {}, []
    side = 160
    cells.append(torch.zeros(3, side, side))
    cells += [_cell(pil_to_tensor(load_image(p)), side) for p in style_paths]
    outputs: dict[str, list[torch.Tensor]] = {}
    for i, sp in enumerate(style_paths):
        log(f"[{i + 1}/{len(style_paths)}] {sp.name}")
        style = pil_to_tensor(load_image(sp))
        cfg = StylizerConfig(minutes=args.minutes, threads=args.threads, **overrides).validate()
        run = args.out / "runs" / sp.stem
        if run.exists():
            import shutil

            shutil.rmtree(run)
        t0 = time.time()
        train_stylizer(style, [photos[j] for j in train_idx], cfg, run, name=sp.name, progress=False)
        wall = time.time() - t0
        st = Stylizer.from_pretrained(run)
        # Measured against the style as training saw it (long side at most train_side).
        ref = fit_long_side(style, cfg.train_side) if max(style.shape[-2:]) > cfg.train_side else style
        each = measure_each(st.net, ref, photos, side=args.side)
        for j, (p, m) in enumerate(zip(photo_paths, each)):
            rows.append(
                {
                    "style": sp.name,
                    "photo": p.name,
                    "trained_on": j in train_idx,
                    **{k: round(v, 3) for k, v in m.items()},
                }
            )
        curve = strength_curve(st, ref, photos, each, args.side, strengths)
        curves[sp.name] = curve
        timings[sp.name] = {
            "train_minutes": round(st.info["seconds"] / 60, 2),
            "wall_minutes": round(wall / 60, 2),
            "steps": st.info["step"],
            "infer_ms": infer_ms(st, args.repeats),
            # What training's collapse guard did (absent: nothing to do).
            **{k: st.info["quality"][k] for k in ("rolled_back", "warning") if k in st.info.get("quality", {})},
        }
        log("  " + json.dumps({"curve": curve, **timings[sp.name]}))
        outputs[sp.name] = [_cell(st(fit_long_side(p, args.side), output="tensor"), side) for p in photos]
    for j, p in enumerate(photos):
        cells.append(_cell(p, side))
        cells += [outputs[sp.name][j] for sp in style_paths]
    sheet = save_png(make_grid(torch.stack(cells), nrow=len(style_paths) + 1, pad=4), args.out / "sheet.png")

    def med(rs: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rs), 3)

    keys = ("style_ratio", "content_ssim", "edge_f1")
    per_style = {sp.name: {k: med([r for r in rows if r["style"] == sp.name], k) for k in keys} for sp in style_paths}
    overall = {k: med(rows, k) for k in keys}
    held = [r for r in rows if not r["trained_on"]]
    doc = {
        "benchmark": "stylize",
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
        "commit": git_commit(),
        "machine": {**machine, "load_average_end": load_average()},
        "config": {**overrides, "minutes": args.minutes},
        "side": args.side,
        "holdout": args.holdout,
        "rows": rows,
        "per_style": per_style,
        "overall": overall,
        "held_out": {k: med(held, k) for k in keys} if held else None,
        "strength_curves": curves,
        "timings": timings,
        "targets": {"style_ratio": 0.6, "content_ssim": 0.5, "train_minutes": 5.0, "infer_ms_512": 500},
        "met": {
            "style_ratio": sum(r["style_ratio"] <= 0.6 for r in rows),
            "content_ssim": sum(r["content_ssim"] >= 0.5 for r in rows),
            "both": sum(r["style_ratio"] <= 0.6 and r["content_ssim"] >= 0.5 for r in rows),
            "of": len(rows),
        },
        "sheet": str(sheet),
    }
    print(json.dumps(doc, indent=2))
    log("\n| style | style ratio (median) | content SSIM | edge F1 | train min | infer ms 256/512/1024 |")
    log("|---|---|---|---|---|---|")
    for sp in style_paths:
        t, m = timings[sp.name], per_style[sp.name]
        log(
            f"| {sp.name} | {m['style_ratio']:.2f} | {m['content_ssim']:.2f} | {m['edge_f1']:.2f} | "
            f"{t['train_minutes']:.1f} | {t['infer_ms']['256']:.0f} / {t['infer_ms']['512']:.0f} / {t['infer_ms']['1024']:.0f} |"
        )
    log(f"overall medians {overall}; held-out photos {doc['held_out']}; sheet {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
