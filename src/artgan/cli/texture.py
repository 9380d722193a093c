"""``artgan texture`` and ``artgan train-texture``: seamless textures from one exemplar."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import (
    UsageError,
    add_device,
    add_out,
    add_precision,
    add_progress,
    announce_device,
    check_inputs,
    check_out_dir,
    need,
    new_parser,
    resolve_device,
    resolve_precision,
    say,
)
from .options import add_config_options, config_kwargs, given_options

TRAIN_FIELDS = ("minutes", "steps", "patch", "threads")


def _add_source(e: argparse._ArgumentGroup) -> None:
    e.add_argument("exemplar", nargs="?", metavar="EXEMPLAR", help="the texture image (48-160 px swatches work well)")
    e.add_argument(
        "--from",
        dest="from_image",
        default=None,
        metavar="IMG",
        help="learn from part of this image ... (default: none)",
    )
    e.add_argument(
        "--region", default=None, metavar="X,Y,W,H", help="... this rectangle of it, in pixels (required with --from)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    from ..config import TextureConfig

    p, g = new_parser(
        sub, "texture", "textures of any size from an exemplar (trains a model, or reuses a cached or given one)"
    )
    e = g["essential"]
    _add_source(e)
    e.add_argument(
        "--model",
        metavar="RUN",
        default=None,
        help="a texture run (train-texture) instead of an exemplar (default: none)",
    )
    e.add_argument(
        "--size",
        default="1024x1024",
        metavar="WxH",
        help="each output's WIDTHxHEIGHT in px; one number = square (default: 1024x1024)",
    )
    e.add_argument("--n", type=int, default=4, help="number of variations, seeds seed..seed+n-1 (default: 4)")
    e.add_argument(
        "--tileable", action="store_true", help="outputs wrap seamlessly left-right and top-bottom (default: off)"
    )
    add_out(g["budget"], "outputs/texture", "folder for the PNGs and sheet.png")
    g["budget"].add_argument(
        "--retrain", action="store_true", help="train afresh even if a cached model exists (default: off)"
    )
    add_progress(g["budget"])
    g["advanced"].add_argument("--seed", type=int, default=0, help="first output seed (default: 0)")
    add_config_options(g, TextureConfig, only=TRAIN_FIELDS)
    add_device(g["advanced"])
    add_precision(g["advanced"], " of rendering (training is fp32)")
    p.set_defaults(func=cmd_texture)

    p, g = new_parser(sub, "train-texture", "train a seamless-texture model on one exemplar image")
    e = g["essential"]
    _add_source(e)
    e.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue this texture run from its last save (default: none, a new run)",
    )
    add_out(g["budget"], "runs", "folder that holds the numbered run folders")
    add_progress(g["budget"])
    add_device(g["advanced"])
    p.set_defaults(
        func=cmd_train_texture, option_fields=add_config_options(g, TextureConfig, only=(*TRAIN_FIELDS, "seed"))
    )


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` or ``"N"`` (square) -> (height, width)."""
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        raise UsageError(f"--size {text}: expected WIDTHxHEIGHT in pixels, e.g. 1024x768, or one number") from None
    if len(parts) == 1:
        parts = parts * 2
    need(len(parts) == 2, f"--size {text}: expected WIDTHxHEIGHT, e.g. 1024x768")
    need(all(16 <= v <= 16384 for v in parts), f"--size {text}: each side must be 16..16384 px")
    return parts[1], parts[0]


def _source(a: argparse.Namespace) -> tuple[str, tuple[int, int, int, int] | None]:
    from ..training.texture import parse_region

    need(not (a.exemplar and a.from_image), "give an EXEMPLAR image or --from IMG --region X,Y,W,H, not both")
    src = a.exemplar or a.from_image
    need(bool(src), "give an EXEMPLAR image (or --from IMG --region X,Y,W,H)")
    need(not (a.from_image and not a.region), "--from needs --region X,Y,W,H: the part of the image to learn from")
    check_inputs([src], "--from" if a.from_image else "EXEMPLAR")
    return src, parse_region(a.region) if a.region else None


def texture_config(a: argparse.Namespace):
    from ..config import TextureConfig

    kw = config_kwargs(a, TextureConfig)
    if kw.get("steps") is not None and "minutes" not in kw:
        kw["minutes"] = None  # a step budget alone
    return TextureConfig(**kw).validate()


def cmd_train_texture(a: argparse.Namespace) -> int:
    from ..training.rundir import new_run_folder, resolve_run
    from ..training.texture import load_exemplar, train_texture

    cfg = texture_config(a)
    device = resolve_device(a.device)
    if a.resume:
        ignored = [f"--{k.replace('_', '-')}" for k in ("exemplar", "from_image", "region") if getattr(a, k)]
        ignored += given_options(a, [n for n in a.option_fields if n not in ("minutes", "steps", "threads")])
        if ignored:
            say("warning: resuming keeps the run's exemplar and settings; ignoring " + ", ".join(ignored))
        folder = train_texture(None, cfg, resolve_run(a.resume), resume=True, progress=not a.no_progress, device=device)
    else:
        src, region = _source(a)
        check_out_dir(a.out)
        ex = load_exemplar(src, region)
        name = Path(src).name + (f"[{a.region}]" if region else "")
        run = new_run_folder(Path(a.out), Path(src).stem + "-texture")
        announce_device(a.device, device)
        folder = train_texture(ex, cfg, run, name=name, progress=not a.no_progress, device=device)
    print(folder.parent)
    return 0


def cmd_texture(a: argparse.Namespace) -> int:
    from ..tasks.texture import TextureSynth, write_textures

    h, w = parse_size(a.size)
    need(a.n >= 1, f"--n {a.n}: must be at least 1")
    out = check_out_dir(a.out)
    device = resolve_device(a.device)
    precision = resolve_precision(a.precision, device)
    if a.model:
        ignored = [f"--{k.replace('_', '-')}" for k in ("exemplar", "from_image", "region") if getattr(a, k)]
        ignored += given_options(a, [*TRAIN_FIELDS, "retrain"])
        if ignored:
            say("warning: --model uses that trained model as it is; ignoring " + ", ".join(ignored))
        synth = TextureSynth.from_pretrained(a.model, device=device, precision=precision)
        announce_device(a.device, device)
        stem = Path(synth.info.get("exemplar", {}).get("name", "texture")).stem
    else:
        src, region = _source(a)
        announce_device(a.device, device)
        synth = TextureSynth.fit(
            src,
            region=region,
            config=texture_config(a),
            cache=not a.retrain,
            progress=not a.no_progress,
            device=device,
            precision=precision,
        )
        stem = Path(src).stem + ("-region" if region else "")
    t0 = time.perf_counter()
    *textures, sheet = write_textures(synth, out, stem, (h, w), a.n, a.seed, a.tileable)
    for path in textures:
        say(str(path))
    say(
        f"wrote {a.n} texture(s) of {w}x{h} px in {time.perf_counter() - t0:.1f} s"
        f"{' (tileable)' if a.tileable else ''}; each tiled 2x2 in {sheet}"
    )
    print(out)
    return 0
