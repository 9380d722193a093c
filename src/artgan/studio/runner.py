"""What a studio job does, by kind: train, generate, stylize, texture.

:func:`run_job` runs one job in the calling process (a worker process started by
studio/worker.py) and returns a small JSON result. It calls the same task objects as the
CLI and writes the same files with the same provenance chunks. Every path in a job's
params is workspace-relative and goes through :meth:`Workspace.path`, which refuses
anything outside the workspace (``..``, absolute paths, links leading out).

Params (JSON) by kind; ``?`` marks optional keys:

- ``train``: ``collection`` (a name under collections/) or ``resume`` (a run: its name or
  ``runs/NAME``); ``minutes?`` (wall clock over all attempts), ``kimg?`` (total images
  seen), ``resolution?`` (default 64), ``family?``, ``seed?``, ``threads?``, ``options?``
  (further TrainConfig / ModelConfig fields by name, e.g. ``{"batch": 8, "width": 8}``).
- ``generate``: ``run`` (``runs/NAME``), ``n?`` (16), ``seed?`` (0), ``truncation?`` (1),
  ``interpolate?`` (0, or K >= 2 seeds for walk.gif), ``frames?`` (16), ``fps?`` (12),
  ``best?`` (false).
- ``stylize``: ``photos`` (upload paths), ``style`` (an upload path) or ``model`` (a
  stylizer run), ``strength?`` (1), ``preserve_color?`` (false), ``minutes?`` (5),
  ``steps?``, ``long_side?``, ``seed?`` (0), ``threads?``.
- ``texture``: ``exemplar`` (an upload path) or ``model`` (a texture run), ``region?``
  ([x, y, w, h]), ``size?`` ([w, h], default [1024, 1024]), ``n?`` (4), ``seed?`` (0),
  ``tileable?`` (false), ``minutes?`` (3), ``steps?``, ``threads?``.

Upload paths are workspace-relative (``uploads/<token>/photo.jpg``); a path without the
``uploads/`` prefix is taken inside uploads/.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from .jobs import Job, JobStore
from .workspace import Workspace, WorkspaceError

__all__ = ["KINDS", "JobError", "Interrupted", "run_job", "one_line", "output_dir"]

KINDS = ("train", "generate", "stylize", "texture")
StopFn = Callable[[], bool]
_TICK = 2.0  # seconds between progress updates


class JobError(ValueError):
    """A job's params are wrong or name something missing; the message is one line."""


class Interrupted(Exception):
    """The job stopped before its end (cancelled, or its process was asked to stop).
    ``result`` is what it had made so far; a training job resumes from its checkpoint."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.result = result or {}


def one_line(exc: BaseException, root: Path | None = None) -> str:
    """An exception as the one line a user sees: its first non-empty line, with the
    workspace's absolute path shortened to workspace-relative."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    if line.endswith(":") and len(lines) > 1:  # "... Rejected:" followed by the first reason
        line = f"{line} {lines[1]}"
    if isinstance(exc, KeyError) and line.startswith("'"):
        line = f"missing {line}"
    if not line:
        line = type(exc).__name__
    elif not isinstance(exc, (JobError, WorkspaceError, ValueError, RuntimeError, OSError)):
        line = f"{type(exc).__name__}: {line}"
    if root is not None:
        line = line.replace(str(root) + "/", "").replace(str(root), "the workspace")
    return line[:500]


def output_dir(job: Job) -> str:
    """A job's output folder, workspace-relative: ``outputs/<id>-<kind>``."""
    return f"outputs/{job.id}-{job.kind}"


def _stopping(stop: threading.Event | StopFn | None) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


# --------------------------------------------------------------------------- params


def _get(params: dict[str, Any], key: str, typ: type | tuple[type, ...], default: Any = None) -> Any:
    value = params.get(key, default)
    if value is None:
        return default
    ok = isinstance(value, typ) and not (
        isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,))
    )
    if not ok:
        raise JobError(f"{key}: expected {getattr(typ, '__name__', typ)}, got {value!r}")
    return value


def _int(params: dict[str, Any], key: str, default: int | None, lo: int, hi: int) -> int | None:
    value = _get(params, key, (int, float), default)
    if value is None:
        return None
    if float(value) != int(value) or not lo <= int(value) <= hi:
        raise JobError(f"{key} {value!r}: must be a whole number in {lo}..{hi}")
    return int(value)


