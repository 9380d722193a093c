"""Numbered run folders: runs/00000-<data>-<family>-<res>/."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..imaging import atomic_write_bytes
from .checkpoint import CheckpointError

_RUN = re.compile(r"^(\d{5})-")


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:40] or "data"


def new_run_folder(root: Path, name: str) -> Path:
    """Create the next numbered run folder ``root/NNNNN-<name>``. Safe against a concurrent start."""
    root.mkdir(parents=True, exist_ok=True)
    while True:
        nums = [int(m.group(1)) for p in root.iterdir() if (m := _RUN.match(p.name)) and p.is_dir()]
        path = root / f"{max(nums, default=-1) + 1:05d}-{_slug(name)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def new_run_dir(root: Path, data: str, family: str, resolution: int) -> Path:
    """A generator run's folder: ``root/NNNNN-<data>-<family>-<resolution>``."""
    return new_run_folder(root, f"{Path(data).stem}-{family}-{resolution}")


def resolve_run(path: str | os.PathLike) -> Path:
    """The run folder a ``--resume`` or ``--model`` argument names: the folder itself, or the
    run that holds a given checkpoint (``RUN/checkpoints/ckpt-...``) or model folder."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise CheckpointError(
            f"{p}: no such run folder; give a folder made by an artgan training command (runs/00000-...)"
        )
    if p.name == "checkpoints":
        return p.parent
    if p.parent.name == "checkpoints":
        return p.parent.parent
    return p


def run_data(path: str | Path) -> Path:
    """The training data of the run that ``path`` (a run, checkpoint or model folder) belongs to.

    Runs store their data's absolute path; older runs stored it as typed, relative to where
    training started, which is tried from the current folder."""
    run = resolve_run(path)
    for cand in (run, run.parent):
        cfg = cand / "config.json"
        if cfg.is_file():
            try:
                data = json.loads(cfg.read_text())["train"]["data"]
            except (OSError, KeyError, TypeError, json.JSONDecodeError):
                continue
            if data and Path(data).exists():
                return Path(data)
            raise CheckpointError(
                f"{run}: its training data {data!r} is not there any more; give the images with --real DIR"
            )
    raise CheckpointError(f"{run}: not a generator run (no config.json with its data); give --real DIR")


def latest_run_dir(root: Path) -> Path | None:
    """The highest-numbered run folder under ``root``, or None."""
    if not root.is_dir():
        return None
    runs = sorted((p for p in root.iterdir() if p.is_dir() and _RUN.match(p.name)), key=lambda p: p.name)
    return runs[-1] if runs else None


def truncate_stats(path: Path, limit: float, key: str = "step") -> None:
    """On resume, drop stats.jsonl rows logged after the checkpoint (``row[key] > limit``):
    they will be logged again."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if isinstance(row, dict) and float(row.get(key, 0)) <= limit + 1e-9:
            keep.append(line)
    atomic_write_bytes(path, "".join(k + "\n" for k in keep).encode())
