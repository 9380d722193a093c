"""The ``artgan`` command: train, generate, evaluate, demo, texture, train-texture, stylize,
train-stylizer, train-translator, families.

Every subcommand builds its inputs and calls the same objects as the Python API.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from . import __version__
from .config import PALETTES


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from .config import AUGMENTS, LOSSES, UPSAMPLES

    p.add_argument("data", nargs="?", help="folder of images (searched recursively) or a .zip")
    p.add_argument("--out", default="runs", help="folder for numbered run folders (default: runs)")
    p.add_argument("--family", default=None, help="model family (default: resgan; see `artgan families`)")
    p.add_argument("--resolution", type=int, default=None, help="output size in pixels, a power of two (default 64)")
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="channels at full resolution (default: the family's, resgan 16, dcgan 32)",
    )
    p.add_argument("--batch", type=int, default=None, help="batch size (default: from the resolution, 32 up to 64 px)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget for this invocation, e.g. 0.5")
    p.add_argument("--kimg", type=float, default=None, help="total budget in thousands of training images")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="RUN_DIR",
        help="continue a run from its latest checkpoint (default: the newest run in --out)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--crop-size",
        type=int,
        default=None,
        help="patch mode: random crops of about this many source pixels (default: on for 4 images or fewer; 0 = whole images)",
    )
    p.add_argument(
        "--min-scale",
        type=float,
        default=None,
        help="smallest random crop as a fraction of the shorter side (default: 1.0 for whole-image crops, 0.6 in patch mode)",
    )
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default=None,
        help="ns (non-saturating) or hinge (default: the family's: hinge for resgan, ns for dcgan)",
    )
    p.add_argument(
        "--r1",
        type=float,
        default=None,
        help="R1 penalty weight (default: from resolution and batch, 0.1 at 64 px; 0 disables)",
    )
    p.add_argument(
        "--augment",
        default=None,
        help=f"comma list from {','.join(AUGMENTS)}, or 'none' (default: the family's; resgan "
        "geometric,color,translation,cutout, dcgan color,translation,cutout)",
    )
    p.add_argument(
        "--augment-p",
        type=float,
        default=None,
        help="starting augmentation probability (default: from the number of images)",
    )
    p.add_argument(
        "--ada-target", type=float, default=None, help="adaptive augmentation target (default 0.6; 0 = fixed p)"
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate for G and D (default: G 2e-4, D the family's: 6e-4 for resgan, 2e-4 for dcgan)",
    )
    p.add_argument("--ema-kimg", type=float, default=None, help="EMA half-life in kimg (default: 2 x batch/32)")
    p.add_argument(
        "--ema-rampup",
        type=float,
        default=None,
        help="EMA half-life at most this share of the images seen so far (default 0.05; 0 = no ramp)",
    )
    p.add_argument(
        "--beta1",
        type=float,
        default=None,
        help="Adam's first-moment decay for G and D (default 0.5; 0 = no momentum, as in StyleGAN2)",
    )
    p.add_argument(
        "--lr-decay",
        type=float,
        default=None,
        help="both learning rates fall linearly to zero over this last share of the budget (0..1)",
    )
    p.add_argument(
        "--ms-weight",
        type=float,
        default=None,
        help="weight of a mode-seeking term in G's loss: different latents should differ in colour and layout (default 0 = off)",
    )
    p.add_argument("--d-dropout", type=float, default=None, help="dropout before D's last layer (default 0)")
    p.add_argument("--spectral-norm", action="store_true", help="spectral normalisation in D")
    p.add_argument("--upsample", choices=UPSAMPLES, default=None, help="generator upsampling (resgan)")
    p.add_argument(
        "--d-patch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="D also judges 8x8 patches of each image (resgan)",
    )
    p.add_argument(
        "--patch-weight",
        type=float,
        default=None,
        help="share of D's per-patch verdicts in the loss, 0..1 (resgan's patch D; default 0.5)",
    )
    p.add_argument("--d-width", type=int, default=None, help="D's channels at full resolution (default: --width)")
    p.add_argument(
        "--g-coarse-mult",
        type=int,
        default=None,
        help="multiply G's channels at up to a quarter of the resolution (the layout levels) by this (default 1)",
    )
    p.add_argument("--lr-d", type=float, default=None, help="D's learning rate, if it should differ from --lr")
    p.add_argument(
        "--d-blur",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="D low-passes before each strided conv, so G cannot hide a fine lattice in its blind spots (resgan)",
    )
    p.add_argument(
        "--d-mbstd",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="D also sees how much images in a group of 4 differ (minibatch std), against mode-averaged colours (resgan)",
    )
    p.add_argument(
        "--hflip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mirror half the training crops, so G also learns mirrored works (default: the recipe's; "
        "--augment xflip instead mirrors only what D sees)",
    )
    p.add_argument(
        "--condition",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="condition G and D on which training work an image is of, so samples cover every work "
        "evenly (resgan, whole-image mode; default: the recipe's)",
    )
    p.add_argument(
        "--reuse-fakes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="G's step reuses the fakes D just judged: one G forward per step instead of two, ~10%% more "
        "images per second (default: the family's, on for resgan, off for the dcgan baseline)",
    )
    p.add_argument(
        "--d-coarse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="D also judges a 16 px copy of each image, so colour and layout get their own verdict (resgan)",
    )
    p.add_argument(
        "--d-patch-pos",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="each patch verdict also knows where its cell is (sky at the top, a face in the middle), "
        "against motifs repeated cell by cell (resgan's patch D)",
    )
    p.add_argument(
        "--d-recon",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="D also rebuilds a small copy of each real image from its features (FastGAN's "
        "self-supervised D), so it must learn what the art looks like, not only what tells fakes apart (resgan)",
    )
    p.add_argument(
        "--g-noise",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="per-pixel noise inputs in G's blocks, for fine stochastic detail (resgan)",
    )
    p.add_argument("--snapshot-kimg", type=float, default=None, help="sample grid every N kimg (default 2)")
    p.add_argument("--checkpoint-kimg", type=float, default=None, help="checkpoint every N kimg (default 4)")
    p.add_argument(
        "--metric-kimg",
        type=float,
        default=None,
        help="measure SWD every N kimg into stats.jsonl and keep checkpoints/best (default 4; 0 = off)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after N SWD measurements without a new best (default 0 = never)",
    )
    p.add_argument(
        "--channels-last",
        action="store_true",
        help="channels-last memory format (already the default; kept for old scripts)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")


def _train_config(a: argparse.Namespace):
    from .config import ModelConfig, TrainConfig

    model_kw = {
        k: v
        for k, v in {
            "family": a.family,
            "resolution": a.resolution,
            "width": a.width,
            "d_dropout": a.d_dropout,
            "spectral_norm": True if a.spectral_norm else None,
            "upsample": a.upsample,
            "d_patch": a.d_patch,
            "g_noise": a.g_noise,
            "d_width": a.d_width,
            "d_blur": a.d_blur,
            "d_mbstd": a.d_mbstd,
            "d_recon": a.d_recon,
            "d_patch_pos": a.d_patch_pos,
            "d_coarse": a.d_coarse,
            "g_coarse_mult": a.g_coarse_mult,
        }.items()
        if v is not None
    }
    aug = None
    if a.augment is not None:
        aug = () if a.augment.strip().lower() == "none" else tuple(s.strip() for s in a.augment.split(",") if s.strip())
    train_kw = {
        k: v
        for k, v in {
            "data": a.data,
            "batch": a.batch,
            "minutes": a.minutes,
            "kimg": a.kimg,
            "seed": a.seed,
            "crop_size": a.crop_size,
            "min_scale": a.min_scale,
            "loss": a.loss,
            "r1_gamma": a.r1,
            "patch_weight": a.patch_weight,
            "augment": aug,
            "augment_p": a.augment_p,
            "ada_target": a.ada_target,
            "lr_g": a.lr,
            "lr_d": a.lr_d if a.lr_d is not None else a.lr,
            "ema_kimg": a.ema_kimg,
            "ema_rampup": a.ema_rampup,
            "lr_decay": a.lr_decay,
            "ms_weight": a.ms_weight,
            "beta1": a.beta1,
            "snapshot_kimg": a.snapshot_kimg,
            "checkpoint_kimg": a.checkpoint_kimg,
            "channels_last": True if a.channels_last else None,
            "reuse_fakes": a.reuse_fakes,
            "hflip": a.hflip,
            "condition": a.condition,
            "threads": a.threads,
            "metric_kimg": a.metric_kimg,
            "patience": a.patience,
        }.items()
        if v is not None
    }
    return TrainConfig(model=ModelConfig(**model_kw), **train_kw)


def cmd_train(a: argparse.Namespace) -> int:
    from .config import to_dict
    from .training.loop import train

    cfg = _train_config(a)
    if a.resume is None and not a.data:
        raise SystemExit("error: give a DATA folder (or --resume RUN_DIR to continue a run)")
    if a.dry_run:
        cfg.validate()
        chosen: dict[str, str] = {}
        if a.data and a.resume is None:
            from .training.loop import load_data

            cfg, _, chosen = load_data(cfg, progress=False)
        print(json.dumps({**to_dict(cfg), "chosen_from_data": chosen}, indent=2))
        return 0
    if a.resume is not None:
        # A resumed run keeps its own recipe and architecture; say so instead of silently ignoring.
        budget_like = {
            "minutes",
            "kimg",
            "resume",
            "out",
            "no_progress",
            "dry_run",
            "data",
            "func",
            "command",
            "threads",
        }
        ignored = sorted(k for k, v in vars(a).items() if k not in budget_like and v not in (None, False))
        if ignored:
            print(
                "warning: resuming keeps the run's saved settings; ignoring "
                + ", ".join("--" + k.replace("_", "-") for k in ignored),
                file=sys.stderr,
            )
    run = train(cfg, a.out, resume=a.resume, progress=not a.no_progress)
    print(run)
    return 0


def cmd_generate(a: argparse.Namespace) -> int:
    from .imaging import make_grid, save_gif, save_png
    from .tasks.generate import Generator

    g = Generator.from_pretrained(a.model, which="best" if a.best else "latest")
    out = Path(a.out) if a.out else g.folder / "generated"
    out.mkdir(parents=True, exist_ok=True)
    imgs = g(n=a.n, seed=a.seed, truncation=a.truncation, output="tensor")
    meta = {"artgan:model": g.model_id, "artgan:truncation": f"{a.truncation:g}"}
    for i, im in enumerate(imgs):
        save_png(im, out / f"seed{a.seed + i:05d}.png", metadata={**meta, "artgan:seed": str(a.seed + i)})
    grid = save_png(
        make_grid(imgs), out / "grid.png", metadata={**meta, "artgan:seeds": f"{a.seed}-{a.seed + a.n - 1}"}
    )
    print(f"wrote {a.n} images and {grid}")
    if a.interpolate:
        frames = g.walk(a.interpolate, seed=a.seed, steps=a.frames, truncation=a.truncation)
        gif = save_gif(frames, out / "walk.gif", fps=a.fps)
        print(f"wrote {gif} ({len(frames)} frames)")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .config import ModelConfig, TrainConfig
    from .data.procedural import write_procedural_set
    from .gallery import write_gallery
    from .imaging import make_grid, save_png
    from .tasks.generate import Generator
    from .training.loop import train

    out = Path(a.out)
    data = out / "data"
    write_procedural_set(data, n=48, size=96, seed=0)
    print(f"demo: drew 48 procedural paintings into {data}", file=sys.stderr)
    cfg = TrainConfig(
        model=ModelConfig(resolution=a.resolution),
        data=str(data),
        minutes=a.minutes,
        snapshot_kimg=2.0,
        checkpoint_kimg=8.0,
        seed=0,
    )
    run = train(cfg, out / "runs", progress=not a.no_progress)
    g = Generator.from_pretrained(run)
    imgs = g(n=32, seed=1000, output="tensor")
    extra = save_png(
        make_grid(imgs, nrow=8), run / "samples" / "generated-seeds1000-1031.png", metadata={"artgan:model": g.model_id}
    )
    html = write_gallery(run, title="artgan demo", sample_images=[extra])
    print(f"\ndemo finished.\n  gallery: {html.resolve()}\n  samples: {extra.resolve()}\n  model:   {run.resolve()}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .metrics.evaluate import evaluate, format_table

    if not a.real:
        raise ValueError("give --real DIR: the training images to compare with")
    result = evaluate(
        a.real,
        fake=a.fake,
        run=None if a.fake else a.run,
        resolution=a.resolution,
        n=a.n,
        seed=a.seed,
        worst_pairs=a.worst_pairs,
        which="best" if a.best else "latest",
        crop_size=a.crop_size,
    )
    print(json.dumps(result, indent=2) if a.json else format_table(result))
    return 0


def _parse_size(text: str) -> tuple[int, int]:
    """ "WxH" or "N" (square) -> (height, width)."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        raise ValueError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 1024x1024, or one number") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise ValueError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1024x768")
    return parts[1], parts[0]