def _float(
    params: dict[str, Any], key: str, default: float | None, lo: float, hi: float, open_lo: bool = False
) -> float | None:
    value = _get(params, key, (int, float), default)
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v) or v > hi or v < lo or (open_lo and v == lo):
        raise JobError(f"{key} {value!r}: must be in {'(' if open_lo else '['}{lo:g}, {hi:g}]")
    return v


def _bool(params: dict[str, Any], key: str) -> bool:
    return bool(_get(params, key, bool, False))


def _str(params: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = _get(params, key, str, None)
    if required and not value:
        raise JobError(f"{key}: required")
    return value or None


class _Paths:
    """Workspace-relative names in params -> checked absolute paths."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def file(self, rel: str, what: str) -> Path:
        p = self.ws.path(rel)
        if not p.is_file():
            raise JobError(f"{what} {rel}: no such file in the workspace")
        return p

    def upload(self, rel: str, what: str) -> Path:
        return self.file(rel if rel.startswith("uploads/") else f"uploads/{rel}", what)

    def run(self, rel: str, what: str = "run") -> Path:
        """A run folder: ``runs/NAME`` or just ``NAME`` (under runs/)."""
        p = self.ws.path(rel if "/" in rel else f"runs/{rel}")
        if not p.is_dir():
            raise JobError(f"{what} {rel}: no such run folder in the workspace")
        return p

    def collection(self, name: str) -> Path:
        p = self.ws.path(f"collections/{name}")
        if "/" in name.strip("/") or p.parent != self.ws.path("collections") or not p.is_dir():
            raise JobError(f"collection {name!r}: no such collection (upload images in Collections first)")
        return p


# --------------------------------------------------------------------------- progress


class _Ticker:
    """A thread that calls ``update()`` every few seconds until stopped (and once at the end)."""

    def __init__(self, update: Callable[[], None], every: float = _TICK) -> None:
        self.update = update
        self.every = every
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-progress", daemon=True)

    def _run(self) -> None:
        while not self._halt.wait(self.every):
            self.tick()

    def tick(self) -> None:
        """Update now."""
        try:
            self.update()
        except Exception:  # noqa: BLE001 - progress is cosmetic; it must never stop a job
            pass

    def __enter__(self) -> _Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._thread.join(timeout=5)


def _last_row(path: Path) -> dict[str, Any]:
    """The last complete JSON row of a stats.jsonl (read from its tail), or {}."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            return row
    return {}


# --------------------------------------------------------------------------- train


_NOT_OPTIONS = {"data", "model", "minutes", "kimg"}


def _train_config(params: dict[str, Any], data: str) -> Any:
    """A TrainConfig from a train job's params (``options`` may set further fields)."""
    from ..config import ModelConfig, TrainConfig

    options = _get(params, "options", dict, {})
    train_fields = {f.name for f in fields(TrainConfig)} - _NOT_OPTIONS
    model_fields = {f.name for f in fields(ModelConfig)} - {"resolution", "family"}
    model_kw: dict[str, Any] = {"resolution": _int(params, "resolution", 64, 8, 1024)}
    if _str(params, "family"):
        model_kw["family"] = _str(params, "family")
    train_kw: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, (int, float, str, bool, tuple, type(None))):
            raise JobError(f"options.{key}: expected a number, text, true/false or a list")
        if key in model_fields:
            model_kw[key] = value
        elif key in train_fields:
            train_kw[key] = value
        else:
            raise JobError(f"options.{key}: not a training option")
    for key in ("seed",):
        if key in params:
            train_kw[key] = _int(params, key, 0, 0, 2**31 - 1)
    cfg = TrainConfig(
        model=ModelConfig(**model_kw),
        data=data,
        minutes=_float(params, "minutes", None, 0, 10_000, open_lo=True),
        kimg=_float(params, "kimg", None, 0, 1e6, open_lo=True),
        **train_kw,
    )
    return cfg.validate()


def _has_checkpoint(run: Path) -> bool:
    from ..training.checkpoint import CheckpointError, resolve_model_folder

    try:
        resolve_model_folder(run)
    except CheckpointError:
        return False
    return True


