"""``artgan train`` (a generator on a folder of artworks) and ``artgan families``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    UsageError,
    add_device,
    add_out,
    add_precision,
    add_progress,
    check_inputs,
    check_out_dir,
    main_process,
    need,
    new_parser,
    resolve_device,
    resolve_precision,
    say,
)
from .options import add_config_options, config_kwargs, given_options

if TYPE_CHECKING:
    import torch

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
    add_device(g["budget"])
    g["budget"].add_argument(
        "--nproc",
        type=int,
        default=None,
        metavar="N",
        help="train in N processes on this machine (torchrun, one per GPU or a share of the CPU cores each); "
        "the batch is per process (default: 1)",
    )
    add_precision(g["advanced"])
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
    from ..training.distributed import launch, under_torchrun
    from ..training.loop import load_data, train

    need(
        a.resume is not None or a.data is not None, "give a DATA folder to train on (or --resume RUN to continue a run)"
    )
    need(a.nproc is None or a.nproc >= 1, f"--nproc {a.nproc}: must be at least 1 (processes on this machine)")
    if a.nproc and a.nproc > 1 and under_torchrun():
        raise UsageError(f"--nproc {a.nproc}: torchrun started this process already; leave --nproc out")
    if a.data:
        check_inputs([a.data], "DATA")
    if a.resume is None:
        check_out_dir(a.out)
    cfg = train_config(a)
    # Checked here, before anything is read or launched; each process resolves its own
    # device when it starts (under torchrun: the GPU of its local rank).
    device = resolve_device(a.device)
    resolve_precision(a.precision, device)
    if a.nproc and a.nproc > 1:
        _check_nproc(a.nproc, a.device, device)
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
    if a.nproc and a.nproc > 1:
        cfg.validate()
        say(f"starting {a.nproc} training processes with torchrun")
        return launch(a.nproc, forwarded_args(a))
    run = train(
        cfg,
        a.out,
        resume=a.resume,
        data=cfg.data or None,
        progress=not a.no_progress,
        device=a.device,
        precision=a.precision,
    )
    if main_process():
        print(run)
    return 0


def _check_nproc(n: int, text: str, device: torch.device) -> None:
    """Several processes: CPUs (gloo) or one CUDA GPU each (NCCL)."""
    import torch

    if device.type == "mps":
        raise UsageError(f"--nproc {n}: several processes train on CPUs or CUDA GPUs, not on MPS; use --device cpu")
    if device.type == "cuda":
        need(
            text.strip().lower() in ("auto", "cuda"),
            f"--device {text}: with --nproc each process takes the GPU of its rank; give --device cuda",
        )
        count = torch.cuda.device_count()
        need(n <= count, f"--nproc {n}: one process per GPU, and this machine has {count}")


def forwarded_args(a: argparse.Namespace) -> list[str]:
    """The ``artgan train`` command line each torchrun process gets: ``a`` without ``--nproc``."""
    args = ["train"] + ([a.data] if a.data else [])
    if a.resume is not None:
        args += ["--resume", a.resume]
    args += ["--out", a.out, "--device", a.device]
    args += ["--no-progress"] if a.no_progress else []
    args += ["--precision", a.precision] if a.precision else []
    for name in a.option_fields:
        value = getattr(a, name, None)
        flag = "--" + name.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            args += [flag, ",".join(value) or "none"]
        else:
            args += [flag, str(value)]
    return args + (["--debug"] if "--debug" in sys.argv else [])


def cmd_families(a: argparse.Namespace) -> int:
    from ..models import DEFAULT_FAMILY, FAMILIES

    for name, fam in FAMILIES.items():
        print(f"{name:10s} {fam.description}" + ("  [default]" if name == DEFAULT_FAMILY else ""))
    return 0
