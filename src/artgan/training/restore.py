"""Training an inpainter on one painting (``artgan train-restorer``, ``Restorer.fit``).

No dataset: each step cuts ``batch`` random crops from the painting, hides part of each
under a synthetic mask (holes up to ``hole`` px, cracks or scratches from
data/damage.py), and G learns to paint the hidden pixels back. The user's own mask (the
real damage) is hidden from G too but never scored: nobody knows what was there.

Loss of G: L1 on the hidden pixels, ``valid_weight`` x L1 on the shown ones (the
restorer's seam correction compares them with the input), and ``adv_weight`` x the
non-saturating loss of a patch D that sees (composite crop, mask).

A run folder holds::

    model/        config.json (task "restore"), G_ema/G/D .safetensors, image.png, mask.png
    stats.jsonl   losses over time
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import FORMAT_VERSION, RestoreConfig, restore_config_from_dict, to_dict
from ..data.damage import crack_mask, hole_mask, scratch_mask
from ..imaging import load_image, pil_to_tensor, png_bytes
from ..losses import d_loss, g_loss
from ..metrics import psnr
from ..models.inpaint import ARCH_VERSION, InpaintDiscriminator, InpaintGenerator
from .checkpoint import parse_section, pixels_key, read_task_config, resolve_run_model, write_folder
from .console import say
from .device import cpu_copy, resolve_device
from .ema import ema_beta, update_ema
from .ticker import Ticker

TASK = "restore"
MODEL_DIR = "model"
MIN_SIDE = 32  # px: the smallest painting a restorer can learn from (one 32 px crop)
MAX_MASKED = 0.75  # share of the painting that may be masked when learning from it


class RestoreError(ValueError):
    """An image or mask that cannot be used; the message names the file and what to do."""


def load_mask(
    path: str | os.PathLike, size: tuple[int, int] | None = None, image_name: str = "the image"
) -> torch.Tensor:
    """A mask file (white = to repair) as (1, H, W) float32 of 0/1. ``size`` = (H, W) the
    image's, checked."""
    t = pil_to_tensor(load_image(path))  # (3, H, W) in [-1, 1]
    mask = (t.mean(0, keepdim=True) > 0).float()
    if size is not None and tuple(mask.shape[-2:]) != tuple(size):
        h, w = mask.shape[-2:]
        raise RestoreError(
            f"{path}: the mask is {w}x{h} px but {image_name} is {size[1]}x{size[0]}; "
            "draw the mask on the image itself (same size, white = to repair)"
        )
    return mask