def _texture_source(a: argparse.Namespace) -> tuple[str, tuple[int, int, int, int] | None]:
    from .training.texture import parse_region

    if a.exemplar and a.from_image:
        raise ValueError("give an EXEMPLAR image or --from IMG --region x,y,w,h, not both")
    src = a.exemplar or a.from_image
    if not src:
        raise ValueError("give an EXEMPLAR image (or --from IMG --region x,y,w,h)")
    if a.from_image and not a.region:
        raise ValueError("--from needs --region x,y,w,h: the part of the image to learn the texture from")
    return src, parse_region(a.region) if a.region else None


def _texture_config(a: argparse.Namespace):
    from .config import TextureConfig

    kw = {
        k: v
        for k, v in {
            "minutes": a.minutes,
            "steps": a.steps,
            "seed": getattr(a, "train_seed", None),
            "patch": a.patch,
            "threads": a.threads,
        }.items()
        if v is not None
    }
    if a.steps is not None and a.minutes is None:
        kw["minutes"] = None  # a step budget alone
    return TextureConfig(**kw).validate()


def cmd_train_texture(a: argparse.Namespace) -> int:
    from .training.texture import load_exemplar, train_texture

    cfg = _texture_config(a)
    if a.resume:
        given = [f for f in ("exemplar", "from_image", "region", "patch", "train_seed") if getattr(a, f) is not None]
        if given:
            print(
                "warning: resuming keeps the run's exemplar and settings; ignoring " + ", ".join(given), file=sys.stderr
            )
        folder = train_texture(None, cfg, a.out, resume=True, progress=not a.no_progress)
    else:
        src, region = _texture_source(a)
        ex = load_exemplar(src, region)
        name = Path(src).name + (f"[{a.region}]" if region else "")
        folder = train_texture(ex, cfg, a.out, name=name, progress=not a.no_progress)
    print(folder.parent)
    return 0


