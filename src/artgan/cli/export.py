"""``artgan export``: a trained generator, stylizer or texture model as an ONNX file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .common import UsageError, need, new_parser, say

FORMATS = ("onnx",)


def register(sub: argparse._SubParsersAction) -> None:
    p, g = new_parser(
        sub,
        "export",
        "a trained model as an ONNX file (generator, stylizer with its palette, or texture model)",
        description="Export a trained model to ONNX for onnxruntime and other engines. The file's inputs "
        "(latents, photos, noise) and their shapes are listed in its metadata and in `artgan.export`.",
    )
    e = g["essential"]
    e.add_argument(
        "--model",
        metavar="RUN",
        default=None,
        help="run or model folder: `artgan train`, `train-stylizer`, `train-translator`, `train-texture` (required)",
    )
    e.add_argument("--out", metavar="FILE.onnx", default=None, help="the file to write (required)")
    e.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default: onnx)")
    b = g["budget"]
    b.add_argument("--overwrite", action="store_true", help="replace --out if it exists (default: off)")
    b.add_argument(
        "--no-check",
        action="store_true",
        help="skip comparing the file's output with PyTorch's on two samples (default: off)",
    )
    g["advanced"].add_argument(
        "--best", action="store_true", help="a generator run's best checkpoint, not its latest (default: off)"
    )
    p.set_defaults(func=cmd_export)


def check_out_file(text: str, overwrite: bool) -> Path:
    """``--out``: a new ``.onnx`` file in a folder that exists (and is writable) or can be
    made. Checked before any work; nothing is created."""
    out = Path(text)
    if out.is_dir():
        raise UsageError(f"--out {text}: is a folder; give a file name ending in .onnx")
    need(out.suffix.lower() == ".onnx", f"--out {text}: give a file name ending in .onnx")
    if out.exists() and not overwrite:
        raise UsageError(f"--out {text}: exists; give another name, or --overwrite to replace it")
    for parent in out.absolute().parents:
        if parent.exists():
            need(parent.is_dir(), f"--out {text}: {parent} is a file, so nothing can be written inside it")
            need(os.access(parent, os.W_OK | os.X_OK), f"--out {text}: cannot write in {parent} (permission denied)")
            break
    return out


def cmd_export(a: argparse.Namespace) -> int:
    need(a.model is not None, "--model RUN is required: the run or model folder to export")
    need(a.out is not None, "--out FILE.onnx is required: the file to write")
    out = check_out_file(a.out, a.overwrite)
    if not Path(a.model).exists():
        raise UsageError(f"--model {a.model}: no such folder; give a run folder from a training command")
    from ..export import export_model, model_kind, parity

    which = "best" if a.best else "latest"
    kind, _ = model_kind(a.model, which)  # a wrong folder fails here, before any work
    if a.best and kind != "generate":
        say(f"warning: --best applies to generator runs; this is a {kind} model, exported as it is")
    _, path = export_model(a.model, out, which=which)
    what = {"generate": "generator", "stylize": "stylizer", "texture": "texture model"}[kind]
    say(f"wrote the {what} as {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if not a.no_check:
        diff = parity(a.model, path, which=which)
        say(
            f"onnxruntime vs PyTorch on 2 samples: max abs difference {diff:.1e}"
            + ("" if diff <= 1e-4 else " (more than 1e-4: please report it)")
        )
    print(path)
    return 0
