"""The ``artgan`` command. Every subcommand builds its inputs and calls the same objects as
the Python API; this package only parses, checks and reports.

Exit codes: 0 done, 2 a usage error (a bad option, a missing or unreadable input, a wrong
model folder: fix the command), 1 a failure while running (disk full, an unexpected error),
130 interrupted. Errors are one line on stderr; ``--debug`` also shows the traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback

from .. import __version__
from .common import UsageError


def build_parser() -> argparse.ArgumentParser:
    from . import demo, export, generate, restore, studio, stylize, texture, train

    parser = argparse.ArgumentParser(
        prog="artgan",
        description="GANs for art: learn a style from your artworks, generate new works, stylize photos, make textures.",
        epilog="`artgan COMMAND -h` lists a command's options; --help-all also shows experimental ones.",
    )
    parser.add_argument("--version", action="version", version=f"artgan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train, generate, stylize, texture, restore, export, studio, demo):
        module.register(sub)
    return parser


def _usage_errors() -> tuple[type[BaseException], ...]:
    from ..config import ConfigError
    from ..data import DatasetError
    from ..imaging import ImageError
    from ..training.checkpoint import CheckpointError

    # ValueError covers the tasks' own input errors (TextureError, VGGWeightsError, ...).
    return (UsageError, ConfigError, DatasetError, ImageError, CheckpointError, ValueError)


def _message(exc: BaseException, args: argparse.Namespace) -> str:
    """The error line; a config error about a field the user set names the option and value."""
    from ..config import ConfigError

    if isinstance(exc, ConfigError) and exc.field:
        value = getattr(args, exc.field, None)
        if value is not None and exc.field in getattr(args, "option_fields", [exc.field]):
            shown = ",".join(value) if isinstance(value, tuple) else f"{value:g}" if isinstance(value, float) else value
            return f"--{exc.field.replace('_', '-')} {shown}: {exc.detail}"
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # --debug is accepted anywhere on the line, before or after the command.
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line
        if debug:
            traceback.print_exc()
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            print(
                f"error: disk full while writing {exc.filename or 'output'}; free some space and run again "
                "(with --resume RUN for training): earlier checkpoints and images are intact",
                file=sys.stderr,
            )
            return 1
        if isinstance(exc, _usage_errors()):
            print(f"error: {_message(exc, args)}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError):
            print(f"error: {exc.strerror or exc} ({exc.filename or 'no file'})", file=sys.stderr)
            return 1
        print(
            f"error: unexpected {type(exc).__name__}: {exc}"
            + ("" if debug else " (run again with --debug for the traceback, and please report it)"),
            file=sys.stderr,
        )
        return 1


__all__ = ["main", "build_parser", "UsageError"]
