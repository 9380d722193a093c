"""The GAN training loop: data -> D step -> G step -> EMA, with stats, grids and checkpoints.

It knows nothing about architectures (those come from the registry) and nothing about
the CLI (which only builds a TrainConfig and calls :func:`train`). The stylizer and the
texture model have their own loops (training/stylizer.py, training/texture.py).

It runs on any device (training/device.py) and, started by torchrun, as one of several
processes (training/distributed.py): every rank runs this loop on its own crops, DDP
averages the gradients, and rank 0 alone writes.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..augment import AdaptiveAugment
from ..config import ConfigError, TrainConfig, to_dict, train_config_from_dict
from ..data import CropSampler, DatasetError, crop_short_side, ingest
from ..imaging import atomic_write_bytes, make_grid, save_png
from ..models import build_discriminator, build_generator
from ..models.common import seeds_to_z
from .checkpoint import (
    BEST,
    CheckpointError,
    load_state,
    load_weights,
    resolve_model_folder,
    save_checkpoint,
    save_model_folder,
)
from .console import quiet as _quiet
from .console import say as _say
from .console import stop_on_signals as _stop_on_signals
from .device import Precision, describe, to_device
from .distributed import (
    World,
    debug_record,
    debugging,
    fingerprint,
    forget_run,
    init_world,
    rank_seed,
    remember_run,
    restart_count,
    restarted_run,
    under_torchrun,
)
from .ema import ema_beta, recalibrate_batchnorm, update_ema
from .memory import keep_freed_memory
from .monitor import METRIC, QualityMonitor
from .recipe import PATCH_MODE_MAX_IMAGES
from .recipe import resolve as resolve_recipe
from .rundir import new_run_dir, resolve_run, truncate_stats
from .steps import StepContext, d_step, g_step
from .tbevents import EventWriter

DEFAULT_MINUTES = 30.0


def _load_run_config(run_dir: Path) -> TrainConfig:
    path = run_dir / "config.json"
    try:
        return train_config_from_dict(json.loads(path.read_text())["train"])
    except ConfigError as exc:  # e.g. a run of an older artgan with a removed option
        raise ConfigError(f"{path}: {exc}") from exc
    except (OSError, KeyError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the run's config ({exc}); is this an artgan run folder?") from exc


def _write_run_config(run_dir: Path, cfg: TrainConfig, extra: dict[str, Any]) -> None:
    from .. import __version__

    doc = {"artgan_version": __version__, "train": to_dict(cfg), **extra}
    atomic_write_bytes(run_dir / "config.json", (json.dumps(doc, indent=2) + "\n").encode())


def _read_run_doc(run_dir: Path) -> dict[str, Any]:
    """The whole run config.json (train config plus dataset record and data choices)."""
    try:
        doc = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{run_dir / 'config.json'}: cannot read the run's config ({exc})") from exc
    return doc if isinstance(doc, dict) else {}


def _resume_data(run_dir: Path, saved: str, given: str | None) -> str:
    """The data folder a resumed run reads: ``given`` (an explicit new location) or the
    saved one, which must still exist. Old runs saved it relative to where they started."""
    if given:
        path = str(Path(given).resolve())
        if Path(saved).resolve() != Path(path):
            _say(f"data: now reading {path} (the run started on {saved})")
        return path
    if not Path(saved).exists():
        raise CheckpointError(
            f"{run_dir}: its training data {saved} is not there any more; if it moved, give the new place: "
            f"artgan train NEW_DATA --resume {run_dir}"
        )
    return str(Path(saved).resolve())


def resolve_resume(resume: str | os.PathLike) -> Path:
    """The run folder to continue: ``resume`` itself, or the run of a checkpoint inside it."""
    p = resolve_run(resume)
    if not (p / "config.json").is_file():
        raise CheckpointError(f"{p}: not a generator run folder (no config.json); give a folder like runs/00000-...")
    return p


def _sample_grid(G_ema: torch.nn.Module, z: torch.Tensor, nrow: int) -> torch.Tensor:
    """(N, z_dim) CPU latents -> grid image (3, H, W) from the EMA generator in eval mode."""
    G_ema.eval()
    device = next(G_ema.parameters()).device
    with torch.no_grad():
        imgs = torch.cat([G_ema(chunk.to(device)).float().cpu() for chunk in z.split(32)])
    return make_grid(imgs, nrow=nrow)


def load_data(cfg: TrainConfig, progress: bool = True) -> tuple[TrainConfig, Any, dict[str, str]]:
    """Decode the training images and fill the recipe fields left to the data.

    Returns (resolved config, IngestResult, {field: "value (reason)"} for chosen fields).
    Raises DatasetError when there are too few usable images.
    """
    r = cfg.model.resolution
    # Whole-image mode's min_scale, when left to the data, is 1.0 (training/recipe.py).
    whole = crop_short_side(r, cfg.min_scale or 1.0)
    target: int | Callable[[int], int]
    if cfg.crop_size is None:
        # Patch mode or not depends on how many images there are: a few keep their source
        # pixels (as with an explicit --crop-size, so a resumed run decodes identically),
        # many are downscaled for whole-image crops.
        def by_count(n_files: int) -> int:
            return 1 << 30 if n_files <= PATCH_MODE_MAX_IMAGES else whole

        target = by_count
    elif cfg.crop_size == 0:
        target = whole
    else:
        target = 1 << 30  # patch mode: keep source pixels
    min_short = cfg.crop_size or r  # even a small image must fit one crop
    data = ingest(cfg.data, target_short=target, min_short=min_short, max_pixels=cfg.max_pixels, progress=progress)
    if not data.images:
        raise DatasetError(f"{cfg.data}: no usable images." + (f" Rejected:\n{data.report()}" if data.rejected else ""))
    cfg, chosen = resolve_recipe(cfg, len(data.images), min(min(im.shape[-2:]) for im in data.images))
    need = 1 if cfg.patch_mode else max(2, cfg.min_images)
    if len(data.images) < need:
        hint = "" if cfg.patch_mode else " (or pass --crop-size to train on patches of a single painting)"
        raise DatasetError(
            f"{cfg.data}: {len(data.images)} usable image(s), need at least {need}{hint}."
            + (f" Rejected:\n{data.report()}" if data.rejected else "")
        )

    return cfg, data, chosen


def train(
    cfg: TrainConfig,
    out: str | os.PathLike = "runs",
    *,
    resume: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    progress: bool = True,
    on_run_dir: Callable[[Path], None] | None = None,
    device: str | torch.device = "cpu",
    precision: str | None = None,
) -> Path:
    """Train a GAN as ``cfg`` says; returns the run folder.

    A new run gets the next numbered folder under ``out``. With ``resume`` (a run folder)
    the run continues in its own folder from its latest checkpoint; the budget (``kimg``
    total, ``minutes`` for this invocation) comes from ``cfg``, all else from the saved
    run, whose data folder ``data`` replaces when given (the images moved).
    ``on_run_dir`` is called with the run folder as soon as it exists (the studio records it).
    ``device``: auto, cpu, cuda, cuda:N or mps; ``precision``: fp32, bf16 or fp16 (mixed
    precision on CUDA; default bf16 where the GPU supports it, else fp32; the CPU is fp32).
    Started by torchrun with several processes, this is one rank of a distributed run
    (training/distributed.py): ``cfg.batch`` is then per process.
    """
    world = init_world(device)
    try:
        amp = Precision.on(precision, world.device)
        with _quiet(not world.main):
            return _train(cfg, Path(out), world, amp, resume, data, progress and world.main, on_run_dir)
    finally:
        world.close()


def _restarted(out: Path, world: World) -> Path | None:
    """Under ``torchrun --max-restarts``: the run this job started before torchrun
    restarted it, when it has a checkpoint to continue from."""
    if not under_torchrun() or restart_count() == 0:
        return None
    found = None
    if world.main:
        run = restarted_run(out)
        if run is not None:
            try:
                resolve_model_folder(run)
                found = str(run)
            except CheckpointError:
                pass  # killed before its first checkpoint: start afresh
    found = world.broadcast(found)
    return Path(found) if found else None


class _OnDevice(torch.nn.Module):
    """A generator on an accelerator seen from the CPU: latents in, float32 images out on
    the CPU, for the quality monitor (metrics run on the CPU)."""

    def __init__(self, net: torch.nn.Module, device: torch.device) -> None:
        super().__init__()
        self.net, self.device = net, device

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.to(self.device)).float().cpu()


STOP_BUDGET, STOP_EARLY, STOP_SIGNAL = 1, 2, 3  # agreed over the ranks: the largest wins


def _train(
    cfg: TrainConfig,
    out: Path,
    world: World,
    amp: Precision,
    resume: str | os.PathLike | None,
    data: str | os.PathLike | None,
    progress: bool,
    on_run_dir: Callable[[Path], None] | None,
) -> Path:
    start_time = time.time()
    dev = world.device
    old_fingerprint = None
    if resume is None:
        resume = _restarted(out, world)
        if resume is not None:
            _say(f"torchrun restarted the job (restart {restart_count()}): continuing its run")
    if resume is not None:
        run_dir = resolve_resume(resume)
        saved = _load_run_config(run_dir)
        cfg = replace(
            saved,
            data=_resume_data(run_dir, saved.data, str(data) if data else None),
            kimg=cfg.kimg if cfg.kimg is not None else saved.kimg,
            minutes=cfg.minutes,
            threads=cfg.threads or saved.threads,
        )  # threads belong to this machine
        old_doc = _read_run_doc(run_dir)
        old_fingerprint = old_doc.get("dataset", {}).get("fingerprint")
        ckpt_folder = resolve_model_folder(run_dir)
        _say(f"resuming {run_dir} from {ckpt_folder.name}")
    else:
        ckpt_folder = None
        run_dir = None
        cfg = replace(cfg, data=str(Path(cfg.data).resolve()) if cfg.data else cfg.data)
    defaulted_budget = cfg.kimg is None and cfg.minutes is None
    if defaulted_budget:
        cfg = replace(cfg, minutes=DEFAULT_MINUTES)
    cfg.validate()
    keep_freed_memory()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    # ---- data: decoded once, up front (by every rank); rejects listed before any training happens
    cfg, found, chosen = load_data(cfg, progress)
    r = cfg.model.resolution
    # load_data resolved the recipe: every AUTO_FIELDS field left None is filled (training/recipe.py).
    assert cfg.batch is not None and cfg.lr_g is not None and cfg.lr_d is not None and cfg.loss is not None
    assert cfg.r1_gamma is not None and cfg.ema_kimg is not None and cfg.augment is not None
    assert cfg.augment_p is not None and cfg.min_scale is not None and cfg.reuse_fakes is not None

    if world.main:  # rank 0 creates or updates the run folder; the others learn its name
        record = {"images": len(found.images), "rejected": len(found.rejected), "fingerprint": found.fingerprint()}
        if run_dir is None:
            run_dir = new_run_dir(out, cfg.data, cfg.model.family, r)
            _write_run_config(run_dir, cfg, {"dataset": record, "chosen_from_data": chosen})
            if under_torchrun():
                remember_run(out, run_dir)
        else:
            if old_fingerprint is not None and old_fingerprint != record["fingerprint"]:
                then = old_doc.get("dataset", {}).get("images", "?")
                _say(
                    f"warning: the data in {cfg.data} changed since the run started ({then} usable images then, "
                    f"{len(found.images)} now); training goes on with what is there now"
                )
            # The run's record follows its data (a new place, new images), so the next resume checks against it.
            kept = {k: v for k, v in old_doc.items() if k not in ("train", "artgan_version")}
            _write_run_config(run_dir, cfg, {**kept, "dataset": record})
        atomic_write_bytes(run_dir / "rejected.txt", found.report().encode())
        if on_run_dir is not None:
            on_run_dir(run_dir)
    run_dir = Path(world.broadcast(str(run_dir) if world.main else None))
    _say(f"run folder: {run_dir}")
    _say(
        f"data: {len(found.images)} images from {cfg.data}"
        + (f", {len(found.rejected)} rejected (see {run_dir / 'rejected.txt'}):" if found.rejected else "")
    )
    for name, reason in found.rejected[:20]:
        _say(f"  skipped {name}: {reason}")
    if len(found.rejected) > 20:
        _say(f"  ... and {len(found.rejected) - 20} more")
    if chosen:
        _say("chosen from the data (override with the matching option):")
        for name, text in chosen.items():
            _say(f"  {name} = {text}")
    crop = cfg.crop_size or None
    # Half the crops mirrored: it doubles a small set (docs/benchmarks/generator-recipe.md).
    sampler = CropSampler(found.images, r, crop_size=crop, min_scale=cfg.min_scale, hflip=True)
    monitor = (
        QualityMonitor(found.images, r, cfg.model.z_dim, n=cfg.metric_n, crop_size=crop)
        if cfg.metric_kimg > 0 and world.main
        else None
    )
    batch = cfg.batch * world.size  # images per step, over all ranks: nimg, the EMA and ADA count these

    # ---- models, optimisers, state
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    G = build_generator(cfg.model)
    D = build_discriminator(cfg.model)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    # Channels-last: faster convolutions and nearest upsampling on CPU (steps.py feeds D so).
    # memory_format= is valid at runtime but missing from torch's stubs for Module.to.
    G, D, G_ema = (m.to(dev, memory_format=torch.channels_last) for m in (G, D, G_ema))  # type: ignore[call-overload]
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    ada = AdaptiveAugment(cfg.augment_p, cfg.ada_target, cfg.ada_kimg, reduce=world.sum if world.distributed else None)
    # Each rank draws its own crops, latents and augmentations (rank 0 those of one process).
    data_gen = torch.Generator().manual_seed(rank_seed(cfg.seed, world.rank, 1))
    if world.rank > 0:
        torch.manual_seed(rank_seed(cfg.seed, world.rank, 2))
    nimg, step = 0, 0
    if ckpt_folder is not None:
        for key, module in (("G", G), ("G_ema", G_ema), ("D", D)):
            load_weights(module, ckpt_folder / f"{key}.safetensors", dev)
        st = load_state(ckpt_folder)
        opt_G.load_state_dict(st["opt_G"])
        opt_D.load_state_dict(st["opt_D"])
        ada.load_state_dict(st["ada"])
        nimg, step = int(st["nimg"]), int(st["step"])
        _restore_rng(st, world, data_gen, ada, cfg.seed, step)
        random.seed(int(st["rng_python_seed"]))
        if monitor is not None and "monitor" in st:
            monitor.load_state_dict(st["monitor"])
        if world.main:
            truncate_stats(run_dir / "stats.jsonl", nimg / 1000, key="kimg")
    scalers = (amp.scaler(), amp.scaler())
    ctx = StepContext(
        G=world.wrap(G),
        D=world.wrap(D),
        G_net=G,
        D_net=D,
        opt_G=opt_G,
        opt_D=opt_D,
        z_dim=cfg.model.z_dim,
        loss=cfg.loss,
        patch_weight=cfg.patch_weight,
        augment_ops=tuple(cfg.augment),
        r1_gamma=cfg.r1_gamma,
        r1_interval=cfg.r1_interval,
        reuse_fakes=cfg.reuse_fakes,
        device=dev,
        precision=amp,
        scaler_d=scalers[0],
        scaler_g=scalers[1],
    )
    G_view = G_ema if dev.type == "cpu" else _OnDevice(G_ema, dev)  # what the quality monitor samples
    grid_z = seeds_to_z(list(range(cfg.grid * cfg.grid)), cfg.model.z_dim)
    samples_dir = run_dir / "samples"
    if world.main:
        samples_dir.mkdir(exist_ok=True)
        if not (samples_dir / "reals.png").exists():
            reals = sampler.sample(cfg.grid * cfg.grid, torch.Generator().manual_seed(cfg.seed))
            save_png(
                make_grid(reals, nrow=cfg.grid), samples_dir / "reals.png", metadata={"artgan:kind": "training crops"}
            )

    def rank_state() -> dict[str, torch.Tensor]:
        """What differs between the ranks: random streams and ADA's pending sums."""
        own = {"rng_torch": torch.get_rng_state(), "rng_data": data_gen.get_state(), "ada": ada.pending()}
        if dev.type == "cuda":
            own["rng_cuda"] = torch.cuda.get_rng_state(dev)
        return own

    def state_dict() -> dict[str, Any]:
        ranks = world.gather(rank_state())  # a collective: every rank checkpoints at the same step
        return {
            "opt_G": opt_G.state_dict(),
            "opt_D": opt_D.state_dict(),
            "ada": ada.state_dict(),
            "nimg": torch.tensor(nimg),
            "step": torch.tensor(step),
            "rng_torch": torch.get_rng_state(),
            "rng_data": data_gen.get_state(),
            # Python's RNG is unused in the loop; a fresh seed derived from the position keeps it reproducible.
            "rng_python_seed": torch.tensor(cfg.seed * 1_000_003 + step),
            # Every rank's own streams, so a run resumed with as many processes goes on exactly.
            **{f"{k}_ranks": torch.stack([rs[k] for rs in ranks]) for k in ranks[0]},
            **({"monitor": monitor.state_dict()} if monitor is not None else {}),
        }

    calibrated_at = -1
    early: str | None = None  # rank 0's early-stop verdict, acted on by all ranks at the next step

    def calibrate() -> None:
        """Re-estimate G_ema's BN statistics once per image count: snapshot, measure and
        checkpoint often fall on the same step (update_ema overwrites them every step)."""
        nonlocal calibrated_at
        if calibrated_at != nimg:
            t0 = time.time()
            recalibrate_batchnorm(G_ema, cfg.model.z_dim)
            spent = time.time() - t0
            cost["calibrate"] = spent
            calibration_seconds[0] += spent
            calibrated_at = nimg

    def checkpoint() -> Path | None:
        if world.main:
            calibrate()  # before the state: recalibrating draws G's noise from torch's RNG
        state = state_dict()
        if not world.main:
            return None
        return save_checkpoint(
            run_dir / "checkpoints",
            nimg=nimg,
            config=cfg,
            modules={"G": G, "G_ema": G_ema, "D": D},
            state=state,
            keep=cfg.keep_checkpoints,
        )

    def snapshot() -> None:
        assert tb is not None  # rank 0's
        calibrate()
        grid = _sample_grid(G_ema, grid_z, cfg.grid)
        path = save_png(
            grid,
            samples_dir / f"fakes{int(nimg // 1000):06d}.png",
            metadata={
                "artgan:kind": "samples",
                "artgan:kimg": f"{nimg / 1000:.1f}",
                "artgan:seeds": f"0-{cfg.grid**2 - 1}",
            },
        )
        tb.image("samples", path.read_bytes(), grid.shape[1], grid.shape[2], step=nimg)
        tb.flush()

    def measure() -> None:
        """SWD of G_ema into stats/TensorBoard; a new best replaces checkpoints/best."""
        nonlocal early
        assert monitor is not None and stats_f is not None and tb is not None  # rank 0's
        calibrate()
        t0 = time.time()
        scores, improved = monitor.measure(G_view, nimg / 1000)
        row = {
            "kimg": round(nimg / 1000, 3),
            "step": step,
            "sec": round(time.time() - start_time, 1),
            **{f"metric/{k}": round(v, 3) for k, v in scores.items()},
            "metric/seconds": round(time.time() - t0, 2),
        }
        stats_f.write(json.dumps(row) + "\n")
        stats_f.flush()
        tb.scalars({k: v for k, v in row.items() if k.startswith("metric/")}, step=nimg)
        if improved:
            save_model_folder(
                run_dir / "checkpoints" / BEST,
                nimg=nimg,
                config=cfg,
                G_ema=G_ema,
                extra={"metric": {METRIC: scores[METRIC], "n": cfg.metric_n}},
            )
        bar.write(
            f"{nimg / 1000:.1f} kimg: SWD {scores[METRIC]:.1f}"
            + (" (new best)" if improved else f" (best {monitor.best:.1f} at {monitor.best_kimg:.1f} kimg)"),
            file=sys.stderr,
        )
        if cfg.patience and monitor.since_best >= cfg.patience:
            early = (
                f"early stop: SWD has not improved for {monitor.since_best} evaluations "
                f"(best {monitor.best:.1f} at {monitor.best_kimg:.1f} kimg)"
            )

    # ---- the loop
    if defaulted_budget:
        _say(f"no budget given: training for {DEFAULT_MINUTES:g} minutes (set --minutes or --kimg)")
    budget_img = int(cfg.kimg * 1000) if cfg.kimg is not None else None
    budget_sec = cfg.minutes * 60 if cfg.minutes is not None else None
    _say(
        f"training {cfg.model.family} at {r}px on {describe(dev)}"
        + (f" in {amp.name} mixed precision" if amp.dtype is not None else "")
        + (
            f", batch {cfg.batch} per process x {world.size} processes = {batch} per step, "
            if world.distributed
            else f", batch {cfg.batch}, "
        )
        + (f"{cfg.kimg:g} kimg" if budget_img else "")
        + (" / " if budget_img and budget_sec else "")
        + (f"{cfg.minutes:g} min" if budget_sec else "")
        + f" (starting at {nimg / 1000:.1f} kimg)"
    )
    from tqdm.auto import tqdm

    # Under a minutes budget the bar counts seconds (its total and ETA are then exact);
    # under a kimg budget it counts images.
    time_bar = budget_img is None and budget_sec is not None
    bar = tqdm(
        total=int(budget_sec) if time_bar and budget_sec is not None else (budget_img - nimg) if budget_img else None,
        initial=int(time.time() - start_time) if time_bar else 0,
        unit="s" if time_bar else "img",
        unit_scale=not time_bar,
        bar_format="{l_bar}{bar}| {n:.0f}/{total} s [{elapsed}<{remaining}{postfix}]" if time_bar else None,
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.05,
        # In a log file (no terminal) a line every 0.1 s is noise; every 30 s is plenty.
        mininterval=0.1 if sys.stderr.isatty() else 30.0,
    )
    # Seconds the end-of-run work (sample grid, SWD, checkpoint) took when last timed: a
    # minutes budget stops training early enough for it, so --minutes is the whole run.
    # Each is timed without the BN recalibration that the first of them at an image count does.
    cost: dict[str, float | None] = {"calibrate": None, "snapshot": None, "measure": None, "checkpoint": None}

    calibration_seconds = [0.0]  # all recalibrations so far

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0, cal0 = time.time(), calibration_seconds[0]
        result = fn()
        cost[name] = time.time() - t0 - (calibration_seconds[0] - cal0)
        return result

    def finish_reserve() -> float:
        known = {k: v for k, v in cost.items() if v is not None}
        snap = known.get("snapshot", 1.0)
        # Before the first SWD: it renders metric_n images where the grid renders grid^2,
        # then extracts their features (measured at about a third more).
        meas = known.get("measure", 1.3 * snap * cfg.metric_n / cfg.grid**2) if monitor is not None else 0.0
        return 1.1 * (known.get("calibrate", 2.0) + snap + meas + known.get("checkpoint", 1.0)) + 0.5

    tb = EventWriter(run_dir) if world.main else None
    stats_f = open(run_dir / "stats.jsonl", "a", encoding="utf-8") if world.main else None
    sums: dict[str, torch.Tensor] = {}
    n_sums = 0
    last_log = time.time()
    loop_start = time.time()
    start_nimg = nimg
    next_snap = (math.floor(nimg / (cfg.snapshot_kimg * 1000)) + 1) * cfg.snapshot_kimg * 1000
    next_ckpt = (math.floor(nimg / (cfg.checkpoint_kimg * 1000)) + 1) * cfg.checkpoint_kimg * 1000
    metric_img = cfg.metric_kimg * 1000
    next_metric = (math.floor(nimg / metric_img) + 1) * metric_img if monitor is not None else math.inf
    last_metric = -1
    if start_nimg == 0 and world.main:
        timed("snapshot", snapshot)
    reason = "budget reached"
    G.train()
    D.train()
    try:
        with _stop_on_signals() as flag:
            while True:
                # One decision for all ranks: kimg is the same everywhere, the clock and early
                # stopping are rank 0's, a signal may reach any rank.
                code = 0
                if budget_img is not None and nimg >= budget_img:
                    code = STOP_BUDGET
                elif (
                    world.main and budget_sec is not None and time.time() - start_time + finish_reserve() >= budget_sec
                ):
                    code = STOP_BUDGET
                if early is not None:
                    code = STOP_EARLY
                if flag["stop"]:
                    code = STOP_SIGNAL
                code = world.agree(code)
                if code == STOP_SIGNAL:
                    reason = f"stopped by {flag['stop']}" if flag["stop"] else "stopped by a signal to another process"
                elif code == STOP_EARLY:
                    reason = early or "early stop"
                if code:
                    break
                real = sampler.sample(cfg.batch, data_gen)
                if nimg == start_nimg and debugging():
                    debug_record(world, first_batch=fingerprint([real]), start_nimg=nimg)
                ds = d_step(ctx, to_device(real, dev), ada.p, step)
                ada.accumulate(ds.real_logits)
                gs = g_step(ctx, cfg.batch, ada.p, ds.fake)
                nimg += batch
                step += 1
                ada.update(batch, step)
                world.sync_buffers((G, D))  # BN statistics: rank 0's everywhere, so the EMA copies agree
                update_ema(G_ema, G, ema_beta(batch, nimg, cfg.ema_kimg, cfg.ema_rampup))
                if world.main:
                    for k, v in {**ds.stats, **gs}.items():
                        sums[k] = sums.get(k, 0) + v
                    n_sums += 1
                    if time_bar:
                        # Clamped: the last step ends past the budget, and tqdm warns on n > total.
                        bar.update(min(int(time.time() - start_time), bar.total) - bar.n)
                    else:
                        bar.update(batch)
                now = time.time()
                if stats_f is not None and tb is not None and now - last_log >= cfg.log_seconds:
                    row = _log_row(
                        sums, n_sums, nimg, step, now - start_time, (nimg - start_nimg) / (now - loop_start), ada
                    )
                    stats_f.write(json.dumps(row) + "\n")
                    stats_f.flush()
                    tb.scalars({k: v for k, v in row.items() if k not in ("kimg", "step")}, step=nimg)
                    bar.set_postfix(
                        {
                            "kimg": f"{nimg / 1000:.1f}",
                            "D": f"{row['loss/D']:.2f}",
                            "G": f"{row['loss/G']:.2f}",
                            "p": f"{ada.p:.2f}",
                        },
                        refresh=False,
                    )
                    sums, n_sums, last_log = {}, 0, now
                if nimg >= next_snap:
                    if world.main:
                        timed("snapshot", snapshot)
                    next_snap += cfg.snapshot_kimg * 1000
                if nimg >= next_metric:
                    timed("measure", measure)
                    last_metric = nimg
                    next_metric += metric_img
                if nimg >= next_ckpt:
                    timed("checkpoint", checkpoint)
                    next_ckpt += cfg.checkpoint_kimg * 1000
            bar.close()
            train_end = time.time()
            if stats_f is not None and n_sums:
                row = _log_row(
                    sums,
                    n_sums,
                    nimg,
                    step,
                    time.time() - start_time,
                    (nimg - start_nimg) / max(time.time() - loop_start, 1e-6),
                    ada,
                )
                stats_f.write(json.dumps(row) + "\n")
                stats_f.flush()
            if world.main:
                timed("snapshot", snapshot)
                if monitor is not None and last_metric != nimg:
                    timed("measure", measure)
            final = timed("checkpoint", checkpoint)
            if world.main:
                summary = _summary(
                    cfg,
                    monitor,
                    G_view,
                    nimg,
                    step,
                    time.time() - start_time,
                    (nimg - start_nimg) / max(time.time() - loop_start, 1e-6),
                    reason,
                )
                summary.update(processes=world.size, device=dev.type, precision=amp.name)
                atomic_write_bytes(run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    finally:
        bar.close()
        if stats_f is not None:
            stats_f.close()
        if tb is not None:
            tb.close()
    if debugging():
        # G_ema's BN statistics are left out: rank 0 recalibrates them for its samples and saves.
        weights = [*G.state_dict().values(), *D.state_dict().values(), *G_ema.parameters()]
        debug_record(world, weights=fingerprint(weights), nimg=nimg, step=step, p=ada.p)
    world.barrier()  # the checkpoint is complete before any rank reports success
    if not world.main:
        return run_dir
    if under_torchrun():
        forget_run(out)
    try:
        from ..gallery import write_gallery

        write_gallery(run_dir)
    except Exception as exc:  # noqa: BLE001 - a gallery glitch must not hide a finished run
        _say(f"warning: could not write the gallery page: {exc}")
    if nimg == start_nimg and reason == "budget reached":
        _say("warning: the budget ran out before the first training step; give more --minutes (or --kimg)")
    _say(
        f"{reason} at {nimg / 1000:.1f} kimg after {(time.time() - start_time) / 60:.2f} min "
        f"(training {(train_end - loop_start) / 60:.2f} min); checkpoint: {final}"
    )
    return run_dir


def _restore_rng(
    st: dict[str, Any], world: World, data_gen: torch.Generator, ada: AdaptiveAugment, seed: int, step: int
) -> None:
    """Put this rank's random streams (and ADA's pending sums) back as the checkpoint saved
    them. A checkpoint of as many processes holds every rank's; otherwise rank 0 takes the
    single-process ones and the other ranks start fresh streams (the run goes on, but is
    no longer bit-identical to one that never stopped)."""
    ranks = st.get("rng_torch_ranks")
    if ranks is not None and len(ranks) == world.size:
        torch.set_rng_state(ranks[world.rank].clone())
        data_gen.set_state(st["rng_data_ranks"][world.rank].clone())
        ada.set_pending(st["ada_ranks"][world.rank])
        if "rng_cuda_ranks" in st and world.device.type == "cuda":
            torch.cuda.set_rng_state(st["rng_cuda_ranks"][world.rank].clone(), world.device)
        return
    if world.rank == 0:
        torch.set_rng_state(st["rng_torch"])
        data_gen.set_state(st["rng_data"])
        if world.distributed or ranks is not None:
            saved = len(ranks) if ranks is not None else 1
            _say(
                f"note: the run was saved by {saved} process(es) and resumes with {world.size}: the other ranks' random streams start afresh"
            )
    else:
        torch.manual_seed(rank_seed(seed + step, world.rank, 2))
        data_gen.manual_seed(rank_seed(seed + step, world.rank, 1))
        ada.set_pending(torch.zeros(2, dtype=torch.float64))


def _summary(
    cfg: TrainConfig,
    monitor: QualityMonitor | None,
    G_ema: torch.nn.Module,
    nimg: int,
    step: int,
    sec: float,
    rate: float,
    reason: str,
) -> dict[str, Any]:
    """End-of-run figures for summary.json, plus the memorisation check (with a warning)."""
    out: dict[str, Any] = {
        "kimg": round(nimg / 1000, 3),
        "step": step,
        "minutes": round(sec / 60, 2),
        "img_per_sec": round(rate, 2),
        "stopped": reason,
    }
    if monitor is not None:
        copies, median_ratio = monitor.copies(G_ema, fresh=False)  # measured at this nimg just before
        out.update(
            {
                "best_swd": round(monitor.best, 3),
                "best_kimg": monitor.best_kimg,
                "copies": copies,
                "nn_ratio_median": round(median_ratio, 3),
            }
        )
        if copies > 0:
            _say(
                f"warning: {copies:.1%} of {cfg.metric_n} samples are near-copies of training crops: the generator "
                "is memorising. Use checkpoints/best, add images, or train on patches (--crop-size)."
            )
    return out


def _log_row(
    sums: dict[str, torch.Tensor], n: int, nimg: int, step: int, sec: float, rate: float, ada: AdaptiveAugment
) -> dict[str, float]:
    """Averages since the last log line; the only place the loop reads tensors back."""
    row: dict[str, float] = {"kimg": round(nimg / 1000, 3), "step": step, "sec": round(sec, 1)}
    for k, v in sums.items():
        # r1 is only computed every r1_interval steps; its mean over all steps is diluted,
        # which is fine for a trend line.
        row[k] = float(v) / n
    row["aug/p"] = ada.p
    if not math.isnan(ada.last_rt):
        row["aug/rt"] = ada.last_rt
    row["img_per_sec"] = round(rate, 2)
    return row
