"""``artgan demo``: a five-minute tour (a texture, stylized photos, a generator) and its page."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_out, add_progress, check_out_dir, need, new_parser, say


def register(sub: argparse._SubParsersAction) -> None:
    p, g = new_parser(
        sub,
        "demo",
        "a short tour: a seamless texture, photos in a painting's style and a generator, on one page",
        description=(
            "A tour of artgan on pictures bundled with it, trained from scratch on this CPU: a tileable "
            "texture, two photos in the style of a painting, and a 64 px generator trained on procedural "
            "colour-field paintings, shown on one page (index.html) with the commands that made them. Nothing is downloaded."
        ),
    )
    g["essential"].add_argument(
        "--minutes",
        type=float,
        default=5.0,
        help="wall-clock budget of the whole tour; the texture gets 30%%, the stylizer 25%%, "
        "the generator the rest (default: 5)",
    )
    add_out(g["budget"], "demo-output", "folder for the page, the runs and the pictures")
    add_progress(g["budget"])
    p.set_defaults(func=cmd_demo)


def cmd_demo(a: argparse.Namespace) -> int:
    need(a.minutes > 0, f"--minutes {a.minutes:g}: must be positive")
    out = check_out_dir(a.out)
    from ..tour import TourPlan, run_tour

    result = run_tour(out, TourPlan(minutes=a.minutes, progress=not a.no_progress))
    page = result.page.resolve()
    s = result.seconds
    say(
        f"\ndemo finished in {s['total']:.0f} s (texture {s['texture']:.0f} s, stylize {s['stylize']:.0f} s, "
        f"generator {s['generate']:.0f} s).\n"
        f"  open the page:     {page.as_uri()}\n"
        f"  or:                python -m webbrowser {page.as_uri()}\n"
        f"  studio, same files: artgan studio --workspace {Path(result.out).resolve()}"
    )
    print(page)
    return 0
