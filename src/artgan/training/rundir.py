"""Numbered run folders: runs/00000-<data>-<family>-<res>/."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..imaging import atomic_write_bytes

_RUN = re.compile(r"^(\d{5})-")


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:40] or "data"


def new_run_dir(root: Path, data: str, family: str, resolution: int) -> Path:
    """Create the next numbered run folder under ``root``. Safe against a concurrent start."""
    root.mkdir(parents=True, exist_ok=True)
    while True:
        nums = [int(m.group(1)) for p in root.iterdir() if (m := _RUN.match(p.name)) and p.is_dir()]
        num = max(nums, default=-1) + 1
        path = root / f"{num:05d}-{_slug(Path(data).stem)}-{family}-{resolution}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


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
