"""Talking to the person at the terminal: messages on stderr, and a clean stop on Ctrl-C."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_quiet = [False]


def say(msg: str) -> None:
    if not _quiet[0]:
        print(msg, file=sys.stderr, flush=True)


@contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """With ``on``, :func:`say` prints nothing: for the ranks other than 0 of a distributed run."""
    old, _quiet[0] = _quiet[0], on or _quiet[0]
    try:
        yield
    finally:
        _quiet[0] = old


@contextmanager
def stop_on_signals() -> Iterator[dict[str, Any]]:
    """SIGINT/SIGTERM set a flag instead of killing us, so the loop can save and exit."""
    flag: dict[str, Any] = {"stop": None}

    def handler(signum: int, _frame: Any) -> None:
        if flag["stop"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user really means it
        flag["stop"] = signal.Signals(signum).name
        say(f"\n{flag['stop']} received: writing a final checkpoint, then stopping (Ctrl-C again to abort)")

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, handler)
        except ValueError:  # not in the main thread: no handlers, the loop still works
            pass
    try:
        yield flag
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
