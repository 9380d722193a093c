"""Checkpoints: a folder per checkpoint, written so a crash can never leave a broken one.

Layout of a run folder's ``checkpoints/``::

    ckpt-000004096/      config.json  G.safetensors  G_ema.safetensors  D.safetensors  state.pt
    ckpt-000008192/      ...
    latest               text file: the name of the newest complete checkpoint folder
    best/                model folder (config.json + G_ema.safetensors) of the best-scoring
                         generator so far, by the SWD measured during training

A checkpoint is built in a hidden temp folder beside the others, every file fsynced, then
renamed into place in one step; ``latest`` is replaced atomically after that. A process
killed at any moment leaves either the old set or the new set, plus at most a temp folder
that the next save or load ignores and cleans up.
A checkpoint folder is also a *model folder*: ``config.json`` plus safetensors weights is
all that generation needs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from ..config import ConfigError, model_file_dict, read_model_file_dict, to_dict
from ..imaging import atomic_write_bytes

CKPT_PREFIX = "ckpt-"
WEIGHT_FILES = ("G.safetensors", "G_ema.safetensors", "D.safetensors")
STATE_FILE = "state.pt"


class CheckpointError(RuntimeError):
    """A model/checkpoint folder that cannot be used; the message says which and what to do."""


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    # safetensors wants contiguous CPU tensors that share no storage.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def _train_config_dict(config: Any, nimg: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """config.json of a generator checkpoint: the model section, the recipe, the image count."""
    cfg = model_file_dict(config.model)
    cfg["train"] = to_dict(config)
    cfg["nimg"] = nimg
    cfg.update(extra or {})
    return cfg


def write_folder(
    final: Path,
    *,
    config: dict[str, Any],
    modules: dict[str, torch.nn.Module],
    state: dict[str, Any] | None = None,
    files: dict[str, bytes] | None = None,
) -> Path:
    """Write a model folder (``config.json``, ``<key>.safetensors`` per module, optional
    ``state.pt`` and extra ``files``) in a hidden temp folder beside ``final``, fsync it,
    and swap it in. If ``final`` exists it is parked as ``.old-<name>`` during the swap,
    so there is no moment without a complete folder under one of the two names."""
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=parent))
    try:
        # mkdtemp makes the folder private (0700); a model folder gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        _write_synced(tmp / "config.json", (json.dumps(config, indent=2) + "\n").encode())
        for key, module in modules.items():
            meta = {"format": "pt", "artgan_role": key}
            _write_synced(tmp / f"{key}.safetensors", save(_tensors(module), metadata=meta))
        if state is not None:
            import io

            buf = io.BytesIO()
            torch.save(state, buf)
            _write_synced(tmp / STATE_FILE, buf.getvalue())
        for name, data in (files or {}).items():
            _write_synced(tmp / name, data)
        _fsync_dir(tmp)
        old = parent / f".old-{final.name}"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():  # e.g. a periodic save then the final one at the same image count
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def save_checkpoint(
    ckpt_root: Path,
    *,
    nimg: int,
    config: Any,
    modules: dict[str, torch.nn.Module],
    state: dict[str, Any] | None,
    keep: int = 3,
    protect: tuple[str, ...] = (),
) -> Path:
    """Write ``ckpt-<nimg>`` under ``ckpt_root`` atomically and point ``latest`` at it.

    ``config`` is the TrainConfig (its model section goes into ``config.json``);
    ``modules`` maps "G", "G_ema", "D" to networks; ``state`` holds optimiser states,
    counters and RNG states (plain tensors / numbers only). Older checkpoints beyond
    ``keep`` are removed, except names in ``protect``.
    """
    ckpt_root.mkdir(parents=True, exist_ok=True)
    _remove_temp_folders(ckpt_root)
    name = f"{CKPT_PREFIX}{nimg:09d}"
    final = write_folder(ckpt_root / name, config=_train_config_dict(config, nimg), modules=modules, state=state)
    atomic_write_bytes(ckpt_root / "latest", (name + "\n").encode())
    _prune(ckpt_root, keep=keep, protect=protect + (name,))
    return final


BEST = "best"


def save_model_folder(
    folder: Path, *, nimg: int, config: Any, G_ema: torch.nn.Module, extra: dict[str, Any] | None = None
) -> Path:
    """Write (or replace, crash-safely) a generation-only model folder: config.json with
    ``extra`` merged in, plus G_ema.safetensors."""
    return write_folder(folder, config=_train_config_dict(config, nimg, extra), modules={"G_ema": G_ema})


def _remove_temp_folders(ckpt_root: Path) -> None:
    for p in ckpt_root.glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not ckpt_root.is_dir():
        return []
    return sorted(p for p in ckpt_root.iterdir() if p.is_dir() and p.name.startswith(CKPT_PREFIX))


def _prune(ckpt_root: Path, *, keep: int, protect: tuple[str, ...]) -> None:
    ckpts = list_checkpoints(ckpt_root)
    for p in ckpts[: max(0, len(ckpts) - keep)]:
        if p.name not in protect:
            shutil.rmtree(p, ignore_errors=True)


def is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "G_ema.safetensors").is_file()


def resolve_model_folder(path: str | os.PathLike, which: str = "latest") -> Path:
    """Find the model folder meant by ``path``: a model/checkpoint folder, a run folder
    or a ``checkpoints`` folder. In the last two, ``which`` picks the ``latest``
    checkpoint or the ``best`` one (by training-time SWD). Errors say what was expected."""
    if which not in ("latest", BEST):
        raise ValueError(f"which must be 'latest' or 'best', got {which!r}")
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such folder; give a run folder (runs/00000-...) or a model folder")
    if p.is_file():
        raise CheckpointError(f"{p}: is a file; give the folder that holds config.json and G_ema.safetensors")
    if is_model_folder(p):
        return p
    root = p / "checkpoints" if (p / "checkpoints").is_dir() else p
    if which == BEST:
        for cand in (root / BEST, root / f".old-{BEST}"):  # .old-best: a kill mid-swap
            if is_model_folder(cand):
                return cand
        raise CheckpointError(
            f"{p}: no best checkpoint (the run measured no quality yet, or ran with --metric-kimg 0); "
            "use the latest checkpoint instead"
        )
    latest = root / "latest"
    if latest.is_file():
        name = latest.read_text().strip()
        cand = root / name
        if name.startswith(CKPT_PREFIX) and is_model_folder(cand):
            return cand
    # `latest` missing or stale: fall back to the newest complete checkpoint.
    for cand in reversed(list_checkpoints(root)):
        if is_model_folder(cand):
            return cand
    if (p / "config.json").is_file():
        raise CheckpointError(
            f"{p}: this run has no checkpoint yet (training stopped before the first save); "
            "train longer or resume it with `artgan train --resume`"
        )
    raise CheckpointError(
        f"{p}: not an artgan model: expected config.json and G_ema.safetensors, or a run folder with checkpoints/"
    )


def read_config_json(folder: Path) -> dict[str, Any]:
    """A model folder's config.json as a dict; a missing or damaged file is a CheckpointError."""
    path = folder / "config.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read config ({exc}); the model folder is damaged") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: not a config object; the model folder is damaged")
    return raw