def _run_train(
    job: Job, ws: Workspace, store: JobStore, stop: threading.Event | StopFn | None, threads: int | None
) -> dict[str, Any]:
    from ..training.loop import train

    paths = _Paths(ws)
    params = job.params
    name = _str(params, "collection")
    resume_param = _str(params, "resume")
    if not name and not resume_param:
        raise JobError("give a collection to train on, or a run to resume")
    data = paths.collection(name) if name else None
    resume: Path | None = paths.run(resume_param, "resume") if resume_param else None
    if job.run_dir:
        run = ws.path(job.run_dir)
        if run.is_dir() and _has_checkpoint(run):
            resume = run  # a restarted job continues where its checkpoint left it
        elif run.is_dir() and resume_param is None:
            # Killed before its first checkpoint: nothing to continue; start it again afresh.
            shutil.rmtree(run, ignore_errors=True)
    threads = _int(params, "threads", threads, 1, 256)
    cfg = _train_config(params, str(data) if data else "")
    if threads:
        cfg = replace(cfg, threads=threads)
    budget_sec = cfg.minutes * 60 if cfg.minutes is not None else None
    if budget_sec is not None:
        # ``minutes`` is the job's budget over all attempts: a resumed job gets what is left
        # (at least enough to save its final checkpoint and summary).
        cfg = replace(cfg, minutes=max(budget_sec - job.elapsed, 3.0) / 60)
    if _stopping(stop):
        raise Interrupted("cancelled before it started")
    t0, spent = time.time(), job.elapsed
    state: dict[str, Any] = {"run": resume}

    def on_run_dir(path: Path) -> None:
        state["run"] = path
        store.set_run_dir(job.id, ws.rel(path))

    def update() -> None:
        elapsed = spent + time.time() - t0
        run = state["run"]
        row = _last_row(run / "stats.jsonl") if run is not None else {}
        kimg = row.get("kimg")
        fracs = []
        if cfg.kimg and isinstance(kimg, (int, float)):
            fracs.append(kimg / cfg.kimg)
        if budget_sec:
            fracs.append(elapsed / budget_sec)
        msg = "loading the images" if run is None else "starting" if kimg is None else f"{kimg:.1f} kimg"
        swd = row.get("metric/swd/avg")
        if isinstance(swd, (int, float)):
            msg += f", SWD {swd:.1f}"
        store.set_progress(job.id, min(0.99, max(fracs, default=0.0)), msg, elapsed=elapsed)

    if resume is not None:
        on_run_dir(resume)
    with _Ticker(update) as ticker:
        ticker.tick()
        out = train(cfg, ws.path("runs"), resume=resume, data=data, progress=False, on_run_dir=on_run_dir)
    ticker.tick()  # the time spent counts against the budget of a later attempt
    summary = {}
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        pass
    result = {"run": ws.rel(out), **{k: summary[k] for k in ("kimg", "minutes", "best_swd", "stopped") if k in summary}}
    if str(summary.get("stopped", "")).startswith("stopped by"):
        raise Interrupted(str(summary["stopped"]), result)
    return result


# --------------------------------------------------------------------------- generate


