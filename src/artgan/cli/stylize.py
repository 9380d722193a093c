"""``artgan stylize``, ``artgan train-stylizer`` and ``artgan train-translator``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    UsageError,
    add_device,
    add_out,
    add_precision,
    add_progress,
    announce_device,
    check_inputs,
    check_out_dir,
    check_unique_stems,
    need,
    new_parser,
    resolve_device,
    resolve_precision,
    say,
    set_threads,
)
from .options import add_config_options, config_kwargs, given_options

if TYPE_CHECKING:
    from PIL import Image

# StylizerConfig fields a user may set from the command line, per command.
TRAIN_FIELDS = ("minutes", "steps", "style_weight", "palette", "threads")


def register(sub: argparse._SubParsersAction) -> None:
    from ..config import StylizerConfig

    p, g = new_parser(
        sub,
        "stylize",
        "photos in the style of a painting (trains a stylizer, or reuses a cached or given one)",
    )
    e = g["essential"]
    e.add_argument("photos", nargs="+", metavar="PHOTO", help="photos to stylize; photo.jpg is written as photo.png")
    e.add_argument(
        "--style", metavar="PAINTING", default=None, help="the painting whose style to apply (required unless --model)"
    )
    e.add_argument(
        "--model",
        metavar="RUN",
        default=None,
        help="a stylizer run (train-stylizer, train-translator) instead of --style (default: none)",
    )
    e.add_argument("--strength", type=float, default=1.0, help="0 = the photo, 1 = full style (default: 1)")
    e.add_argument(
        "--preserve-color",
        action="store_true",
        help="keep the photo's colors, take the style's light and texture (default: off)",
    )
    add_out(g["budget"], "outputs/stylize", "folder for the stylized PNGs")
    g["budget"].add_argument(
        "--long-side",
        type=int,
        default=None,
        metavar="PX",
        help="scale each photo so its longer side is this many px (default: the photo's own size)",
    )
    g["budget"].add_argument(
        "--retrain", action="store_true", help="train afresh even if a cached stylizer exists (default: off)"
    )
    add_progress(g["budget"])
    add_config_options(g, StylizerConfig, only=TRAIN_FIELDS)
    a = g["advanced"]
    a.add_argument("--seed", type=int, default=0, help="seed of the noise the brushwork is painted from (default: 0)")
    a.add_argument(
        "--perceptual",
        choices=("vgg19",),
        default=None,
        help="no stylizer: optimise each photo against VGG-19 "
        "features (Gatys et al.); needs local VGG-19 weights, nothing is downloaded (default: off)",
    )
    a.add_argument(
        "--vgg-weights",
        default=None,
        metavar="PATH",
        help="torchvision's vgg19-dcbb9e9d.pth for --perceptual (default: $ARTGAN_VGG19, then the torch hub cache)",
    )
    a.add_argument(
        "--perceptual-steps", type=int, default=None, metavar="N", help="iterations of --perceptual (default: 200)"
    )
    add_device(a)
    add_precision(a, " of the stylizer's passes (training is fp32)")
    p.set_defaults(func=cmd_stylize)

    p, g = new_parser(sub, "train-stylizer", "train a fast stylizer for one painting")
    e = g["essential"]
    e.add_argument(
        "photos", nargs="*", metavar="PHOTO", help="photos to train on (default: generic procedural content)"
    )
    e.add_argument(
        "--style", metavar="PAINTING", default=None, help="the painting whose style to learn (required unless --resume)"
    )
    e.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue this stylizer run from its last save (default: none, a new run)",
    )
    add_out(g["budget"], "runs", "folder that holds the numbered run folders")
    add_progress(g["budget"])
    add_device(g["advanced"])
    p.set_defaults(
        func=cmd_train_stylizer, option_fields=add_config_options(g, StylizerConfig, only=(*TRAIN_FIELDS, "seed"))
    )

    p, g = new_parser(
        sub, "train-translator", "unpaired translation: a folder of photos into the style of a folder of paintings"
    )
    e = g["essential"]
    e.add_argument("photos_dir", nargs="?", metavar="PHOTOS", help="folder (or .zip) of photos: the content")
    e.add_argument("paintings_dir", nargs="?", metavar="PAINTINGS", help="folder (or .zip) of paintings: the style")
    e.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue this translator run; give the same folders (default: none, a new run)",
    )
    e.add_argument(
        "--cycle",
        action="store_true",
        help="keep content by cycle consistency (CycleGAN; twice the cost) instead of "
        "PatchNCE plus blurred-luminance L1 (default: off)",
    )
    add_out(g["budget"], "runs", "folder that holds the numbered run folders")
    add_progress(g["budget"])
    add_device(g["advanced"])
    p.set_defaults(
        func=cmd_train_translator, option_fields=add_config_options(g, StylizerConfig, only=(*TRAIN_FIELDS, "seed"))
    )


def stylizer_config(a: argparse.Namespace):
    from ..config import StylizerConfig

    kw = config_kwargs(a, StylizerConfig)
    if kw.get("steps") is not None and "minutes" not in kw:
        kw["minutes"] = None  # a step budget alone
    return StylizerConfig(**kw).validate()


def _load_photos(paths: list[str]) -> list[tuple[Path, Image.Image]]:
    from ..imaging import load_image

    files = check_inputs(paths, "PHOTO")
    check_unique_stems(files, "photos")
    return [(p, load_image(p)) for p in files]  # every file checked before any training


def cmd_stylize(a: argparse.Namespace) -> int:
    need(0.0 <= a.strength <= 1.0, f"--strength {a.strength:g}: must be in [0, 1]")
    need(a.long_side is None or a.long_side >= 16, f"--long-side {a.long_side}: must be at least 16 px")
    need(
        (a.style is None) != (a.model is None) or bool(a.perceptual and a.style),
        "give --style PAINTING (trains or reuses a stylizer) or --model RUN, one of them",
    )
    if a.style:
        check_inputs([a.style], "--style")
    out = check_out_dir(a.out)
    images = _load_photos(a.photos)
    set_threads(a.threads)
    device = resolve_device(a.device)
    precision = resolve_precision(a.precision, device)
    if a.perceptual:
        if device.type != "cpu":
            say("warning: --perceptual runs on the CPU; ignoring --device")
        return _stylize_perceptual(a, images, out)
    from ..imaging import save_png
    from ..tasks.stylize import Stylizer

    if a.model:
        ignored = given_options(a, [*TRAIN_FIELDS, "retrain"])
        if ignored:
            say(f"warning: --model uses that trained stylizer as it is; ignoring {', '.join(ignored)}")
        st = Stylizer.from_pretrained(a.model, device=device, precision=precision)
        announce_device(a.device, device)
        if st.warning:
            say(f"warning: {a.model}: {st.warning}")
    else:
        announce_device(a.device, device)
        st = Stylizer.fit(
            a.style,
            [p for p, _ in images],
            config=stylizer_config(a),
            cache=not a.retrain,
            progress=not a.no_progress,
            device=device,
            precision=precision,
        )
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "artgan:model": f"stylizer:{st.info.get('style', {}).get('sha256', '')[:12]}",
        "artgan:strength": f"{a.strength:g}",
        "artgan:preserve_color": str(a.preserve_color).lower(),
        "artgan:seed": str(a.seed),
    }
    for path, img in images:
        t0 = time.perf_counter()
        y = st(img, a.strength, preserve_color=a.preserve_color, size=a.long_side, seed=a.seed, output="tensor")
        dst = save_png(y, out / f"{path.stem}.png", metadata=meta)
        say(f"{dst} ({y.shape[-1]}x{y.shape[-2]}, {time.perf_counter() - t0:.2f} s)")
    print(out)
    return 0


def _stylize_perceptual(a: argparse.Namespace, images: list, out: Path) -> int:
    """``--perceptual vgg19``: optimise each photo (Gatys et al.) with local VGG-19 weights."""
    import torch

    from ..imaging import load_image, save_png
    from ..tasks.perceptual import DEFAULT_STEPS, NeuralStyle

    need(
        a.model is None,
        "--model is a trained stylizer and --perceptual optimises each photo with VGG-19: give one of them",
    )
    ignored = given_options(a, [*TRAIN_FIELDS, "retrain"])
    if ignored:
        say(
            f"warning: --perceptual trains nothing; ignoring {', '.join(ignored)} (--perceptual-steps sets its iterations)"
        )
    steps = a.perceptual_steps if a.perceptual_steps is not None else DEFAULT_STEPS
    need(steps >= 1, f"--perceptual-steps {steps}: must be at least 1")
    style = load_image(a.style)
    ns = NeuralStyle.from_pretrained(a.vgg_weights)  # VGGWeightsError is a ValueError: exit 2
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "artgan:model": f"perceptual:{a.perceptual}",
        "artgan:steps": str(steps),
        "artgan:strength": f"{a.strength:g}",
        "artgan:preserve_color": str(a.preserve_color).lower(),
    }
    for path, img in images:
        t0 = time.perf_counter()
        y = ns(
            img,
            style,
            a.strength,
            preserve_color=a.preserve_color,
            size=a.long_side,
            steps=steps,
            progress=not a.no_progress,
            output="tensor",
        )
        dst = save_png(y, out / f"{path.stem}.png", metadata=meta)
        w, h = (y.shape[-1], y.shape[-2]) if isinstance(y, torch.Tensor) else y.size
        say(f"{dst} ({w}x{h}, {time.perf_counter() - t0:.2f} s)")
    print(out)
    return 0


def _resume_warning(a: argparse.Namespace, given: list[str]) -> None:
    ignored = [g for g in given if getattr(a, g, None)] + given_options(
        a, [n for n in a.option_fields if n not in ("minutes", "steps", "threads")]
    )
    if ignored:
        say("warning: resuming keeps the run's inputs and settings; ignoring " + ", ".join(ignored))


def cmd_train_stylizer(a: argparse.Namespace) -> int:
    from ..imaging import load_image, pil_to_tensor
    from ..training.rundir import new_run_folder, resolve_run
    from ..training.stylizer import train_stylizer

    cfg = stylizer_config(a)
    device = resolve_device(a.device)
    if a.resume:
        _resume_warning(a, ["style", "photos"])
        folder = train_stylizer(
            None, [], cfg, resolve_run(a.resume), resume=True, progress=not a.no_progress, device=device
        )
    else:
        need(a.style is not None, "--style PAINTING is required: the painting whose style to learn (or --resume RUN)")
        check_inputs([a.style], "--style")
        check_out_dir(a.out)
        style = pil_to_tensor(load_image(a.style))
        contents = [pil_to_tensor(img) for _, img in _load_photos(a.photos)]
        run = new_run_folder(Path(a.out), f"{Path(a.style).stem}-stylizer")
        announce_device(a.device, device)
        folder = train_stylizer(
            style, contents, cfg, run, name=Path(a.style).name, progress=not a.no_progress, device=device
        )
    print(folder.parent)
    return 0


def _read_folder(path: str, option: str, crop: int, side: int, progress: bool) -> list:
    """Every usable image under ``path`` as (3, H, W) in [-1, 1], shorter side at most
    ``side`` and at least ``crop``; rejects are listed with their reasons."""
    from ..data.ingest import DatasetError, ingest

    check_inputs([path], option)
    data = ingest(path, target_short=side, min_short=crop, progress=progress)
    for name, reason in data.rejected:
        say(f"skipped {Path(path) / name}: {reason}")
    if not data.images:
        raise DatasetError(f"{option} {path}: no usable images")
    return [t.float() / 127.5 - 1 for t in data.images]


def cmd_train_translator(a: argparse.Namespace) -> int:
    """Unpaired photos -> paintings: train_stylizer with a collection of style images."""
    from dataclasses import replace

    from ..training.rundir import new_run_folder, resolve_run
    from ..training.stylizer import train_stylizer

    cfg = replace(stylizer_config(a), content="cycle" if a.cycle else "luma+nce").validate()
    device = resolve_device(a.device)
    progress = not a.no_progress
    if a.resume:
        # The folders are read again: a translator's run keeps no copy of its collections.
        need(
            a.photos_dir is not None and a.paintings_dir is not None,
            "--resume needs the same PHOTOS and PAINTINGS folders",
        )
        run = resolve_run(a.resume)
    else:
        need(a.photos_dir is not None and a.paintings_dir is not None, "give a PHOTOS folder and a PAINTINGS folder")
        check_out_dir(a.out)
        run = None
    photos = _read_folder(a.photos_dir, "PHOTOS", cfg.crop, cfg.train_side, progress)
    paintings = _read_folder(a.paintings_dir, "PAINTINGS", cfg.crop, cfg.train_side, progress)
    if run is None:
        run = new_run_folder(Path(a.out), f"{Path(a.paintings_dir).stem}-translator")
    announce_device(a.device, device)
    folder = train_stylizer(
        paintings,
        photos,
        cfg,
        run,
        name=Path(a.paintings_dir).name,
        resume=bool(a.resume),
        progress=progress,
        device=device,
    )
    print(folder.parent)
    return 0


__all__ = ["register", "UsageError"]
