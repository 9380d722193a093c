"""``artgan train`` (a generator on a folder of artworks) and ``artgan families``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_out, add_progress, check_inputs, check_out_dir, need, new_parser, say
from .options import add_config_options, config_kwargs, given_options

# Options a resumed run takes from the command line; everything else comes from the run.
RESUME_KEEPS = ("kimg", "minutes", "threads")


def register(sub: argparse._SubParsersAction) -> None:
    from ..config import ModelConfig, TrainConfig

    p, g = new_parser(
        sub,
        "train",
        "train a generator on a folder of artworks",
        "Train a GAN on a folder (or .zip) of images. Each run gets a numbered folder inside --out "
        "with its config, samples, stats and checkpoints. Options left out are chosen from the data "
        "(`--dry-run` shows the choices).",
    )
    e = g["essential"]
    e.add_argument("data", nargs="?", metavar="DATA", help="folder of images (searched recursively) or a .zip")
    e.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue this run folder from its latest checkpoint, from any directory; a DATA given "
        "with it replaces the run's data folder (e.g. after a move) (default: none, a new run)",
    )
    e.add_argument("--dry-run", action="store_true", help="print the resolved config and exit (default: off)")
    add_out(g["budget"], "runs", "folder that holds the numbered run folders")
    add_progress(g["budget"])
    p.set_defaults(
        func=cmd_train, option_fields=[*add_config_options(g, ModelConfig), *add_config_options(g, TrainConfig)]
    )

    p, _ = new_parser(sub, "families", "list the model families")
    p.set_defaults(func=cmd_families)


def train_config(a: argparse.Namespace):
    """The TrainConfig the command line asks for (fields not given keep their defaults)."""
    from ..config import ModelConfig, TrainConfig

    kw = config_kwargs(a, TrainConfig)
    if a.data:
        kw["data"] = str(Path(a.data).resolve())
    return TrainConfig(model=ModelConfig(**config_kwargs(a, ModelConfig)), **kw)


def cmd_train(a: argparse.Namespace) -> int:
    from ..config import to_dict
    from ..training.loop import load_data, train

    need(
        a.resume is not None or a.data is not None, "give a DATA folder to train on (or --resume RUN to continue a run)"
    )
    if a.data:
        check_inputs([a.data], "DATA")
    if a.resume is None:
        check_out_dir(a.out)
    cfg = train_config(a)
    if a.dry_run:
        cfg.validate()
        chosen: dict[str, str] = {}
        if a.data and a.resume is None:
            cfg, _, chosen = load_data(cfg, progress=False)
        print(json.dumps({**to_dict(cfg), "chosen_from_data": chosen}, indent=2))
        return 0
    if a.resume is not None:
        # A resumed run keeps its own recipe and architecture; say so instead of silently ignoring.
        ignored = given_options(a, [n for n in a.option_fields if n not in RESUME_KEEPS])
        if ignored:
            say("warning: resuming keeps the run's saved settings; ignoring " + ", ".join(ignored))
    run = train(cfg, a.out, resume=a.resume, data=cfg.data or None, progress=not a.no_progress)
    print(run)
    return 0


def cmd_families(a: argparse.Namespace) -> int:
    from ..models import DEFAULT_FAMILY, FAMILIES

    for name, fam in FAMILIES.items():
        print(f"{name:10s} {fam.description}" + ("  [default]" if name == DEFAULT_FAMILY else ""))
    return 0
