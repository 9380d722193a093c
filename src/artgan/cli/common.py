"""Pieces every subcommand shares: usage errors, output folders, argument checks."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .options import Groups, show_all

if TYPE_CHECKING:
    import torch


class UsageError(ValueError):
    """A command line that cannot work; the message names the option. Exit code 2."""


def main_process() -> bool:
    """False in the ranks other than 0 of a torchrun job: they neither print nor report."""
    return os.environ.get("RANK", "0") == "0"


def say(msg: str) -> None:
    """Progress and warnings go to stderr, so stdout stays for results (paths, JSON)."""
    if main_process():
        print(msg, file=sys.stderr, flush=True)


def new_parser(
    sub: argparse._SubParsersAction, name: str, help: str, description: str | None = None
) -> tuple[argparse.ArgumentParser, Groups]:
    """A subcommand parser with the standard groups and a ``--help-all`` flag."""
    p = sub.add_parser(name, help=help, description=description or help)
    groups = Groups(p, show_all(sys.argv))
    p.add_argument("--help-all", action="help", help="show every option, experimental ones included")
    # main() reads --debug from anywhere on the line; listed here so -h shows it.
    groups["advanced"].add_argument(
        "--debug", action="store_true", help="show the full traceback on errors (default: off)"
    )
    return p, groups


def add_out(g: argparse._ArgumentGroup, default: str, what: str) -> None:
    g.add_argument("--out", default=default, metavar="DIR", help=f"{what} (default: {default})")


def add_progress(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--no-progress", action="store_true", help="no progress bars, for log files (default: off)")


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Check that ``path`` can become a folder, before any slow work; create nothing yet.

    Raises :class:`UsageError` when it is a file, or lies under one."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} {p}: is a file; give a folder (it is created if missing)")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{option} {p}: {parent} is a file, so no folder can be made inside it")
            break
    return p


def check_inputs(paths: Iterable[str], option: str) -> list[Path]:
    """Every path must exist (files or folders); the first missing one is named."""
    out = []
    for s in paths:
        p = Path(s)
        if not p.exists():
            raise UsageError(f"{option} {s}: no such file or folder")
        out.append(p)
    return out


def check_unique_stems(paths: Iterable[Path], what: str = "input files") -> None:
    """Outputs are named after inputs (photo.jpg -> photo.png): two inputs with one stem would overwrite."""
    seen: dict[str, Path] = {}
    for p in paths:
        if p.stem in seen:
            raise UsageError(
                f"{seen[p.stem]} and {p} share the name {p.stem!r}; their outputs would overwrite each other. "
                f"Rename one of the {what}."
            )
        seen[p.stem] = p


def need(cond: bool, message: str) -> None:
    """Raise a :class:`UsageError` with ``message`` unless ``cond``."""
    if not cond:
        raise UsageError(message)


def set_threads(n: int | None) -> None:
    if n is not None:
        need(n >= 1, f"--threads {n}: must be at least 1")
        import torch

        torch.set_num_threads(n)


def add_device(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--device",
        default="auto",
        metavar="DEV",
        help="where the networks run: auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps (default: auto)",
    )


def add_precision(g: argparse._ArgumentGroup, what: str = "") -> None:
    """``--precision``; ``what`` says what it applies to (" of inference"), when not everything."""
    from ..training.device import PRECISIONS

    g.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help=f"float precision{what}: mixed bf16/fp16 on CUDA GPUs; the CPU runs fp32 only "
        "(default: bf16 on GPUs that support it, else fp32)",
    )


def resolve_device(text: str) -> torch.device:
    """``--device`` -> a device this machine has, or a :class:`UsageError` naming the option."""
    from ..training.device import DeviceError
    from ..training.device import resolve_device as resolve

    try:
        return resolve(text)
    except DeviceError as exc:
        raise UsageError(f"--device {text}: {exc}") from None


def announce_device(text: str, device: torch.device) -> None:
    """Say on stderr what ``--device auto`` picked."""
    from ..training.device import describe

    if text.strip().lower() == "auto":
        say(f"device: {describe(device)}, picked by --device auto")


def resolve_precision(text: str | None, device: torch.device) -> str:
    """``--precision`` checked against ``device`` (fp32 only on the CPU), or a :class:`UsageError`."""
    from ..training.device import DeviceError
    from ..training.device import resolve_precision as resolve

    try:
        return resolve(text, device)
    except DeviceError as exc:
        raise UsageError(f"--precision {text}: {exc}") from None
