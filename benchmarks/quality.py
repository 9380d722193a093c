"""Quality benchmark: train within a wall-clock budget, then measure every metric.

    python benchmarks/quality.py DATA --family resgan,dcgan --resolution 64 --minutes 15

For each family (one after another, never in parallel: two cores), this trains a fresh run
with ``python -m artgan train`` in its own process (so one entry's memory cannot slow the
next), then evaluates the run's *latest* checkpoint and its *best* one (lowest SWD measured
during training) with :func:`artgan.metrics.evaluate.evaluate` against crops of DATA, once
per ``--eval-seeds`` seed (a new draw of fakes and reals each time), and keeps the median.
``--runs LABEL=RUN_DIR`` (repeatable) evaluates runs that already exist instead of training.

Why several draws and a floor: SWD from 256 images per side is a noisy, biased estimate.
Two draws of *real* crops of the same paintings are far from 0 apart (median 24 at 64 px on
the 14 paintings, one draw 46), so no generator can reliably score below that floor, and
one draw of fakes moves by 10-35 %. The ``reals`` entry measures the floor: real crops
against another draw of real crops, with the same n and the same seeds.

Prints one JSON document to stdout:

- ``command``, ``machine`` (CPU, cores, torch, load average at start and end), ``data``.
- ``results``: one entry per family with ``kimg``, ``minutes``, ``img_per_sec`` (training
  throughput, from the run's summary.json), ``stopped``, ``latest`` and ``best`` metric dicts
  (``swd/*`` x1e3, ``kid``/``fid`` with the ``extractor`` that produced them, ``diversity`` =
  mean pairwise MS-SSIM (lower = more varied), ``copies`` = fraction of near-copies), and
  ``curve``: the SWD measured during training as ``[minutes, kimg, swd/avg]`` rows.
- ``reals``: the floor, median SWD/KID of real crops against another draw of real crops,
  with the per-seed SWD values under ``swd/avg_per_seed`` (as in every metric dict).
- ``ratios``: every family's latest and best SWD over the first family's, when more
  than one family ran (the first is the one being judged, e.g. ``resgan,dcgan``), and
  ``excess_latest`` / ``excess_best``: the same ratios after subtracting the floor from
  both (what is left for a better generator to win).

A markdown table of the same figures goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import git_commit, load_average, log, machine_info
from artgan.metrics.evaluate import evaluate, image_set
from artgan.metrics.kid import kid_fid_images
from artgan.metrics.swd import swd
from artgan.training.checkpoint import CheckpointError, resolve_model_folder

HEADLINE = ("swd/avg", "kid", "fid", "diversity", "copies")


def train_run(data: str, family: str, args: argparse.Namespace, out: Path, extra: list[str]) -> Path:
    """Train one run in a child process; returns its run folder."""
    cmd = [
        sys.executable,
        "-m",
        "artgan",
        "train",
        data,
        "--out",
        str(out),
        "--family",
        family,
        "--resolution",
        str(args.resolution),
        "--minutes",
        str(args.minutes),
        "--seed",
        str(args.seed),
        "--no-progress",
        *shlex.split(args.train_args),
        *extra,
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    log("$ " + shlex.join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"training {family} failed (exit {proc.returncode}); see the log above")
    return Path(proc.stdout.strip().splitlines()[-1])


def swd_curve(run: Path) -> list[list[float]]:
    """[minutes, kimg, swd/avg] for every SWD measured during training."""
    rows = []
    for line in (run / "stats.jsonl").read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "metric/swd/avg" in r:
            rows.append([round(r.get("sec", 0.0) / 60, 2), r["kimg"], r["metric/swd/avg"]])
    return rows


def median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise median of several ``evaluate`` dicts (non-numeric values from the first),
    with the per-seed SWD values under ``swd/avg_per_seed``."""
    out = dict(results[0])
    for k, v in results[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("seed", "n", "resolution"):
            out[k] = statistics.median(r[k] for r in results)
    out["seed"] = [r["seed"] for r in results]
    out["swd/avg_per_seed"] = [round(r["swd/avg"], 2) for r in results]
    return out


def real_floor(data: str, resolution: int, n: int, seeds: list[int], crop_size: int | None) -> dict[str, Any]:
    """SWD and KID of real crops against another draw of real crops: the best any
    generator can score with this n. Median over ``seeds``."""
    rows = []
    for s in seeds:
        a, _ = image_set(data, resolution, n, s, crop_size)
        b, _ = image_set(data, resolution, n, s + 7919, crop_size)  # an unrelated draw
        rows.append({"seed": s, "n": n, "resolution": resolution, **swd(b, a, seed=s), **kid_fid_images(b, a, seed=s)})
    return median_result(rows)


def bench_family(
    data: str, label: str, family: str, args: argparse.Namespace, out: Path, extra: list[str], run: Path | None = None
) -> dict[str, Any]:
    """Train (unless ``run`` is given) and evaluate one entry."""
    t0 = time.time()
    if run is None:
        run = train_run(data, family, args, out, extra)
    wall = time.time() - t0
    summary = json.loads((run / "summary.json").read_text())
    cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    entry: dict[str, Any] = {
        "family": label,
        "train_args": shlex.join(extra),
        "resolution": args.resolution,
        "budget_minutes": args.minutes,
        "run": str(run),
        "train_wall_minutes": round(wall / 60, 2),
        **{k: summary.get(k) for k in ("kimg", "minutes", "img_per_sec", "stopped")},
        "crop_size": int((cfg.get("train") or {}).get("crop_size") or 0),
    }
    for which in ("latest", "best"):
        try:
            resolve_model_folder(run, which)
        except CheckpointError:
            entry[which] = None
            continue
        per_seed = []
        for s in args.eval_seeds:
            log(f"evaluating {label} ({which}, eval seed {s})")
            per_seed.append(
                evaluate(
                    data,
                    run=run,
                    n=args.n,
                    seed=s,
                    which=which,
                    worst_pairs=run / f"worst-pairs-{which}.png" if s == args.eval_seeds[0] else None,
                )
            )
        entry[which] = median_result(per_seed)
    entry["curve"] = swd_curve(run)
    return entry


def write_curves(results: list[dict[str, Any]], path: Path) -> Path:
    """An HTML page with the SWD-during-training curves of every entry, against minutes."""
    from artgan.gallery import line_chart
    from artgan.imaging import atomic_write_bytes

    rows = [{"minutes": m, e["family"]: swd} for e in results for m, _kimg, swd in e["curve"]]
    labels = tuple(e["family"] for e in results)
    svg = line_chart(rows, labels, "SWD x1e3 (lower is better)", x_key="minutes", xlabel="training minutes")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>SWD curves</title></head><body>"
        f"<h1>SWD of the EMA generator during training</h1><p>{' | '.join(labels)} at "
        f"{results[0]['resolution']} px</p>{svg}</body></html>\n"
    )
    atomic_write_bytes(path, page.encode())
    return path