def cmd_texture(a: argparse.Namespace) -> int:
    import torch

    from .imaging import make_grid, save_png
    from .tasks.texture import TextureSynth

    h, w = _parse_size(a.size)
    if a.n < 1:
        raise ValueError("--n must be at least 1")
    if a.model:
        given = [f for f in ("exemplar", "from_image", "region", "minutes", "steps", "patch") if getattr(a, f)]
        if given or a.retrain:
            print(
                "warning: --model uses that trained model as it is; ignoring "
                + ", ".join(given + (["retrain"] if a.retrain else [])),
                file=sys.stderr,
            )
        synth = TextureSynth.from_pretrained(a.model)
        stem = Path(synth.info.get("exemplar", {}).get("name", "texture")).stem
    else:
        src, region = _texture_source(a)
        synth = TextureSynth.fit(
            src, region=region, config=_texture_config(a), cache=not a.retrain, progress=not a.no_progress
        )
        stem = Path(src).stem + ("-region" if region else "")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    previews = []
    t0 = time.perf_counter()
    for seed in range(a.seed, a.seed + a.n):
        img = synth(size=(h, w), seed=seed, tileable=a.tileable, output="tensor")
        meta = {"artgan:model": synth.model_id, "artgan:seed": str(seed), "artgan:tileable": str(a.tileable).lower()}
        path = save_png(img, out / f"{stem}-seed{seed}.png", metadata=meta)
        print(path)
        # The contact sheet shows each output tiled 2x2 (a seam would show as a cross), at most 512 px.
        k = min(1.0, 256 / max(h, w))
        small = torch.nn.functional.interpolate(
            img[None],
            size=(max(1, round(h * k)), max(1, round(w * k))),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )[0]
        previews.append(small.repeat(1, 2, 2))
    sheet = save_png(
        make_grid(torch.stack(previews), pad=6), out / "sheet.png", metadata={"artgan:model": synth.model_id}
    )
    print(
        f"wrote {a.n} texture(s) of {w}x{h} px in {time.perf_counter() - t0:.1f} s"
        f"{' (tileable)' if a.tileable else ''}; each tiled 2x2 in {sheet}",
        file=sys.stderr,
    )
    return 0