def synthetic_mask(size: int, hole: int, g: torch.Generator) -> torch.Tensor:
    """One training mask for a ``size`` px crop, (1, size, size): holes (half the time),
    craquelure or scratches."""
    pick = float(torch.rand((), generator=g))
    if pick < 0.5:
        count = int(torch.randint(1, 4, (), generator=g))
        return hole_mask((size, size), g, count=count, min_size=4, max_size=min(hole, size * 3 // 4))
    if pick < 0.8:
        width = int(torch.randint(1, 3, (), generator=g))
        return crack_mask((size, size), g, density=0.5 + float(torch.rand((), generator=g)), width=width)
    return scratch_mask((size, size), g, count=int(torch.randint(1, 4, (), generator=g)), width=2)


def training_batch(
    image: torch.Tensor, known_damage: torch.Tensor, n: int, crop: int, hole: int, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` crops of ``image`` (3, H, W) with their masks: (real (n, 3, c, c), hidden
    (n, 1, c, c) = synthetic mask or known damage, scored (n, 1, c, c) = synthetic and
    not known damage)."""
    _, h, w = image.shape
    ys = torch.randint(h - crop + 1, (n,), generator=g).tolist()
    xs = torch.randint(w - crop + 1, (n,), generator=g).tolist()
    real = torch.stack([image[:, y : y + crop, x : x + crop] for y, x in zip(ys, xs)])
    known = torch.stack([known_damage[:, y : y + crop, x : x + crop] for y, x in zip(ys, xs)])
    synth = torch.stack([synthetic_mask(crop, hole, g) for _ in range(n)])
    return real, torch.maximum(synth, known), synth * (1 - known)


def restorer_key(image: torch.Tensor, mask: torch.Tensor, cfg: RestoreConfig) -> str:
    """The cache key: the painting's pixels, its mask and every training setting."""
    return pixels_key([image, mask.expand(3, -1, -1) * 2 - 1], cfg, salt=f"inpaint-{ARCH_VERSION}")


def read_restore_config(folder: Path) -> tuple[RestoreConfig, dict[str, Any]]:
    raw = read_task_config(folder, TASK, "restorer", "artgan train-restorer IMAGE --mask MASK.png")
    if raw.get("arch_version", ARCH_VERSION) != ARCH_VERSION:
        raise RestoreError(f"{folder / 'config.json'}: a restorer from another version of the network; train it again")
    return parse_section(folder, raw, "restore", restore_config_from_dict), raw


def resolve_restore_folder(path: str | os.PathLike) -> Path:
    return resolve_run_model(path, MODEL_DIR, "restorer", "train-restorer")


def check_learnable(image: torch.Tensor, mask: torch.Tensor, name: str) -> None:
    """Refuse paintings too small, or masked too much, to learn from."""
    _, h, w = image.shape
    if min(h, w) < MIN_SIDE:
        raise RestoreError(f"{name}: the image is {w}x{h}; a restorer needs at least {MIN_SIDE} px on each side")
    share = float(mask.mean())
    if share > MAX_MASKED:
        raise RestoreError(
            f"{name}: the mask covers {share:.0%} of the image; at most {MAX_MASKED:.0%} may be masked, "
            "or there is too little intact paint to learn from"
        )


def train_restorer(
    image: torch.Tensor,
    mask: torch.Tensor | None,
    cfg: RestoreConfig,
    out: str | Path,
    *,
    name: str = "image",
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> Path:
    """Train an inpainter on ``image`` (3, H, W) in [-1, 1], never scoring the pixels under
    ``mask`` (1, H, W) (the real damage; None: none). Returns the model folder."""
    cfg.validate()
    dev = resolve_device(device)
    known = torch.zeros(1, *image.shape[-2:]) if mask is None else mask.float()
    check_learnable(image, known, name)
    _, h, w = image.shape
    crop = min(cfg.crop, min(h, w) // 8 * 8)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(out)
    if (run / MODEL_DIR).exists():
        raise RestoreError(f"{run} already holds a restorer run; choose another --out")
    run.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    G = InpaintGenerator(cfg.width).to(dev)
    D = InpaintDiscriminator(cfg.d_width).to(dev)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    image_png, mask_png = png_bytes(image), png_bytes(known.expand(3, -1, -1) * 2 - 1)
    meta = {"name": name, "size": [h, w], "sha256": hashlib.sha256(image_png).hexdigest()}
    step = 0

    def save(total_seconds: float, final: bool = False, quality: dict[str, Any] | None = None) -> Path:
        config = {
            "format_version": FORMAT_VERSION,
            "task": TASK,
            "family": "inpaint",
            "arch_version": ARCH_VERSION,
            "artgan_version": __version__,
            "restore": to_dict(cfg),
            "image": meta,
            "step": step,
            "seconds": round(total_seconds, 1),
            "complete": final,
        }
        if quality:
            config["quality"] = quality
        return write_folder(
            run / MODEL_DIR,
            config=config,
            modules={"G_ema": G_ema, "G": G, "D": D},
            files={"image.png": image_png, "mask.png": mask_png},
        )

    budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    say(f"training a restorer on {name} ({w}x{h}): crops {crop} px, holes up to {min(cfg.hole, crop * 3 // 4)} px")
    with Ticker(run / "stats.jsonl", ["loss/D", "loss/G", "loss/l1"], budget, 0.0, save, progress) as ticker:
        while ticker.elapsed() < budget and (cfg.steps is None or step < cfg.steps):
            real, hidden, scored = (t.to(dev) for t in training_batch(image, known, cfg.batch, crop, cfg.hole, gen))
            fake = G(real, hidden)
            comp = torch.where(hidden > 0, fake, real)
            # D never sees the real damage: the same pixels are blanked on both sides.
            seen = 1 - (hidden - scored).clamp(0, 1)
            loss_d = d_loss(D(real * seen, hidden).flatten(), D(comp.detach() * seen, hidden).flatten())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            D.requires_grad_(False)
            err = (fake - real).abs()
            l1 = (err * scored).sum() / (3 * scored.sum()).clamp_min(1)
            shown = 1 - hidden
            l1_valid = (err * shown).sum() / (3 * shown.sum()).clamp_min(1)
            adv = g_loss(D(comp * seen, hidden).flatten())
            loss_g = l1 + cfg.valid_weight * l1_valid + cfg.adv_weight * adv
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            D.requires_grad_(True)
            update_ema(G_ema, G, ema_beta(1, step, cfg.ema_steps / 1000, 0.3))
            step += 1
            ticker.tick(step, torch.stack([loss_d.detach(), loss_g.detach(), l1.detach()]).cpu())
        seconds = ticker.elapsed()
    quality = measure(cpu_copy(G_ema), image, known, crop, cfg.hole)
    folder = save(seconds, final=True, quality=quality)
    say(
        f"{step} steps in {seconds / 60:.1f} min; held-out holes: PSNR {quality['psnr']:.2f} dB "
        f"(mean-colour fill {quality['psnr_mean_fill']:.2f} dB). Model: {folder}"
    )
    return folder


@torch.no_grad()
def measure(
    G: InpaintGenerator, image: torch.Tensor, known: torch.Tensor, crop: int, hole: int, n: int = 8, seed: int = 999
) -> dict[str, float]:
    """PSNR inside fixed synthetic masks (seed ``seed``) on ``n`` crops: G's fill against a
    fill with the mean colour of each crop's shown pixels (the yardstick)."""
    g = torch.Generator().manual_seed(seed)
    real, hidden, scored = training_batch(image, known, n, crop, hole, g)
    fake = torch.where(hidden > 0, G(real, hidden), real)
    shown = 1 - hidden
    mean = (real * shown).sum((2, 3), keepdim=True) / shown.sum((2, 3), keepdim=True).clamp_min(1)
    flat = torch.where(hidden > 0, mean.expand_as(real), real)
    sel = scored.expand_as(real) > 0
    return {
        "psnr": round(float(psnr(fake[sel].view(1, 1, 1, -1), real[sel].view(1, 1, 1, -1))), 2),
        "psnr_mean_fill": round(float(psnr(flat[sel].view(1, 1, 1, -1), real[sel].view(1, 1, 1, -1))), 2),
    }


__all__ = [
    "RestoreError",
    "train_restorer",
    "load_mask",
    "synthetic_mask",
    "training_batch",
    "restorer_key",
    "read_restore_config",
    "resolve_restore_folder",
    "check_learnable",
    "measure",
    "MODEL_DIR",
]
