"""``artgan demo``: draw a sample collection, train on it, write a gallery."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_out, add_progress, check_out_dir, need, new_parser, say


def register(sub: argparse._SubParsersAction) -> None:
    p, g = new_parser(sub, "demo", "a short tour: draw a sample collection, train on it, write a gallery")
    g["essential"].add_argument("--minutes", type=float, default=4.0, help="training time (default: 4)")
    add_out(g["budget"], "demo-output", "folder for the collection, the run and the gallery")
    add_progress(g["budget"])
    g["advanced"].add_argument(
        "--resolution",
        type=int,
        default=32,
        help="image size in px; 32 learns the demo set best in 4 CPU minutes (default: 32)",
    )
    p.set_defaults(func=cmd_demo)


def cmd_demo(a: argparse.Namespace) -> int:
    need(a.minutes > 0, f"--minutes {a.minutes:g}: must be positive")
    out = check_out_dir(a.out)
    from ..config import ModelConfig, TrainConfig
    from ..data.procedural import write_procedural_set
    from ..gallery import write_gallery
    from ..imaging import make_grid, save_png
    from ..tasks.generate import Generator
    from ..training.loop import train

    data = out / "data"
    write_procedural_set(data, n=48, size=96, seed=0)
    say(f"demo: drew 48 procedural paintings into {data}")
    cfg = TrainConfig(
        model=ModelConfig(resolution=a.resolution),
        data=str(data.resolve()),
        minutes=a.minutes,
        snapshot_kimg=2.0,
        checkpoint_kimg=8.0,
        seed=0,
    )
    run = train(cfg, out / "runs", progress=not a.no_progress)
    g = Generator.from_pretrained(run)
    imgs = g(n=32, seed=1000, output="tensor")
    extra = save_png(
        make_grid(imgs, nrow=8), run / "samples" / "generated-seeds1000-1031.png", metadata={"artgan:model": g.model_id}
    )
    html = write_gallery(run, title="artgan demo", sample_images=[extra])
    say(f"\ndemo finished.\n  gallery: {html.resolve()}\n  samples: {extra.resolve()}\n  model:   {run.resolve()}")
    print(Path(html).resolve())
    return 0
