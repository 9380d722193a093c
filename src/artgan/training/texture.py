"""Training a texture model on one exemplar (``artgan train-texture``).

One step: G paints ``batch`` wrap-around canvases (2 x ``patch`` px, and wider than G's
receptive field, so no pixel sees itself around the torus); D sees
``crops`` crops of each at random offsets (so crops straddle the wrap seams, and G
learns to hide them) against as many random crops of the exemplar. G is updated on the
same canvases right after D, which halves G's forward passes.

A run folder holds::

    model/        config.json (task "texture"), G_ema/G/D .safetensors, state.pt, exemplar.png
    stats.jsonl   losses over time
    preview.png   the exemplar beside a sample tiled 2x2 (a seam would show as a cross)

``model/`` is replaced crash-safely every minute and at the end, so a killed run keeps
its last save and ``--resume`` carries on from it.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import FORMAT_VERSION, TextureConfig, texture_config_from_dict, to_dict
from ..data.crops import random_crops, wrapped_crops
from ..imaging import load_image, make_grid, pil_to_tensor, png_bytes, save_png
from ..losses import multiscale_d_loss, multiscale_g_loss
from ..metrics.texture import halves_patch, halves_swd, texture_swd
from ..models.texgan import ARCH_VERSION, MultiScaleDiscriminator, TextureGenerator
from .checkpoint import (
    CheckpointError,
    load_state,
    load_weights,
    parse_section,
    pixels_key,
    read_task_config,
    resolve_run_model,
    write_folder,
)
from .console import say, stop_on_signals
from .device import cpu_copy, inputs_follow, resolve_device
from .ema import ema_beta, update_ema
from .memory import keep_freed_memory
from .rundir import truncate_stats
from .ticker import Ticker

TASK = "texture"
MODEL_DIR = "model"
MIN_EXEMPLAR = 48  # px on the shorter side: D's 32 px crops need room to move (17 x 17 positions)
R1_INTERVAL = 4  # lazy R1: every N D steps, weighted by N


class TextureError(ValueError):
    """An exemplar or region that cannot be used; the message names it and says what to do."""


def parse_region(text: str) -> tuple[int, int, int, int]:
    """ "x,y,w,h" -> (x, y, w, h) in pixels."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise TextureError(f"--region {text!r}: expected four whole numbers x,y,w,h (pixels)") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise TextureError(f"--region {text!r}: x and y must be >= 0, w and h positive")
    return x, y, w, h


