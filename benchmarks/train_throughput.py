"""Training throughput of the model families, compared with this machine's conv peak.

Prints ONE JSON document to stdout (progress goes to stderr), so two runs can be diffed.

Run (from the repository root, with the package installed)::

    python benchmarks/train_throughput.py                      # defaults, a few minutes on 2 cores
    python benchmarks/train_throughput.py --families resgan --resolutions 64 \
        --iters 32 --repeats 5 --threads 2 > resgan64.json
    python benchmarks/train_throughput.py --families resgan --resolutions 64 --profile

What the figures mean
---------------------
``machine``
    platform, Python, torch, CPU model (``/proc/cpuinfo``), logical cores, the thread
    count torch actually uses, load average at start and end (other people's jobs on a
    shared machine show up here), the exact command line and a UTC timestamp.

``conv_peak``
    The fp32 convolution peak *of this run*: forward-only 3x3 convolutions (stride 1,
    padding 1, no bias, ``torch.no_grad``) on large, compute-bound shapes, each about
    9.7 GFLOP. Per shape: median GFLOP/s of ``--peak-runs`` timed calls after warm-up.
    It is measured ``before`` and ``after`` the model runs; ``gflops`` (the value every
    ratio uses) is the larger of the two per-pass maxima, so a noisy pass cannot make
    the models look better than they are. A large gap between the two passes means the
    machine was busy: treat all figures of that run with suspicion.

``results`` (one entry per family x resolution)
    One *iteration* is what the training loop does per batch: ``d_step`` (G forward,
    augmentation of reals+fakes, D forward/backward, lazy R1 every ``r1_interval``
    steps, Adam) then ``g_step`` (augmentation, D forward, backward through D into G,
    Adam; a fresh G forward first unless the family reuses the D step's fakes, as
    resgan does). Models use the default ``ModelConfig`` width,
    Adam(lr 2e-4, betas (0.5, 0.99)), augmentation p=0.2 with the family's ops,
    r1_gamma 0.1, r1_interval 16, a random real batch in [-1, 1].

    - ``gflop_per_iter``: model FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode``
      (convolutions, transposed convolutions, matmuls, their backward and R1's double
      backward; a multiply-add is 2 FLOPs; element-wise ops, batch norm, augmentation
      and Adam are *not* counted). Amortised over an R1 cycle:
      ``no_r1 + (r1 - no_r1) / r1_interval``. Both raw counts are reported as well.
    - ``sec_per_iter``: the two FLOP-counted iterations (one R1, one plain) and
      ``--warmup`` more are untimed warm-up. Then each repeat runs ``iters`` consecutive
      iterations whose step numbers start at a multiple of ``r1_interval``, so R1 steps
      occur at their real frequency and every repeat contains at least one. Each
      iteration is timed; the repeat's figure is
      ``mean(no_r1) + (mean(r1) - mean(no_r1)) / r1_interval``, which equals the plain
      mean of the repeat when ``iters`` is a whole multiple of ``r1_interval`` (the
      default 16 at <= 64 px; above 64 px the default is 2 iterations, 1 R1 + 1 plain, to
      keep the run short; ``timing`` says which case applies). The reported value is
      the median over ``--repeats``; every repeat and the plain means are listed too.
    - ``images_per_s``: real training images consumed per second (``batch / sec_per_iter``),
      the unit StyleGAN's kimg counts. G actually renders 2 x batch fakes per iteration.
    - ``achieved_gflops`` = ``gflop_per_iter / sec_per_iter``; ``ratio_to_conv_peak`` =
      ``achieved_gflops / conv_peak.gflops``. Time spent in uncounted ops (element-wise,
      batch norm, augmentation, optimiser, Python) lowers the ratio: that is the point.
    - ``sys_cpu_share`` and ``minor_page_faults_per_iter`` (during the timed repeats):
      kernel time, mostly page faults on the fresh memory that glibc ``mmap``s for
      tensors above its mmap threshold (at most 32 MiB) and unmaps on free. A high share means the
      allocator, not arithmetic, is costing time.
    - ``cpu_utilisation``: process CPU seconds / wall seconds / torch threads during the
      timed repeats. Near 1 on an idle machine; clearly below 1 means the cores were
      shared (compare the load averages) and the entry's timings are pessimistic.
    - ``peak_rss_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the entry, in MiB.
      It is process-wide and cumulative (a high-water mark since the process started), so
      it only grows along the list; the first entry that raises it is the one that needed
      the memory.

Caveat: all entries share one process, and the glibc heap state left by earlier entries
changes how often later entries page-fault big tensors in (watch ``sys_cpu_share``). To
measure one entry on its own, pass a single family and resolution.

``--profile`` adds, per entry, the top operators by self CPU time over one timed block
(under ``torch.profiler``, which slows things down a little; it is run after, and
separately from, the timed repeats), grouped into conv / matmul / batch norm / ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from _common import load_average, log, machine_info, peak_rss_mb
from artgan.config import ModelConfig, TrainConfig
from artgan.models import FAMILIES, build_discriminator, build_generator
from artgan.training.memory import keep_freed_memory
from artgan.training.steps import StepContext, d_step, g_step

# (batch, channels, spatial size): 3x3 convs of ~9.7 GFLOP each, big enough to be compute-bound.
PEAK_SHAPES: tuple[tuple[int, int, int], ...] = ((32, 64, 64), (32, 128, 32), (32, 256, 16), (32, 512, 8))
# The recipe the reference results were measured with; fixed here (not chosen from data)
# so figures stay comparable across runs and resolutions.
FIXED_RECIPE: dict[str, Any] = {
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "r1_gamma": 0.1,
    "augment_p": 0.2,
    "ema_kimg": 2.0,
    "loss": "ns",
}


# --------------------------------------------------------------------------- conv peak


def conv_peak(runs: int, warmup: int) -> dict[str, Any]:
    """Forward 3x3 conv GFLOP/s per shape (median of ``runs`` after ``warmup``), and the max."""
    g = torch.Generator().manual_seed(0)
    shapes = []
    with torch.no_grad():
        for b, c, s in PEAK_SHAPES:
            x = torch.randn(b, c, s, s, generator=g)
            w = torch.randn(c, c, 3, 3, generator=g) * 0.05
            flop = 2.0 * b * s * s * c * c * 9  # output pixels x MACs per pixel x 2
            for _ in range(warmup):
                F.conv2d(x, w, padding=1)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                F.conv2d(x, w, padding=1)
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            shapes.append(
                {
                    "shape": f"B{b} {c}->{c} {s}x{s} k3",
                    "gflop": round(flop / 1e9, 3),
                    "median_s": round(med, 5),
                    "gflops": round(flop / med / 1e9, 1),
                }
            )
    return {"shapes": shapes, "gflops": max(s["gflops"] for s in shapes)}


# --------------------------------------------------------------------------- training iteration


def make_context(family: str, resolution: int, tc: TrainConfig) -> tuple[StepContext, ModelConfig]:
    mc = ModelConfig(family=family, resolution=resolution).validate()
    G, D = build_generator(mc), build_discriminator(mc)
    G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)  # as the loop does
    opt_G = torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=(tc.beta1, tc.beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2))
    ctx = StepContext(
        G=G,
        D=D,
        opt_G=opt_G,
        opt_D=opt_D,
        z_dim=mc.z_dim,
        loss=tc.loss,
        augment_ops=tuple(FAMILIES[family].augment if tc.augment is None else tc.augment),
        r1_gamma=tc.r1_gamma,
        r1_interval=tc.r1_interval,
        reuse_fakes=FAMILIES[family].reuse_fakes if tc.reuse_fakes is None else tc.reuse_fakes,
    )
    return ctx, mc


def iteration(ctx: StepContext, real: torch.Tensor, p: float, step: int) -> None:
    """One training iteration as the loop runs it: D step, then G step."""
    g_step(ctx, real.shape[0], p, d_step(ctx, real, p, step).fake)


def count_flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def time_block(ctx: StepContext, real: torch.Tensor, p: float, start: int, iters: int) -> list[tuple[bool, float]]:
    """Run ``iters`` iterations at steps start..start+iters-1; (is_r1_step, seconds) for each."""
    out = []
    for step in range(start, start + iters):
        is_r1 = ctx.r1_gamma > 0 and step % ctx.r1_interval == 0
        t0 = time.perf_counter()
        iteration(ctx, real, p, step)
        out.append((is_r1, time.perf_counter() - t0))
    return out


def amortised(times: list[tuple[bool, float]], interval: int) -> float:
    """Seconds per iteration over a full R1 cycle: no_r1 + (r1 - no_r1) / interval."""
    r1 = [t for is_r1, t in times if is_r1]
    plain = [t for is_r1, t in times if not is_r1]
    if not r1 or not plain:  # R1 disabled, or every step is an R1 step
        return statistics.fmean(t for _, t in times)
    m_plain, m_r1 = statistics.fmean(plain), statistics.fmean(r1)
    return m_plain + (m_r1 - m_plain) / interval


OP_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("conv", ("conv", "mkldnn_convolution", "slow_conv")),
    ("matmul", ("addmm", "::mm", "::bmm", "matmul", "linear")),
    ("batch_norm", ("batch_norm",)),
    ("optimizer", ("adam", "_foreach", "lerp", "addcdiv", "addcmul")),
    ("augment_index", ("gather", "scatter", "reflection_pad", "index", "pad")),
    ("resample_pool", ("upsample", "interpolate", "avg_pool", "adaptive_avg_pool")),
    ("activation", ("leaky_relu", "sigmoid", "tanh", "softplus", "relu", "threshold")),
    (
        "elementwise",
        (
            "::add",
            "::mul",
            "::sub",
            "::div",
            "::pow",
            "::sum",
            "::mean",
            "copy_",
            "fill_",
            "zero_",
            "where",
            "rand",
            "clone",
            "cat",
            "contiguous",
            "sqrt",
            "neg",
            "lt",
            "abs",
        ),
    ),
)


def op_group(name: str) -> str:
    low = name.lower()
    for group, keys in OP_GROUPS:
        if any(k in low for k in keys):
            return group
    return "other"


def profile_block(
    ctx: StepContext, real: torch.Tensor, p: float, start: int, iters: int, top: int = 15
) -> dict[str, Any]:
    """Self CPU time per operator over one block of iterations, top ops and per-group shares."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        time_block(ctx, real, p, start, iters)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = {}
    for e in events:
        g = op_group(e.key)
        groups[g] = groups.get(g, 0.0) + e.self_cpu_time_total
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return {
        "iters": iters,
        "self_cpu_ms_per_iter": round(total / 1e3 / iters, 2),
        "groups_share": {g: round(v / total, 3) for g, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "top_ops": [
            {
                "op": e.key,
                "calls_per_iter": round(e.count / iters, 1),
                "self_ms_per_iter": round(e.self_cpu_time_total / 1e3 / iters, 2),
                "share": round(e.self_cpu_time_total / total, 3),
            }
            for e in events[:top]
        ],
    }


def round_up(n: int, k: int) -> int:
    return -(-n // k) * k


def bench_one(family: str, resolution: int, args: argparse.Namespace) -> dict[str, Any]:
    # The recipe numbers come from the training defaults.
    tc = TrainConfig(batch=args.batch, **FIXED_RECIPE)
    torch.manual_seed(args.seed)
    ctx, _ = make_context(family, resolution, tc)
    p = tc.augment_p
    interval = tc.r1_interval if tc.r1_gamma > 0 else 1
    real = torch.rand(args.batch, 3, resolution, resolution) * 2 - 1
    iters = args.iters if resolution <= 64 else args.hires_iters

    # The two counted iterations are real ones (step 0 is an R1 step, step 1 is not when
    # interval > 1), so they double as the first warm-up iterations.
    log(f"[{family} {resolution}px] counting FLOPs (2 iters), warm-up {args.warmup} iters")
    flops_r1 = count_flops(lambda: iteration(ctx, real, p, 0))
    flops_no_r1 = count_flops(lambda: iteration(ctx, real, p, 1)) if interval > 1 else flops_r1
    flops = flops_no_r1 + (flops_r1 - flops_no_r1) / interval
    time_block(ctx, real, p, 2, args.warmup)

    per_repeat, plain_means, n_r1 = [], [], 0
    start = round_up(2 + args.warmup, interval)
    ru0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for r in range(args.repeats):
        times = time_block(ctx, real, p, start, iters)
        start = round_up(start + iters, interval)  # every repeat starts with an R1 step
        n_r1 = sum(is_r1 for is_r1, _ in times)
        per_repeat.append(amortised(times, interval))
        plain_means.append(statistics.fmean(t for _, t in times))
        log(
            f"[{family} {resolution}px] repeat {r + 1}/{args.repeats}: {per_repeat[-1]:.3f} s/iter "
            f"({args.batch / per_repeat[-1]:.1f} img/s)"
        )
    ru1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    timed = iters * args.repeats
    cpu_user, cpu_sys = ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime
    sec = statistics.median(per_repeat)
    whole = iters % interval == 0
    entry: dict[str, Any] = {
        "family": family,
        "resolution": resolution,
        "batch": args.batch,
        "params_G": sum(q.numel() for q in ctx.G.parameters()),
        "params_D": sum(q.numel() for q in ctx.D.parameters()),
        "iters_per_repeat": iters,
        "r1_steps_per_repeat": n_r1,
        "timing": (
            "plain mean of a whole number of R1 cycles (equals the amortised formula)"
            if whole
            else "partial R1 cycle: amortised mean(no_r1) + (mean(r1) - mean(no_r1)) / r1_interval"
        ),
        "sec_per_iter": round(sec, 4),
        "sec_per_iter_repeats": [round(t, 4) for t in per_repeat],
        "sec_per_iter_plain_means": [round(t, 4) for t in plain_means],
        "images_per_s": round(args.batch / sec, 2),
        "gflop_per_iter": round(flops / 1e9, 3),
        "gflop_per_iter_no_r1": round(flops_no_r1 / 1e9, 3),
        "gflop_per_iter_r1": round(flops_r1 / 1e9, 3),
        "achieved_gflops": round(flops / sec / 1e9, 1),
        # Kernel time (page faults of freshly mmapped large tensors, mostly) while timing.
        "sys_cpu_share": round(cpu_sys / max(cpu_user + cpu_sys, 1e-9), 3),
        "minor_page_faults_per_iter": round((ru1.ru_minflt - ru0.ru_minflt) / timed),
        # CPU seconds per wall second per torch thread: ~1 on an idle machine; well below 1
        # means other processes took the cores (or threads waited on each other).
        "cpu_utilisation": round((cpu_user + cpu_sys) / wall / torch.get_num_threads(), 3),
    }
    if args.profile:
        log(f"[{family} {resolution}px] profiling {iters} iters")
        entry["profile"] = profile_block(ctx, real, p, start, iters)
    entry["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return entry


# --------------------------------------------------------------------------- main


def csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument("--families", type=csv_list, default=["resgan", "dcgan"], help="comma-separated families")
    ap.add_argument(
        "--resolutions",
        type=lambda s: [int(x) for x in csv_list(s)],
        default=[64, 128],
        help="comma-separated resolutions",
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument(
        "--iters",
        type=int,
        default=16,
        help="timed iterations per repeat at resolutions <= 64 (16 = one whole R1 cycle)",
    )
    ap.add_argument(
        "--hires-iters",
        type=int,
        default=2,
        help="timed iterations per repeat above 64 px (default: 1 R1 + 1 plain step, amortised)",
    )
    ap.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed iterations after the 2 FLOP-counted ones (which already warm up, R1 included)",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads; default: torch's choice")
    ap.add_argument("--peak-runs", type=int, default=7, help="timed calls per conv-peak shape")
    ap.add_argument("--peak-warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--no-malloc-tuning",
        action="store_true",
        help="skip artgan.training.memory.keep_freed_memory() (the training loop calls it)",
    )
    ap.add_argument("--profile", action="store_true", help="add a torch.profiler op breakdown per entry")
    args = ap.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        ap.error(f"unknown families {unknown}; choose from {sorted(FAMILIES)}")
    for name in ("batch", "iters", "hires_iters", "repeats", "peak_runs"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0 or args.peak_warmup < 0:
        ap.error("--warmup and --peak-warmup must be >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    started = dt.datetime.now(dt.timezone.utc)
    malloc_tuned = False if args.no_malloc_tuning else keep_freed_memory()
    machine = machine_info()
    tc = TrainConfig(batch=args.batch, **FIXED_RECIPE)

    log("conv peak (before)")
    before = conv_peak(args.peak_runs, args.peak_warmup)
    log(f"  {before['gflops']} GFLOP/s")

    results = [bench_one(f, r, args) for f in args.families for r in args.resolutions]

    log("conv peak (after)")
    after = conv_peak(args.peak_runs, args.peak_warmup)
    log(f"  {after['gflops']} GFLOP/s")
    peak = max(before["gflops"], after["gflops"])
    for e in results:
        e["ratio_to_conv_peak"] = round(e["achieved_gflops"] / peak, 3)

    machine["load_average_end"] = load_average()
    doc = {
        "benchmark": "train_throughput",
        "command": " ".join(sys.argv),
        "timestamp_utc": started.isoformat(timespec="seconds"),
        "duration_s": round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1),
        "machine": machine,
        "settings": {
            "families": args.families,
            "resolutions": args.resolutions,
            "batch": args.batch,
            "iters": args.iters,
            "hires_iters": args.hires_iters,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "threads": torch.get_num_threads(),
            "seed": args.seed,
            "optimizer": {"name": "Adam", "lr": tc.lr_g, "betas": [tc.beta1, tc.beta2]},
            "augment": {"p": tc.augment_p, "ops": {f: list(FAMILIES[f].augment) for f in args.families}},
            "loss": tc.loss,
            "r1_gamma": tc.r1_gamma,
            "r1_interval": tc.r1_interval,
            "dtype": "float32",
            "memory_format": "channels_last",
            "malloc_tuning": malloc_tuned,
        },
        "conv_peak": {
            "before": before,
            "after": after,
            "gflops": peak,
            "note": "gflops = max of the before/after maxima; ratios use it",
        },
        "results": results,
        "peak_rss_note": "ru_maxrss is a process-wide high-water mark: cumulative, only grows",
    }
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