def _add_texture_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("exemplar", nargs="?", help="the texture image (48-160 px swatches work well)")
    p.add_argument("--from", dest="from_image", default=None, metavar="IMG", help="learn from part of this image ...")
    p.add_argument("--region", default=None, metavar="X,Y,W,H", help="... this rectangle of it, in pixels")
    p.add_argument("--minutes", type=float, default=None, help="training time (default 3)")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps instead")
    p.add_argument("--patch", type=int, default=None, help="D's crop size in px (default: half the exemplar, 32-96)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")


def _stylizer_config(a: argparse.Namespace):
    from .config import StylizerConfig

    kw = {
        k: v
        for k, v in {
            "minutes": a.minutes,
            "steps": a.steps,
            "seed": getattr(a, "train_seed", None),
            "threads": a.threads,
        }.items()
        if v is not None
    }
    if a.steps is not None and a.minutes is None:
        kw["minutes"] = None
    if getattr(a, "target_ssim", None) is not None:
        kw["target_ssim"] = a.target_ssim or None  # 0: fixed weight
    if getattr(a, "style_weight", None) is not None:
        kw["swd_weight"] = a.style_weight
    if getattr(a, "palette", None) is not None:
        kw["palette"] = a.palette
    return StylizerConfig(**kw).validate()


