"""Bookkeeping of a wall-clock-budgeted training loop (textures, stylizers): a progress bar
in seconds, mean losses to ``stats.jsonl`` every few seconds, a crash-safe save every
minute. The big generator loop (loop.py) has its own, richer version of this."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

LOG_SECONDS = 10.0
SAVE_SECONDS = 60.0


class Ticker:
    """Call :meth:`tick` once per step with that step's losses (a tensor, one per name).

    ``names`` are the stats keys ("loss/D", ...); ``budget`` the seconds this invocation
    may run (inf: none, and the bar counts up); ``seconds`` the time earlier invocations
    already trained (rows and saves report the total); ``save(total_seconds)`` is called
    every ``save_seconds``. Use as a context manager, so the bar and file always close.
    """

    def __init__(
        self,
        stats_path: Path,
        names: Sequence[str],
        budget: float,
        seconds: float,
        save: Callable[[float], object],
        progress: bool,
        save_seconds: float = SAVE_SECONDS,
    ) -> None:
        from tqdm.auto import tqdm

        self.names, self.seconds, self.save, self.save_seconds = list(names), seconds, save, save_seconds
        self.bar = tqdm(
            total=None if budget == float("inf") else int(budget),
            unit="s",
            disable=not progress,
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n:.0f}/{total} s{postfix}",
        )
        self.stats = open(stats_path, "a", encoding="utf-8")
        self.start = self.last_log = self.last_save = time.time()
        self.sums = torch.zeros(len(self.names))
        self.n = 0

    def elapsed(self) -> float:
        """Seconds since this invocation started."""
        return time.time() - self.start

    def tick(self, step: int, losses: torch.Tensor) -> None:
        """Account one finished step; ``losses`` (len(names),) detached."""
        self.sums += losses
        self.n += 1
        now = time.time()
        if now - self.last_log >= LOG_SECONDS:
            mean = (self.sums / self.n).tolist()
            row = {
                "step": step,
                "sec": round(self.seconds + now - self.start, 1),
                **{k: round(v, 4) for k, v in zip(self.names, mean)},
                "steps_per_sec": round(self.n / (now - self.last_log), 2),
            }
            self.stats.write(json.dumps(row) + "\n")
            self.stats.flush()
            self.bar.set_postfix_str(
                f"step {step}, " + ", ".join(f"{k.split('/')[-1]} {v:.2f}" for k, v in zip(self.names, mean))
            )
            self.sums.zero_()
            self.n = 0
            self.last_log = now
        # The last step ends past the budget: clamp, or tqdm warns "clamping frac to range [0, 1]".
        done = now - self.start
        if self.bar.total is not None:
            done = min(done, self.bar.total)
        self.bar.update(done - self.bar.n)
        if now - self.last_save >= self.save_seconds:
            self.save(self.seconds + now - self.start)
            self.last_save = time.time()

    def __enter__(self) -> Ticker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
        self.stats.close()