def _start_outputs(job: Job, ws: Workspace) -> Path:
    """Create ``outputs/<id>-<kind>/`` with job.json (the params, for provenance)."""
    from ..imaging import atomic_write_bytes

    out = ws.path(output_dir(job))
    out.mkdir(parents=True, exist_ok=True)
    doc = {"id": job.id, "kind": job.kind, "params": job.params, "created": round(job.created, 3)}
    atomic_write_bytes(out / "job.json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return out


def _files(ws: Workspace, out: Path) -> list[str]:
    return [ws.rel(p) for p in sorted(out.iterdir()) if p.suffix in (".png", ".gif")]


def _check_stop(stop: threading.Event | StopFn | None, ws: Workspace, out: Path) -> None:
    """Raise Interrupted (with the files written so far) when the job was asked to stop."""
    if _stopping(stop):
        raise Interrupted("cancelled", {"outputs": ws.rel(out), "files": _files(ws, out)})


def _run_generate(
    job: Job, ws: Workspace, store: JobStore, stop: threading.Event | StopFn | None, threads: int | None
) -> dict[str, Any]:
    import torch

    from ..tasks.generate import Generator, write_generated

    p = job.params
    run = _Paths(ws).run(_str(p, "run", required=True) or "", "run")
    n = _int(p, "n", 16, 1, 1024) or 1
    seed = _int(p, "seed", 0, 0, 2**31 - 1) or 0
    trunc = _float(p, "truncation", 1.0, 0.0, 1.0, open_lo=True) or 1.0
    k = _int(p, "interpolate", 0, 0, 64) or 0
    if k == 1:
        raise JobError("interpolate 1: a walk needs at least 2 seeds (0 = none)")
    frames = _int(p, "frames", 16, 1, 240) or 16
    fps = _float(p, "fps", 12.0, 0.0, 60.0, open_lo=True) or 12.0
    if threads:
        torch.set_num_threads(threads)
    g = Generator.from_pretrained(run, which="best" if _bool(p, "best") else "latest")
    out = _start_outputs(job, ws)

    def progress(done: int, total: int) -> None:
        if done < total:
            _check_stop(stop, ws, out)
        walking = done == total and k
        store.set_progress(job.id, 0.9 * done / total, "rendering the walk" if walking else f"{done} of {total} images")

    write_generated(g, out, n, seed, trunc, walk=k, frames=frames, fps=fps, progress=progress)
    return {"outputs": ws.rel(out), "files": _files(ws, out), "model": g.model_id}


# --------------------------------------------------------------------------- stylize / texture


def _fit_progress(job: Job, store: JobStore, minutes: float | None, what: str) -> Callable[[], None]:
    """A ticker update for a task model's training: time against its minutes budget."""
    t0 = time.time()

    def update() -> None:
        sec = time.time() - t0
        frac = min(1.0, sec / (minutes * 60)) if minutes else 0.0
        store.set_progress(job.id, 0.8 * frac, f"{what} ({sec / 60:.1f} min)")

    return update


def _run_stylize(
    job: Job, ws: Workspace, store: JobStore, stop: threading.Event | StopFn | None, threads: int | None
) -> dict[str, Any]:
    import torch

    from ..config import StylizerConfig
    from ..imaging import load_image, save_png
    from ..tasks.stylize import Stylizer

    p = job.params
    paths = _Paths(ws)
    photos_rel = _get(p, "photos", list, [])
    if not photos_rel or not all(isinstance(x, str) for x in photos_rel):
        raise JobError("photos: give one or more uploaded photos")
    style_rel, model_rel = _str(p, "style"), _str(p, "model")
    if (style_rel is None) == (model_rel is None):
        raise JobError("give a painting (style) or a trained stylizer (model), one of them")
    strength = _float(p, "strength", 1.0, 0.0, 1.0)
    keep = _bool(p, "preserve_color")
    long_side = _int(p, "long_side", None, 16, 8192)
    seed = _int(p, "seed", 0, 0, 2**31 - 1) or 0
    threads = _int(p, "threads", threads, 1, 256)
    photos = [paths.upload(r, "photo") for r in photos_rel]
    images = [(ph, load_image(ph)) for ph in photos]  # every photo checked before any training
    if threads:
        torch.set_num_threads(threads)
    if model_rel:
        st = Stylizer.from_pretrained(paths.run(model_rel, "model"))
    else:
        style = paths.upload(style_rel or "", "style")
        minutes = _float(p, "minutes", 5.0, 0.0, 1000.0, open_lo=True)
        steps = _int(p, "steps", None, 1, 10**7)
        cfg = StylizerConfig(minutes=None if steps and "minutes" not in p else minutes, steps=steps, threads=threads)
        with _Ticker(_fit_progress(job, store, cfg.minutes, "training a stylizer for the painting")):
            st = Stylizer.fit(style, photos, config=cfg, cache=True, progress=False)
        if st.info.get("complete") is False:
            raise Interrupted("stopped while training the stylizer")
    out = _start_outputs(job, ws)
    meta = {
        "artgan:model": f"stylizer:{st.info.get('style', {}).get('sha256', '')[:12]}",
        "artgan:strength": f"{strength:g}",
        "artgan:preserve_color": str(keep).lower(),
        "artgan:seed": str(seed),
    }
    used: set[str] = set()
    for i, (path, img) in enumerate(images):
        _check_stop(stop, ws, out)
        stem = path.stem if path.stem not in used else f"{path.stem}-{i}"
        used.add(stem)
        y = st(img, strength or 0.0, preserve_color=keep, size=long_side, seed=seed, output="tensor")
        save_png(y, out / f"{stem}.png", metadata=meta)
        store.set_progress(job.id, 0.8 + 0.2 * (i + 1) / len(images), f"{i + 1} of {len(images)} photos")
    return {"outputs": ws.rel(out), "files": _files(ws, out), "model": meta["artgan:model"]}


def _run_texture(
    job: Job, ws: Workspace, store: JobStore, stop: threading.Event | StopFn | None, threads: int | None
) -> dict[str, Any]:
    import torch

    from ..config import TextureConfig
    from ..tasks.texture import TextureSynth, write_textures

    p = job.params
    paths = _Paths(ws)
    ex_rel, model_rel = _str(p, "exemplar"), _str(p, "model")
    if (ex_rel is None) == (model_rel is None):
        raise JobError("give an exemplar image or a trained texture model (model), one of them")
    size = _get(p, "size", list, [1024, 1024])
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 16384 for v in size):
        raise JobError(f"size {size!r}: expected [width, height], each 16..16384 px")
    w, h = size
    region_list = _get(p, "region", list, None)
    region: tuple[int, int, int, int] | None = None
    if region_list is not None:
        if len(region_list) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in region_list):
            raise JobError(f"region {region_list!r}: expected [x, y, width, height] in pixels")
        x, y, rw, rh = region_list
        if rw <= 0 or rh <= 0 or x < 0 or y < 0:
            raise JobError(f"region {region_list!r}: x and y must be >= 0, width and height > 0")
        region = (x, y, rw, rh)
    n = _int(p, "n", 4, 1, 64) or 1
    seed = _int(p, "seed", 0, 0, 2**31 - 1) or 0
    tileable = _bool(p, "tileable")
    threads = _int(p, "threads", threads, 1, 256)
    if threads:
        torch.set_num_threads(threads)
    if model_rel:
        synth = TextureSynth.from_pretrained(paths.run(model_rel, "model"))
        stem = Path(str(synth.info.get("exemplar", {}).get("name", "texture"))).stem
    else:
        src = paths.upload(ex_rel or "", "exemplar")
        minutes = _float(p, "minutes", 3.0, 0.0, 1000.0, open_lo=True)
        steps = _int(p, "steps", None, 1, 10**7)
        cfg = TextureConfig(minutes=None if steps and "minutes" not in p else minutes, steps=steps, threads=threads)
        with _Ticker(_fit_progress(job, store, cfg.minutes, "training a texture model on the exemplar")):
            synth = TextureSynth.fit(src, region=region, config=cfg.validate(), cache=True, progress=False)
        if synth.info.get("complete") is False:
            raise Interrupted("stopped while training the texture model")
        stem = src.stem + ("-region" if region else "")
    out = _start_outputs(job, ws)

    def progress(done: int, total: int) -> None:
        if done < total:
            _check_stop(stop, ws, out)
        store.set_progress(job.id, 0.8 + 0.2 * done / total, f"{done} of {total} textures")

    write_textures(synth, out, stem, (h, w), n, seed, tileable, progress=progress)
    return {"outputs": ws.rel(out), "files": _files(ws, out), "model": synth.model_id}


# --------------------------------------------------------------------------- dispatch

_RUNNERS = {"train": _run_train, "generate": _run_generate, "stylize": _run_stylize, "texture": _run_texture}


def run_job(
    job: Job,
    workspace: str | Path | Workspace,
    store: JobStore,
    stop: threading.Event | StopFn | None = None,
    *,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run ``job`` here and now; returns its result (JSON: ``outputs``/``files`` or ``run``).

    ``stop`` (an Event or a function) is checked between images and before training;
    training itself stops on SIGTERM (the worker's cancel), saving a checkpoint. Raises
    :class:`Interrupted` when the job stopped early (cancelled, or a training run stopped
    by a signal: it resumes when run again), :class:`JobError` / ``WorkspaceError`` for
    bad params, and whatever the task raises (one line each via :func:`one_line`).
    ``threads``: torch threads when the params give none.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    runner = _RUNNERS.get(job.kind)
    if runner is None:
        raise JobError(f"unknown job kind {job.kind!r}; one of {', '.join(KINDS)}")
    if not isinstance(job.params, dict):
        raise JobError("params: expected a JSON object")
    return runner(job, ws, store, stop, threads)