def cmd_train_stylizer(a: argparse.Namespace) -> int:
    from .imaging import load_image, pil_to_tensor
    from .training.stylizer import train_stylizer

    cfg = _stylizer_config(a)
    if a.resume:
        folder = train_stylizer(None, [], cfg, a.out, resume=True, progress=not a.no_progress)
    else:
        if not a.style:
            raise ValueError("give --style PAINTING: the image whose style to learn")
        style = pil_to_tensor(load_image(a.style))
        contents = [pil_to_tensor(load_image(p)) for p in a.content]
        folder = train_stylizer(style, contents, cfg, a.out, name=Path(a.style).name, progress=not a.no_progress)
    print(folder.parent)
    return 0


def _read_folder(path: str, what: str, crop: int, side: int, progress: bool) -> list:
    """Every usable image under ``path`` as (3, H, W) in [-1, 1], shorter side at most
    ``side`` and at least ``crop``; rejects are printed with their reasons."""
    from .data.ingest import DatasetError, ingest

    data = ingest(path, target_short=side, min_short=crop, progress=progress)
    for name, reason in data.rejected:
        print(f"skipped {Path(path) / name}: {reason}", file=sys.stderr)
    if not data.images:
        raise DatasetError(f"{path}: no usable {what} images")
    return [t.float() / 127.5 - 1 for t in data.images]