def table(results: list[dict[str, Any]], floor: dict[str, Any] | None = None) -> str:
    head = "| family | px | budget min | kimg | img/s | ckpt | SWD avg | KID | FID | diversity | copies |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for e in results:
        for which in ("latest", "best"):
            m = e.get(which)
            if not m:
                continue
            lines.append(
                f"| {e['family']} | {e['resolution']} | {e['budget_minutes']:g} | {e['kimg']} | {e['img_per_sec']} | {which} | "
                f"{m['swd/avg']:.1f} | {m['kid']:.4f} | {m['fid']:.2f} | {m['diversity']:.3f} | {m['copies']:.3f} |"
            )
    if floor:
        lines.append(
            f"| reals vs reals (floor) | {results[0]['resolution']} | | | | | {floor['swd/avg']:.1f} | "
            f"{floor['kid']:.4f} | {floor['fid']:.2f} | | |"
        )
    if results and results[0].get("latest"):
        lines.append(
            f"\nMedians over eval seeds {results[0]['latest']['seed']}. "
            f"KID/FID extractor: {results[0]['latest']['extractor']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("data", help="training images (folder or zip)")
    p.add_argument("--family", default="resgan", help="comma list; the first is compared with the others")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--minutes", type=float, default=15.0, help="training budget per family")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument(
        "--eval-seeds",
        default="0,1,2",
        help="comma list; every checkpoint is evaluated once per seed and the median kept",
    )
    p.add_argument("--n", type=int, default=256, help="images per side for the metrics")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--train-args", default="", help='extra `artgan train` options, e.g. "--crop-size 256"')
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=FAMILY[ ARGS]",
        help='an entry with its own options, e.g. --variant "width24=resgan --width 24"; repeatable; replaces --family',
    )
    p.add_argument(
        "--runs",
        action="append",
        default=[],
        metavar="LABEL=RUN_DIR",
        help="evaluate an existing run instead of training one; repeatable; replaces --family",
    )
    p.add_argument("--out", default=None, help="where the runs go (default: benchmarks/runs/quality-<time>)")
    args = p.parse_args(argv)
    args.eval_seeds = [int(s) for s in args.eval_seeds.split(",") if s.strip()]
    if not args.eval_seeds:
        raise SystemExit("--eval-seeds: give at least one seed")

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path(__file__).parent / "runs" / f"quality-{stamp}")
    machine = machine_info()
    entries: list[tuple[str, str, list[str]]] = []
    for v in args.variant:
        label, _, rest = v.partition("=")
        words = shlex.split(rest)
        if not label or not words:
            raise SystemExit(f"--variant {v!r}: expected LABEL=FAMILY [ARGS]")
        entries.append((label, words[0], words[1:]))
    existing: list[Path | None] = [None] * len(entries)
    for r in args.runs:
        label, _, path = r.partition("=")
        run = Path(path)
        if not label or not (run / "summary.json").exists():
            raise SystemExit(f"--runs {r!r}: expected LABEL=RUN_DIR, a finished run folder with summary.json")
        train = json.loads((run / "config.json").read_text())["train"]
        entries.append((label, train["model"]["family"], []))
        existing.append(run)
        args.resolution = int(train["model"]["resolution"])
        args.minutes = float(train.get("minutes") or 0)
    if not entries:
        entries = [(f.strip(), f.strip(), []) for f in args.family.split(",") if f.strip()]
        existing = [None] * len(entries)
    results = [
        bench_family(args.data, label, fam, args, out, extra, run)
        for (label, fam, extra), run in zip(entries, existing)
    ]
    log("measuring the floor: real crops against another draw of real crops")
    floor = real_floor(args.data, args.resolution, args.n, args.eval_seeds, results[0].get("crop_size") or None)
    machine["load_average_end"] = load_average()
    doc: dict[str, Any] = {
        "benchmark": "quality",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": machine,
        "data": args.data,
        "results": results,
        "reals": floor,
    }
    if len(results) > 1:
        first = results[0]
        f = floor["swd/avg"]
        doc["ratios"] = {
            f"{first['family']}/{e['family']}": {
                **{
                    w: round(first[w]["swd/avg"] / e[w]["swd/avg"], 3)
                    for w in ("latest", "best")
                    if first.get(w) and e.get(w)
                },
                **{
                    f"excess_{w}": round((first[w]["swd/avg"] - f) / max(e[w]["swd/avg"] - f, 1e-9), 3)
                    for w in ("latest", "best")
                    if first.get(w) and e.get(w)
                },
            }
            for e in results[1:]
        }
    log(table(results, floor))
    chart = write_curves(results, out / "swd-curves.html")
    doc["curves_html"] = str(chart)
    log(f"SWD curves: {chart}")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
