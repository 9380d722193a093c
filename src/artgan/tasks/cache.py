"""The cache of task models trained on the user's images (stylizers, texture models).

``Stylizer.fit`` and ``TextureSynth.fit`` train once per style or exemplar and reuse the
model afterwards. A cached model is a whole run folder (as ``train-stylizer --out`` or
``train-texture --out`` would write) at ``cache_root() / kind / key``, where ``key`` hashes
the input pixels and every training setting (``training.stylizer.stylizer_key``,
``training.texture.exemplar_key``).

Training happens in a hidden temp folder beside it, which is renamed into place when
training returns: a reader sees a finished run under the key, or none. A run stopped
early (Ctrl-C) is published too, but its ``config.json`` says ``"complete": false``, and
only complete runs are reused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..training.console import say

__all__ = ["cache_root", "cache_folder", "cached_fit"]


class _TaskModel(Protocol):
    info: dict[str, Any]  # the model folder's config.json


M = TypeVar("M", bound=_TaskModel)


def cache_root() -> Path:
    """Where trained task models are kept: $ARTGAN_CACHE, else $XDG_CACHE_HOME/artgan,
    else ~/.cache/artgan."""
    if os.environ.get("ARTGAN_CACHE"):
        return Path(os.environ["ARTGAN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "artgan"


def cache_folder(kind: str, key: str) -> Path:
    """The run folder of the ``kind`` model (``"stylizers"``, ``"textures"``) cached under ``key``."""
    return cache_root() / kind / key


def cached_fit(
    kind: str,
    key: str,
    train: Callable[[Path], object],
    load: Callable[[Path], M],
    *,
    what: str,
    retrain: bool = False,
) -> tuple[M, bool]:
    """The ``kind`` model cached under ``key``, trained first unless a complete one is there.

    ``train(run)`` trains into the run folder ``run`` (it does not exist yet);
    ``load(run)`` loads a task model from a run folder, with its config.json as ``info``
    (complete when ``info["complete"]``: training used its whole budget). ``retrain``
    trains afresh even if a complete model is cached, and replaces it. ``what`` names the model in messages ("the stylizer
    trained earlier for starry.jpg"). Returns the model and whether it was reused.
    """
    final = cache_folder(kind, key)
    if not retrain:
        try:
            model = load(final)
        except Exception:  # noqa: BLE001 - absent or damaged: train afresh below
            pass
        else:
            if model.info.get("complete"):
                say(f"reusing {what} ({final})")
                return model, True
    final.parent.mkdir(parents=True, exist_ok=True)
    # Temp folders of this key left by a killed process: nothing can resume them.
    for stale in final.parent.glob(f".tmp-{key}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=final.parent))
    try:
        train(tmp / "run")
        _publish(tmp / "run", final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"cached as {final}")
    return load(final), False


def _publish(src: Path, final: Path) -> None:
    """Move the run folder ``src`` to ``final``, replacing what is there. ``os.replace``
    cannot replace a folder that has files, so an old one is first renamed aside (one
    rename, so no half-deleted run is ever visible under ``final``) and then removed."""
    old = final.parent / f".old-{final.name}"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(src, final)
    shutil.rmtree(old, ignore_errors=True)