def read_task_config(folder: Path, task: str, what: str, how_to_train: str) -> dict[str, Any]:
    """The config.json of a ``task`` model folder ("texture", "stylize") as a dict, after
    checking the task and format; ``what`` names the model and ``how_to_train`` the command
    that makes one, for the error message."""
    from ..config import FORMAT_VERSION

    path = folder / "config.json"
    raw = read_config_json(folder)
    if raw.get("task") != task:
        raise CheckpointError(
            f"{folder}: not a {what} (task {raw.get('task', 'generate')!r}); train one with `{how_to_train}`"
        )
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {raw.get('format_version')!r} is not supported; upgrade artgan")
    return raw


def parse_section(folder: Path, raw: dict[str, Any], section: str, parse: Any) -> Any:
    """``parse(raw[section]).validate()``: the settings of a task model folder, or a
    CheckpointError naming the file when the section is missing or wrong."""
    try:
        return parse(raw[section]).validate()
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{folder / 'config.json'}: bad {section} section ({exc})") from exc


def resolve_run_model(path: str | os.PathLike, model_dir: str, what: str, command: str) -> Path:
    """The model folder meant by ``path``: a model folder, or a run folder holding one in
    ``model_dir`` (or in ``.old-<model_dir>`` when a save was killed mid-swap)."""
    p = Path(path)
    for cand in (p, p / model_dir, p / f".old-{model_dir}"):
        if (cand / "config.json").is_file() and (cand / "G_ema.safetensors").is_file():
            return cand
    if not p.exists():
        raise CheckpointError(f"{p}: no such folder; give a {what} run folder from `artgan {command}`")
    raise CheckpointError(f"{p}: no {what} here (expected {model_dir}/config.json and G_ema.safetensors)")


def pixels_key(images: list[torch.Tensor], cfg: Any, salt: str = "") -> str:
    """A cache key: sha256 (20 hex digits) of ``salt``, the shapes and 8-bit pixels of
    ``images`` (each (3, H, W) in [-1, 1]) and every setting of the dataclass ``cfg``
    except ``threads`` (threads change the speed, not the model)."""
    import hashlib

    h = hashlib.sha256()
    if salt:
        h.update(salt.encode())
    for t in images:
        h.update(str(tuple(t.shape)).encode())
        h.update(((t + 1) * 127.5).round().to(torch.uint8).numpy().tobytes())
    settings = {k: v for k, v in to_dict(cfg).items() if k != "threads"}
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:20]


def read_folder_config(folder: Path) -> tuple[Any, dict[str, Any]]:
    """(ModelConfig, raw dict) from a generator model folder's config.json, with clear errors."""
    path = folder / "config.json"
    raw = read_config_json(folder)
    if raw.get("task") not in (None, "generate"):
        raise CheckpointError(
            f"{folder}: a {raw['task']} model, not an image generator; use it with `artgan {raw['task']} --model ...`"
        )
    try:
        return read_model_file_dict(raw, str(path)), raw
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from exc


def load_weights(module: torch.nn.Module, path: Path, device: torch.device | str | None = None) -> None:
    """Load a safetensors file into ``module`` strictly; a mismatch names the file. With
    ``device`` the module moves there and the weights are read straight onto it."""
    try:
        tensors = load_file(str(path), device=str(device) if device is not None else "cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise CheckpointError(f"{path}: cannot read weights ({exc}); the file is damaged or not safetensors") from exc
    if device is not None:
        module.to(device)
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the architecture in config.json ({exc})") from exc


def load_state(folder: Path) -> dict[str, Any]:
    """The training state of a checkpoint (plain tensors only: weights_only=True)."""
    path = folder / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder}: no {STATE_FILE}; this is an exported model, not a resumable checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: cannot read training state ({exc})") from exc