def cmd_train_translator(a: argparse.Namespace) -> int:
    """Unpaired photos -> paintings: train_stylizer with a collection of style images."""
    from .training.stylizer import train_stylizer

    cfg = _stylizer_config(a)
    cfg = replace(cfg, content="cycle" if a.cycle else "luma+nce").validate()
    progress = not a.no_progress
    photos = _read_folder(a.photos, "photo", cfg.crop, cfg.train_side, progress)
    paintings = _read_folder(a.paintings, "painting", cfg.crop, cfg.train_side, progress)
    folder = train_stylizer(
        paintings, photos, cfg, a.out, name=Path(a.paintings).name, resume=a.resume, progress=progress
    )
    print(folder.parent)
    return 0


def _stylize_perceptual(a: argparse.Namespace) -> int:
    """``stylize --perceptual vgg19``: optimise each photo (Gatys et al.) with local VGG-19 weights."""
    import torch

    from .imaging import load_image, save_png
    from .tasks.perceptual import DEFAULT_STEPS, NeuralStyle

    if not a.content:
        raise ValueError("give one or more CONTENT images to stylise")
    if not a.style:
        raise ValueError("--perceptual needs --style PAINTING: the image whose style to apply")
    if a.model:
        raise ValueError(
            "--model is a trained stylizer and --perceptual optimises each photo with VGG-19: give one of them"
        )
    if not 0.0 <= a.strength <= 1.0:
        raise ValueError(f"--strength must be in [0, 1], got {a.strength}")
    ignored = [f"--{k}" for k in ("minutes", "retrain") if getattr(a, k)]
    if ignored:
        print(
            f"warning: --perceptual trains nothing; ignoring {', '.join(ignored)} (--steps sets its iterations)",
            file=sys.stderr,
        )
    images = [(Path(p), load_image(p)) for p in a.content]  # every file checked before the slow part
    names = [p.stem for p, _ in images]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"several content files share the name {dupes[0]!r}; their outputs would overwrite each other")
    style = load_image(a.style)
    ns = NeuralStyle.from_pretrained(a.vgg_weights)  # VGGWeightsError is a ValueError: exit 2
    if a.threads:
        torch.set_num_threads(a.threads)
    steps = a.steps if a.steps is not None else DEFAULT_STEPS
    out = Path(a.out)
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
            size=a.size,
            steps=steps,
            progress=not a.no_progress,
            output="tensor",
        )
        dst = save_png(y, out / f"{path.stem}.png", metadata=meta)
        print(f"{dst} ({y.shape[-1]}x{y.shape[-2]}, {time.perf_counter() - t0:.2f} s)")
    return 0


def cmd_stylize(a: argparse.Namespace) -> int:
    if getattr(a, "perceptual", None):  # a Namespace built by hand may lack it
        return _stylize_perceptual(a)
    from .imaging import load_image, save_png
    from .tasks.stylize import Stylizer

    if not a.content:
        raise ValueError("give one or more CONTENT images to stylise")
    if not 0.0 <= a.strength <= 1.0:
        raise ValueError(f"--strength must be in [0, 1], got {a.strength}")
    images = [(Path(p), load_image(p)) for p in a.content]  # every file checked before any training
    names = [p.stem for p, _ in images]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"several content files share the name {dupes[0]!r}; their outputs would overwrite each other")
    if a.model:
        st = Stylizer.from_pretrained(a.model)
        if st.warning:
            print(f"warning: {a.model}: {st.warning}", file=sys.stderr)
    elif a.style:
        st = Stylizer.fit(
            a.style, [p for p, _ in images], config=_stylizer_config(a), cache=not a.retrain, progress=not a.no_progress
        )
    else:
        raise ValueError("give --style PAINTING (trains or reuses a stylizer) or --model RUN")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "artgan:model": f"stylizer:{st.info.get('style', {}).get('sha256', '')[:12]}",
        "artgan:strength": f"{a.strength:g}",
        "artgan:preserve_color": str(a.preserve_color).lower(),
        "artgan:seed": str(a.seed),
    }
    for path, img in images:
        t0 = time.perf_counter()
        y = st(img, a.strength, preserve_color=a.preserve_color, size=a.size, seed=a.seed, output="tensor")
        dst = save_png(y, out / f"{path.stem}.png", metadata=meta)
        print(f"{dst} ({y.shape[-1]}x{y.shape[-2]}, {time.perf_counter() - t0:.2f} s)")
    return 0


