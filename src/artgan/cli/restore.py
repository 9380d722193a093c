"""``artgan restore`` and ``artgan train-restorer``: repair cracks, losses and stains."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import (
    add_device,
    add_out,
    add_progress,
    announce_device,
    check_inputs,
    check_out_dir,
    new_parser,
    resolve_device,
    say,
)
from .options import add_config_options, budget_config, given_options

TRAIN_FIELDS = ("minutes", "steps", "hole", "threads")


def _add_inputs(e: argparse._ArgumentGroup, mask_required: bool) -> None:
    e.add_argument("image", metavar="IMAGE", help="the painting to repair")
    e.add_argument(
        "--mask",
        required=mask_required,
        metavar="MASK",
        default=None,
        help="an image of the same size, white where the painting is damaged"
        + (" (required)" if mask_required else " (default: none; those pixels are never learned from)"),
    )


def register(sub: argparse._SubParsersAction) -> None:
    from ..config import RestoreConfig

    p, g = new_parser(sub, "restore", "repair the masked damage of a painting (trains on its intact parts, or --model)")
    _add_inputs(g["essential"], mask_required=True)
    g["essential"].add_argument(
        "--model", metavar="RUN", default=None, help="a restorer run (train-restorer) to use as it is (default: none)"
    )
    add_out(g["budget"], "outputs/restore", "folder for IMAGE-restored.png")
    g["budget"].add_argument(
        "--retrain", action="store_true", help="train afresh even if a cached restorer exists (default: off)"
    )
    add_progress(g["budget"])
    add_config_options(g, RestoreConfig, only=(*TRAIN_FIELDS, "seed"))
    add_device(g["advanced"])
    p.set_defaults(func=cmd_restore)

    p, g = new_parser(sub, "train-restorer", "train an inpainter on a painting's own intact regions")
    _add_inputs(g["essential"], mask_required=False)
    add_out(g["budget"], "runs", "folder that holds the numbered run folders")
    add_progress(g["budget"])
    add_device(g["advanced"])
    p.set_defaults(
        func=cmd_train_restorer, option_fields=add_config_options(g, RestoreConfig, only=(*TRAIN_FIELDS, "seed"))
    )


def restore_config(a: argparse.Namespace):
    from ..config import RestoreConfig

    return budget_config(a, RestoreConfig)


def cmd_train_restorer(a: argparse.Namespace) -> int:
    from ..imaging import load_image, pil_to_tensor
    from ..training.restore import load_mask, train_restorer
    from ..training.rundir import new_run_folder

    check_inputs([a.image] + ([a.mask] if a.mask else []), "IMAGE/--mask")
    cfg = restore_config(a)
    check_out_dir(a.out)
    device = resolve_device(a.device)
    img = pil_to_tensor(load_image(a.image))
    mask = load_mask(a.mask, (img.shape[1], img.shape[2]), a.image) if a.mask else None
    run = new_run_folder(Path(a.out), Path(a.image).stem + "-restorer")
    announce_device(a.device, device)
    folder = train_restorer(img, mask, cfg, run, name=Path(a.image).name, progress=not a.no_progress, device=device)
    print(folder.parent)
    return 0


def cmd_restore(a: argparse.Namespace) -> int:
    from ..imaging import load_image, pil_to_tensor, save_png
    from ..tasks.restore import Restorer
    from ..training.restore import load_mask

    check_inputs([a.image, a.mask], "IMAGE/--mask")
    out = check_out_dir(a.out)
    device = resolve_device(a.device)
    img = pil_to_tensor(load_image(a.image))
    mask = load_mask(a.mask, (img.shape[1], img.shape[2]), a.image)
    target = out / f"{Path(a.image).stem}-restored.png"
    if not mask.any():
        say(f"{a.mask}: the mask is empty (no white pixels): nothing to repair; writing an unchanged copy")
        out.mkdir(parents=True, exist_ok=True)
        save_png(img, target, metadata={"artgan:task": "restore"})
        print(target)
        return 0
    if bool(mask.all()):
        from ..training.restore import RestoreError

        raise RestoreError(f"{a.mask}: the mask covers the whole image; nothing is left to restore from")
    if a.model:
        ignored = given_options(a, [*TRAIN_FIELDS, "seed", "retrain"])
        if ignored:
            say("warning: --model uses that trained restorer as it is; ignoring " + ", ".join(ignored))
        restorer = Restorer.from_pretrained(a.model, device=device)
    else:
        announce_device(a.device, device)
        restorer = Restorer.fit(
            img, mask, config=restore_config(a), cache=not a.retrain, progress=not a.no_progress, device=device
        )
    t0 = time.perf_counter()
    fixed = restorer(img, mask, output="tensor")
    out.mkdir(parents=True, exist_ok=True)
    save_png(fixed, target, metadata={"artgan:task": "restore", "artgan:model": restorer.model_id})
    say(f"repaired {int(mask.sum())} px ({float(mask.mean()):.1%}) in {time.perf_counter() - t0:.1f} s: {target}")
    print(target)
    return 0
