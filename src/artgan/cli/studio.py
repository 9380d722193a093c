"""``artgan studio``: the local web app over everything artgan does."""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path

from .common import check_out_dir, need, new_parser, say

AUTH_ENV = "ARTGAN_STUDIO_AUTH"  # USER:PASS, so the password need not be on the command line


def register(sub: argparse._SubParsersAction) -> None:
    p, g = new_parser(
        sub,
        "studio",
        "open the studio: a web app to upload art, train, generate, stylize and make textures",
        "Start the studio web app. Long jobs run in worker processes and survive closing the "
        "browser; restarting the studio resumes them. Everything lives in --workspace.",
    )
    e = g["essential"]
    e.add_argument(
        "--workspace",
        metavar="DIR",
        default="studio",
        help="folder for uploads, runs, outputs and the job table (default: studio)",
    )
    e.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    e.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but a loopback address needs --auth (default: 127.0.0.1)",
    )
    e.add_argument(
        "--auth",
        metavar="USER:PASS",
        default=None,
        help=f"require this login (default: ${AUTH_ENV} if set, else none on loopback)",
    )
    g["budget"].add_argument("--workers", type=int, default=1, help="jobs that run at the same time (default: 1)")
    g["budget"].add_argument(
        "--max-upload-mb", type=int, default=500, help="largest upload accepted, in MB (default: 500)"
    )
    p.set_defaults(func=cmd_studio)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def parse_auth(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    user, sep, password = text.partition(":")
    need(bool(sep) and bool(user) and bool(password), "--auth: expected USER:PASS with both parts non-empty")
    return user, password


def cmd_studio(a: argparse.Namespace) -> int:
    need(1 <= a.port <= 65535, f"--port {a.port}: must be in 1..65535")
    need(a.workers >= 1, f"--workers {a.workers}: must be at least 1")
    need(a.max_upload_mb >= 1, f"--max-upload-mb {a.max_upload_mb}: must be at least 1")
    auth = parse_auth(a.auth or os.environ.get(AUTH_ENV))
    need(
        auth is not None or is_loopback(a.host),
        f"--host {a.host}: the studio would be reachable from other machines; give --auth USER:PASS "
        f"(or set {AUTH_ENV}) to require a login, or keep the default 127.0.0.1",
    )
    workspace = check_out_dir(a.workspace, "--workspace")
    from ..studio.app import serve

    say(f"studio workspace: {Path(workspace).resolve()}")
    serve(Path(workspace), host=a.host, port=a.port, auth=auth, workers=a.workers, max_upload_mb=a.max_upload_mb)
    return 0