def _add_stylizer_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=None, help="training time (default 5)")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps instead")
    p.add_argument(
        "--target-ssim",
        type=float,
        default=None,
        metavar="S",
        help="steer the content weight during training so the photos keep about this much structure "
        "(content SSIM, 0-1; lower: more style); 0: a fixed weight",
    )
    p.add_argument(
        "--style-weight",
        type=float,
        default=None,
        metavar="W",
        help="weight of the direct style term (patch statistics of the outputs vs the painting's) "
        "next to the discriminator; higher: more of the painting's colours and texture; 0: off",
    )
    p.add_argument(
        "--palette",
        choices=PALETTES,
        default=None,
        help="recolour each photo onto the painting's colours before the generator paints it: "
        "'histogram' (default: the whole colour distribution), 'linear' (mean and spread "
        "only, gentler), 'none' (the generator learns the colours itself)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")


def cmd_families(a: argparse.Namespace) -> int:
    from .models import DEFAULT_FAMILY, FAMILIES

    for name, fam in FAMILIES.items():
        print(f"{name:10s} {fam.description}" + ("  [default]" if name == DEFAULT_FAMILY else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="artgan", description="GANs for art: learn a style, generate new works.")
    parser.add_argument("--version", action="version", version=f"artgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a GAN on a folder of images")
    _add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="generate images from a trained model")
    p.add_argument("model", help="run folder, checkpoint folder or model folder")
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--seed", type=int, default=0, help="first seed; image i uses seed+i")
    p.add_argument("--out", default=None, help="output folder (default: MODEL/generated)")
    p.add_argument("--truncation", type=float, default=1.0, help="in (0, 1]: lower = safer, less varied")
    p.add_argument(
        "--best", action="store_true", help="a run's best checkpoint (by training SWD) instead of its latest"
    )
    p.add_argument("--interpolate", type=int, default=0, metavar="K", help="also write walk.gif through K seeds")
    p.add_argument("--frames", type=int, default=16, help="frames between keyframes of the walk")
    p.add_argument("--fps", type=float, default=12.0)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("demo", help="draw a sample collection, train on it, write a gallery")
    p.add_argument("--out", default="demo-output")
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--resolution", type=int, default=32, help="32 learns the demo set best in 4 CPU minutes")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("evaluate", help="quality metrics (SWD, KID/FID, diversity, copies) without pretrained nets")
    p.add_argument("run", nargs="?", help="run or model folder to sample (or use --fake)")
    p.add_argument("--real", help="folder of real (training) images")
    p.add_argument("--fake", help="folder of generated images instead of a run")
    p.add_argument("--resolution", type=int, default=None, help="default: the model's, or 64")
    p.add_argument("--n", type=int, default=256, help="images per side (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--best", action="store_true", help="a run's best checkpoint (by training SWD) instead of its latest"
    )
    p.add_argument(
        "--crop-size",
        type=int,
        default=None,
        help="compare with patches of this many source pixels (default: the run's own; 0 = whole images)",
    )
    p.add_argument("--worst-pairs", default=None, metavar="PNG", help="write the closest fake/real pairs here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train-texture", help="train a seamless-texture model on one exemplar image")
    _add_texture_train_args(p)
    p.add_argument("--out", required=True, help="run folder to create (model/, stats.jsonl, preview.png)")
    p.add_argument("--seed", dest="train_seed", type=int, default=None, help="training seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last save")
    p.set_defaults(func=cmd_train_texture)

    p = sub.add_parser("texture", help="textures of any size from an exemplar (trains or reuses a cached model)")
    _add_texture_train_args(p)
    p.add_argument("--out", required=True, help="folder for the PNGs and sheet.png")
    p.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT of each output (default 1024x1024)")
    p.add_argument("--n", type=int, default=4, help="number of variations (seeds seed..seed+n-1)")
    p.add_argument("--seed", type=int, default=0, help="first output seed (default 0)")
    p.add_argument("--tileable", action="store_true", help="outputs wrap seamlessly left-right and top-bottom")
    p.add_argument("--model", default=None, help="use this trained texture run instead of training/caching")
    p.add_argument("--retrain", action="store_true", help="train afresh even if a cached model exists")
    p.set_defaults(func=cmd_texture)

    p = sub.add_parser("stylize", help="photos in the style of a painting (trains or reuses a cached stylizer)")
    p.add_argument(
        "content", nargs="*", help="photos to stylise; outputs are named after them (photo.jpg -> photo.png)"
    )
    p.add_argument("--style", default=None, help="the painting whose style to apply")
    p.add_argument("--model", default=None, help="a stylizer run from train-stylizer instead of --style")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--strength", type=float, default=1.0, help="0 = the photo, 1 = full style (default 1)")
    p.add_argument(
        "--preserve-color", action="store_true", help="keep the photo's colours, take the style's light and texture"
    )
    p.add_argument("--size", type=int, default=None, help="scale each photo so its longer side is this many px")
    p.add_argument("--retrain", action="store_true", help="train afresh even if a cached stylizer exists")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise the brushwork is painted from (default 0)")
    p.add_argument(
        "--perceptual",
        choices=("vgg19",),
        default=None,
        help="no stylizer: optimise each photo against VGG-19 features (Gatys et al.); needs local "
        "VGG-19 weights, nothing is downloaded; --steps sets the iterations (default 200)",
    )
    p.add_argument(
        "--vgg-weights",
        default=None,
        metavar="PATH",
        help="torchvision's vgg19-dcbb9e9d.pth for --perceptual (default: $ARTGAN_VGG19, then the torch hub cache)",
    )
    _add_stylizer_train_args(p)
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("train-stylizer", help="train a fast stylizer for one style image")
    p.add_argument("content", nargs="*", help="photos to train on (default: generic procedural content)")
    p.add_argument("--style", default=None, help="the painting whose style to learn")
    p.add_argument("--out", required=True, help="run folder to create (model/, stats.jsonl, preview.png)")
    p.add_argument("--seed", dest="train_seed", type=int, default=None, help="training seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last save")
    _add_stylizer_train_args(p)
    p.set_defaults(func=cmd_train_stylizer)

    p = sub.add_parser(
        "train-translator", help="unpaired translation: a folder of photos into the style of a folder of paintings"
    )
    p.add_argument("photos", help="folder (or .zip) of photos: the content")
    p.add_argument("paintings", help="folder (or .zip) of paintings: the style collection")
    p.add_argument("--out", required=True, help="run folder to create; then `artgan stylize PHOTO --model RUN`")
    p.add_argument(
        "--cycle",
        action="store_true",
        help="keep content by cycle consistency (CycleGAN: a second G maps back; twice the cost) "
        "instead of the default PatchNCE contrastive loss (CUT) plus blurred-luminance L1",
    )
    p.add_argument("--seed", dest="train_seed", type=int, default=None, help="training seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (give the same folders)")
    _add_stylizer_train_args(p)
    p.set_defaults(func=cmd_train_translator)

    p = sub.add_parser("families", help="list model families")
    p.set_defaults(func=cmd_families)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .config import ConfigError
    from .data import DatasetError
    from .imaging import ImageError
    from .training.checkpoint import CheckpointError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, DatasetError, ImageError, CheckpointError, ValueError) as exc:  # TextureError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            print(
                f"error: disk full while writing {exc.filename or 'output'}; free some space and run again "
                "(with --resume for training): earlier checkpoints and images are intact",
                file=sys.stderr,
            )
            return 3
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
