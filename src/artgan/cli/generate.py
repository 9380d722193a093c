"""``artgan generate`` and ``artgan evaluate``: use a trained generator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import (
    UsageError,
    add_device,
    add_out,
    add_precision,
    announce_device,
    check_out_dir,
    need,
    new_parser,
    resolve_device,
    resolve_precision,
    say,
)


def _add_model(
    g: argparse._ArgumentGroup, what: str = "run folder (or model / checkpoint folder) to use (required)"
) -> None:
    g.add_argument("--model", metavar="RUN", default=None, help=what)
    g.add_argument(
        "--best", action="store_true", help="a run's best checkpoint (by training SWD), not its latest (default: off)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p, g = new_parser(sub, "generate", "generate new works from a trained model")
    _add_model(g["essential"])
    g["essential"].add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    g["essential"].add_argument("--seed", type=int, default=0, help="first seed; image i uses seed+i (default: 0)")
    add_out(g["budget"], "outputs/generate", "folder for the PNGs and grid.png")
    g["advanced"].add_argument(
        "--truncation", type=float, default=1.0, help="in (0, 1]: lower is safer and less varied (default: 1)"
    )
    g["advanced"].add_argument(
        "--interpolate",
        type=int,
        default=0,
        metavar="K",
        help="also write walk.gif through K >= 2 seeds (default: 0, none)",
    )
    g["advanced"].add_argument("--frames", type=int, default=16, help="walk frames between two seeds (default: 16)")
    g["advanced"].add_argument("--fps", type=float, default=12.0, help="walk frames per second (default: 12)")
    add_device(g["advanced"])
    add_precision(g["advanced"])
    p.set_defaults(func=cmd_generate)

    p, g = new_parser(
        sub, "evaluate", "quality figures of a model against its training images (no pretrained networks)"
    )
    _add_model(g["essential"], "run or model folder to sample (required unless --fake)")
    g["essential"].add_argument(
        "--real", metavar="DIR", default=None, help="real images (default: the run's training data)"
    )
    g["essential"].add_argument(
        "--fake", metavar="DIR", default=None, help="a folder of generated images instead of --model (default: none)"
    )
    g["budget"].add_argument("--json", action="store_true", help="print JSON instead of a table (default: off)")
    g["budget"].add_argument(
        "--worst-pairs", default=None, metavar="PNG", help="write the closest fake/real pairs here (default: none)"
    )
    g["advanced"].add_argument("--n", type=int, default=256, help="images per side (default: 256)")
    g["advanced"].add_argument("--seed", type=int, default=0, help="seed of the samples and crops (default: 0)")
    g["advanced"].add_argument(
        "--resolution", type=int, default=None, help="compare at this size (default: the model's, or 64)"
    )
    g["advanced"].add_argument(
        "--crop-size",
        type=int,
        default=None,
        help="compare with patches of this many source pixels; 0 = whole images (default: the run's own)",
    )
    add_device(g["advanced"])
    add_precision(g["advanced"], " of the model's samples")
    p.set_defaults(func=cmd_evaluate)


def cmd_generate(a: argparse.Namespace) -> int:
    need(a.model is not None, "--model RUN is required: the run folder to generate from (see `artgan train`)")
    need(a.n >= 1, f"--n {a.n}: must be at least 1")
    need(0 < a.truncation <= 1, f"--truncation {a.truncation:g}: must be in (0, 1]")
    need(
        a.interpolate == 0 or a.interpolate >= 2,
        f"--interpolate {a.interpolate}: a walk needs at least 2 seeds (0 = none)",
    )
    need(a.frames >= 1, f"--frames {a.frames}: must be at least 1")
    need(a.fps > 0, f"--fps {a.fps:g}: must be positive")
    out = check_out_dir(a.out)
    device = resolve_device(a.device)
    precision = resolve_precision(a.precision, device)
    from ..tasks.generate import Generator, write_generated

    g = Generator.from_pretrained(a.model, which="best" if a.best else "latest", device=device, precision=precision)
    announce_device(a.device, device)
    written = write_generated(g, out, a.n, a.seed, a.truncation, walk=a.interpolate, frames=a.frames, fps=a.fps)
    say(f"wrote {a.n} images and {written[a.n]}")
    if a.interpolate:
        say(f"wrote {written[-1]} ({a.interpolate * a.frames} frames)")
    print(out)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    need(
        (a.model is None) != (a.fake is None),
        "give --model RUN (a trained model) or --fake DIR (generated images), one of them",
    )
    need(a.n >= 16, f"--n {a.n}: must be at least 16")
    if a.worst_pairs:
        check_out_dir(Path(a.worst_pairs).parent, "--worst-pairs")
    real = a.real
    if real is None:
        if a.model is None:
            raise UsageError("--fake needs --real DIR: the images to compare with")
        from ..training.rundir import run_data

        real = run_data(a.model)
        say(f"comparing with the run's training data: {real}")
    if not Path(real).exists():
        raise UsageError(f"--real {real}: no such file or folder")
    device = resolve_device(a.device)
    precision = resolve_precision(a.precision, device)
    if a.model is not None:
        announce_device(a.device, device)
    from ..metrics.evaluate import evaluate, format_table
    from ..tasks.generate import default_device

    with default_device(device, precision):  # where evaluate() loads the generator
        result = evaluate(
            real,
            fake=a.fake,
            run=a.model,
            resolution=a.resolution,
            n=a.n,
            seed=a.seed,
            worst_pairs=a.worst_pairs,
            which="best" if a.best else "latest",
            crop_size=a.crop_size,
        )
    print(json.dumps(result, indent=2) if a.json else format_table(result))
    return 0