def load_exemplar(path: str | os.PathLike, region: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """The exemplar as (3, H, W) in [-1, 1]: the whole image, or ``region`` = (x, y, w, h) of it."""
    img = load_image(path)
    if region is not None:
        x, y, w, h = region
        if x + w > img.width or y + h > img.height:
            raise TextureError(
                f"{path}: region x={x} y={y} w={w} h={h} does not fit the {img.width}x{img.height} image"
            )
        img = img.crop((x, y, x + w, y + h))
    if min(img.size) < MIN_EXEMPLAR:
        where = "the region" if region is not None else "the image"
        raise TextureError(
            f"{path}: {where} is {img.width}x{img.height}; a texture exemplar needs at least "
            f"{MIN_EXEMPLAR} px on each side (choose a larger region or image)"
        )
    return pil_to_tensor(img)


def choose_patch(h: int, w: int) -> int:
    """D's crop side for an (h, w) exemplar: half its shorter side, in 32..96, a multiple of 8.
    Half leaves many distinct crops (D cannot memorise a handful), yet each crop still holds
    several texture elements (a brick and its mortar)."""
    return max(32, min(96, (min(h, w) // 2) // 8 * 8))


def exemplar_key(exemplar: torch.Tensor, cfg: TextureConfig) -> str:
    """A hash of the exemplar's pixels and every training setting: the cache key."""
    return pixels_key([exemplar], cfg, salt=f"texgan-{ARCH_VERSION}")


def read_texture_config(folder: Path) -> tuple[TextureConfig, dict[str, Any]]:
    """(TextureConfig, raw dict) of a texture model folder, with errors that say what is wrong."""
    path = folder / "config.json"
    raw = read_task_config(folder, TASK, "texture model", "artgan train-texture EXEMPLAR --out RUN")
    if raw.get("arch_version", ARCH_VERSION) != ARCH_VERSION:
        raise CheckpointError(
            f"{path}: a texture model from another version of the network "
            f"({raw.get('arch_version')} vs {ARCH_VERSION}); train it again"
        )
    return parse_section(folder, raw, "texture", texture_config_from_dict), raw


def resolve_texture_folder(path: str | os.PathLike) -> Path:
    """The texture model folder meant by ``path``: a model folder or a run folder holding one."""
    return resolve_run_model(path, MODEL_DIR, "texture model", "train-texture")


def train_texture(
    exemplar: torch.Tensor | None,
    cfg: TextureConfig,
    out: str | Path,
    *,
    name: str = "exemplar",
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> Path:
    """Train a texture model on ``exemplar`` (3, H, W) in [-1, 1]; returns the model folder.

    ``cfg.minutes`` / ``cfg.steps`` bound this invocation / the whole run. With ``resume``
    the run in ``out`` continues from its last save (its own config and saved exemplar
    win; ``exemplar`` may then be None). ``device``: cpu (default), auto, cuda, cuda:N or
    mps; training is float32 in one process (a texture model is small: steps are short and
    do not split well over processes).
    """
    dev = resolve_device(device)
    run = Path(out)
    state: dict[str, Any] | None = None
    if resume:
        folder = resolve_texture_folder(run)
        saved_cfg, raw = read_texture_config(folder)
        cfg = replace(
            saved_cfg, minutes=cfg.minutes, steps=cfg.steps if cfg.steps else saved_cfg.steps, threads=cfg.threads
        )
        exemplar = pil_to_tensor(load_image(folder / "exemplar.png"))
        name = raw.get("exemplar", {}).get("name", name)
        state = load_state(folder)
    if exemplar is None:
        raise TextureError("no exemplar given (only a resumed run may omit it)")
    _, h, w = exemplar.shape
    if min(h, w) < MIN_EXEMPLAR:
        raise TextureError(f"{name}: the exemplar is {w}x{h}; it needs at least {MIN_EXEMPLAR} px on each side")
    if cfg.patch == 0:
        cfg = replace(cfg, patch=choose_patch(h, w))
    if cfg.patch > min(h, w) - 16:
        raise TextureError(
            f"patch {cfg.patch} px leaves too few distinct crops of the {w}x{h} exemplar; "
            f"use --patch {max(16, (min(h, w) - 16) // 8 * 8)} or less"
        )
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    keep_freed_memory()
    if not resume and (run / MODEL_DIR).exists():
        raise TextureError(f"{run} already holds a texture run; continue it with --resume or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    if state is not None:
        truncate_stats(run / "stats.jsonl", int(state["step"]))

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    # Noise and crops are drawn on the CPU from ``gen`` and moved (inputs_follow).
    G = inputs_follow(TextureGenerator(cfg), dev)
    D = MultiScaleDiscriminator(cfg.d_width, cfg.patch, cfg.scales).to(dev)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.99))
    step, seconds = 0, 0.0
    if state is not None:
        folder = resolve_texture_folder(run)
        for key, module in (("G", G), ("D", D), ("G_ema", G_ema)):
            load_weights(module, folder / f"{key}.safetensors", dev)
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        step, seconds = int(state["step"]), float(state["seconds"])

    # Wider than G's receptive field, so no pixel sees itself around the torus in training.
    canvas = -(-max(2 * cfg.patch, 2 * G.reach + G.cell) // G.cell) * G.cell
    ex_png = png_bytes(exemplar)
    meta = {"name": name, "size": [h, w], "sha256": hashlib.sha256(ex_png).hexdigest()}

    def save(total_seconds: float, final: bool = False, quality: dict[str, Any] | None = None) -> Path:
        config = {
            "format_version": FORMAT_VERSION,
            "task": TASK,
            "family": "texgan",
            "arch_version": ARCH_VERSION,
            "artgan_version": __version__,
            "texture": to_dict(cfg),
            "exemplar": meta,
            "step": step,
            "seconds": round(total_seconds, 1),
            "complete": final,
        }
        if quality:
            config["quality"] = quality
        st = {
            "step": step,
            "seconds": total_seconds,
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "gen": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        return write_folder(
            run / MODEL_DIR,
            config=config,
            modules={"G_ema": G_ema, "G": G, "D": D},
            state=st,
            files={"exemplar.png": ex_png},
        )

    budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    say(
        f"training a texture model on {name} ({w}x{h}): D crops {cfg.patch} px at {D.scales} scale(s), "
        f"canvases {canvas} px, "
        + (f"{cfg.minutes:g} min" if cfg.minutes else "")
        + (" / " if cfg.minutes and cfg.steps else "")
        + (f"{cfg.steps} steps" if cfg.steps else "")
        + (f" (resuming at step {step})" if step else "")
    )
    reason = "budget reached"
    with Ticker(run / "stats.jsonl", ["loss/D", "loss/G", "loss/r1"], budget, seconds, save, progress) as ticker:
        with stop_on_signals() as flag:
            while ticker.elapsed() < budget and (cfg.steps is None or step < cfg.steps):
                if flag["stop"]:
                    reason = f"stopped by {flag['stop']}"
                    break
                fake_canvas = G(G.sample_noise(cfg.batch, (canvas, canvas), gen))  # (B, 3, canvas, canvas)
                fake = wrapped_crops(fake_canvas, cfg.crops, cfg.patch, gen)  # (B*crops, 3, P, P)
                real = random_crops(exemplar, fake.shape[0], cfg.patch, gen).to(dev)

                # D step. Each scale's logit map counts equally; the losses average within a map.
                gamma = cfg.r1_gamma if step % R1_INTERVAL == 0 else 0.0
                loss_d, r1 = multiscale_d_loss(D, real, fake, r1_gamma=gamma, r1_interval=R1_INTERVAL)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()

                # G step on the same canvases, against the updated D.
                D.requires_grad_(False)
                loss_g = multiscale_g_loss(D, fake)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                D.requires_grad_(True)
                # Half-life in steps, at most 30% of the run so far (early averages are not stale).
                update_ema(G_ema, G, ema_beta(1, step, cfg.ema_steps / 1000, 0.3))
                step += 1

                r1_logged = torch.zeros(()) if r1 is None else r1.detach()
                ticker.tick(step, torch.stack([loss_d.detach(), loss_g.detach(), r1_logged]))
        seconds += ticker.elapsed()

    G_cpu = cpu_copy(G_ema)  # measured and previewed on the CPU, beside the exemplar
    quality = measure(G_cpu, exemplar, cfg)
    # Only a run that used its whole budget is "complete" (the cache reuses complete runs).
    folder = save(seconds, final=reason == "budget reached", quality=quality)
    write_preview(G_cpu, exemplar, run / "preview.png", cfg)
    say(
        f"{reason}: {step} steps in {seconds / 60:.1f} min. Patch SWD x1e3 to the exemplar "
        f"{quality['swd']:.1f} vs its own halves {quality['halves_swd']:.1f} "
        f"(ratio {quality['swd_ratio']:.2f}); seam error {quality['seam_error']:.2f}. Model: {folder}"
    )
    return folder


@torch.no_grad()
def measure(G: TextureGenerator, exemplar: torch.Tensor, cfg: TextureConfig, n: int = 4) -> dict[str, float]:
    """Patch SWD of ``n`` 256 px samples to the exemplar, its halves' SWD (the yardstick)
    and the mean seam error of tileable samples."""
    from ..metrics import seam_error

    _, h, w = exemplar.shape
    side = halves_patch((h, w))
    samples = torch.stack([G.render((256, 256), 1000 + i, tileable=True) for i in range(n)])
    s = texture_swd(samples, exemplar, patch=side)["swd/avg"]
    ref = halves_swd(exemplar, patch=side)["swd/avg"]
    seam = float(seam_error(samples).mean())
    return {
        "swd": round(s, 2),
        "halves_swd": round(ref, 2),
        "swd_ratio": round(s / max(ref, 1e-8), 3),
        "seam_error": round(seam, 3),
        "patch": side,
    }


@torch.no_grad()
def write_preview(G: TextureGenerator, exemplar: torch.Tensor, path: Path, cfg: TextureConfig) -> None:
    """The exemplar (at its own scale, centred) beside two samples, each tiled 2x2 so any
    seam would show."""
    tiles = []
    for seed in (0, 1):
        t = G.render((192, 192), seed, tileable=True)
        tiles.append(t.repeat(1, 2, 2))
    size = tiles[0].shape[-1]
    ex = torch.zeros(3, size, size)
    _, h, w = exemplar.shape
    eh, ew = min(h, size), min(w, size)
    y, x = (size - eh) // 2, (size - ew) // 2
    ex[:, y : y + eh, x : x + ew] = exemplar[:, :eh, :ew]
    save_png(make_grid(torch.stack([ex] + tiles), nrow=3, pad=4), path)


__all__ = [
    "TextureError",
    "train_texture",
    "load_exemplar",
    "parse_region",
    "choose_patch",
    "exemplar_key",
    "measure",
    "resolve_texture_folder",
    "read_texture_config",
    "MODEL_DIR",
]
