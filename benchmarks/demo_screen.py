"""Screen settings for the tour's texture and generator steps (``artgan demo``, issue 32).

Every variant trains for the same wall time, one after another on the same machine, for
each seed; prints one JSON document (the machine, the command, the figures) and writes a
picture of each result into ``--out`` to look at.

    python benchmarks/demo_screen.py texture --minutes 1.5 --seeds 0,1 --out /tmp/screen-tex
    python benchmarks/demo_screen.py generate --minutes 1.75 --seeds 0,1 --out /tmp/screen-gen

Texture figures: the patch SWD ratio measured by training (to the variant's own exemplar),
the same ratio to one common exemplar (the largest region screened), and the seam error of
a tileable 1024 px output. Generator figures: kimg, images/s, the training monitor's best
SWD, and a final SWD (x1e3) of 256 EMA samples to 256 training images, all drawn with seed 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from artgan.imaging import fit_long_side, load_image, make_grid, pil_to_tensor, save_png

# name -> (region x, y, w, h; TextureConfig overrides)
TEXTURE_VARIANTS: dict[str, tuple[tuple[int, int, int, int], dict[str, Any]]] = {
    "sky-160x100": ((300, 0, 160, 100), {}),
    "sky-300x110": ((300, 0, 300, 110), {}),
    "sky-300x110-patch64": ((300, 0, 300, 110), {"patch": 64}),
}
COMMON_REGION = (300, 0, 300, 110)

# name -> TrainConfig / ModelConfig overrides (existing options only)
GENERATOR_VARIANTS: dict[str, dict[str, Any]] = {
    "resgan": {},
    "dcgan": {"family": "dcgan"},
    "dcgan-no-augment": {"family": "dcgan", "augment": ()},
    "dcgan-no-augment-lr-4e-4": {"family": "dcgan", "augment": (), "lr_g": 4e-4, "lr_d": 4e-4},
}


def screen_texture(args: argparse.Namespace, names: list[str]) -> list[dict[str, Any]]:
    from artgan.config import TextureConfig
    from artgan.metrics import seam_error
    from artgan.metrics.texture import halves_patch, halves_swd, texture_swd
    from artgan.tasks.texture import TextureSynth
    from artgan.training.texture import load_exemplar

    common = load_exemplar(args.painting, COMMON_REGION)
    side = halves_patch(tuple(common.shape[-2:]))
    common_ref = halves_swd(common, patch=side)["swd/avg"]
    rows = []
    for seed in args.seeds:
        for name in names:
            region, over = TEXTURE_VARIANTS[name]
            model = args.out / f"{name}-seed{seed}"
            shutil.rmtree(model, ignore_errors=True)
            cfg = TextureConfig(minutes=args.minutes, seed=seed, **over)
            t0 = time.perf_counter()
            synth = TextureSynth.fit(args.painting, region=region, config=cfg, out=model, progress=False)
            train_s = time.perf_counter() - t0
            tex = synth(size=(1024, 1024), seed=seed, tileable=True, output="tensor")
            samples = torch.stack(
                [synth(size=(256, 256), seed=1000 + i, tileable=True, output="tensor") for i in range(4)]
            )
            to_common = texture_swd(samples, common, patch=side)["swd/avg"] / common_ref
            save_png(fit_long_side(tex.repeat(1, 2, 2), 1024)[:, :512, :512], args.out / f"{name}-seed{seed}-tiled.png")
            save_png(tex[:, :384, :384], args.out / f"{name}-seed{seed}-full-scale.png")
            q = synth.info.get("quality", {})
            row = {
                "variant": name,
                "seed": seed,
                "region": list(region),
                "overrides": over,
                "steps": synth.info.get("step"),
                "wall_s": round(train_s, 1),
                "swd_ratio_own": q.get("swd_ratio"),
                "swd_ratio_common": round(to_common, 3),
                "seam_error_1024": round(float(seam_error(tex[None])[0]), 3),
            }
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def screen_generate(args: argparse.Namespace, names: list[str]) -> list[dict[str, Any]]:
    from artgan.config import ModelConfig, TrainConfig
    from artgan.metrics.swd import swd
    from artgan.tasks.generate import Generator
    from artgan.tour import write_colour_fields
    from artgan.training.loop import train

    data = write_colour_fields(args.out / "colour-fields", 200, 64)
    reals = torch.stack([pil_to_tensor(load_image(p)) for p in sorted(data.glob("*.png"))])
    g = torch.Generator().manual_seed(0)
    reals = torch.cat([reals, reals])[torch.randperm(2 * len(reals), generator=g)[:256]]
    rows = []
    for seed in args.seeds:
        for name in names:
            over = dict(GENERATOR_VARIANTS[name])
            model = ModelConfig(resolution=64, **({"family": over.pop("family")} if "family" in over else {}))
            cfg = TrainConfig(
                model=model,
                data=str(data.resolve()),
                minutes=args.minutes,
                snapshot_kimg=2.0,
                checkpoint_kimg=8.0,
                metric_kimg=4.0,
                seed=seed,
                **over,
            )
            runs = args.out / f"runs-{name}-seed{seed}"
            shutil.rmtree(runs, ignore_errors=True)
            t0 = time.perf_counter()
            run = train(cfg, runs, progress=False)
            wall = time.perf_counter() - t0
            gen = Generator.from_pretrained(run)
            fakes = gen(n=256, seed=0, output="tensor")
            final = swd(fakes, reals, seed=0)
            save_png(make_grid(fakes[:48], nrow=8), args.out / f"{name}-seed{seed}-grid.png")
            summary = json.loads((run / "summary.json").read_text())
            row = {
                "variant": name,
                "seed": seed,
                "overrides": GENERATOR_VARIANTS[name],
                "wall_s": round(wall, 1),
                "kimg": summary.get("kimg"),
                "img_per_sec": summary.get("img_per_sec"),
                "best_swd_monitor": summary.get("best_swd"),
                "final_swd": round(final["swd/avg"], 1),
                "final_swd_levels": {k: round(v, 1) for k, v in final.items() if k != "swd/avg"},
            }
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("texture", "generate"))
    ap.add_argument("--minutes", type=float, required=True, help="training wall time of every variant")
    ap.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1])
    ap.add_argument("--variants", default="", help="comma list (default: all of the step's)")
    ap.add_argument("--painting", type=Path, default=None, help="texture source (default: the bundled Auvers)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.painting is None:
        from importlib import resources

        args.painting = args.out / "village_street_auvers.jpg"
        args.painting.write_bytes((resources.files("artgan") / "assets/demo/village_street_auvers.jpg").read_bytes())
    table = TEXTURE_VARIANTS if args.step == "texture" else GENERATOR_VARIANTS
    names = [v for v in args.variants.split(",") if v] or list(table)
    load = os.getloadavg()
    t0 = time.perf_counter()
    rows = screen_texture(args, names) if args.step == "texture" else screen_generate(args, names)
    doc = {
        "command": " ".join(sys.argv),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
        "load_at_start": load,
        "load_at_end": os.getloadavg(),
        "seconds": round(time.perf_counter() - t0, 1),
        "rows": rows,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
