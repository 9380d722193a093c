"""Cross-check stylizers with a style measure built differently from the benchmark's.

    python benchmarks/stylize_crosscheck.py /tmp/stbench-a /tmp/stbench-b ... > out.json

``benchmarks/stylize.py`` judges style by patch SWD, and a stylizer trained with the
direct style term (``StylizerConfig.style_weight``) optimises a relative of that figure. This
script re-measures the models such runs left in ``DIR/runs/<style>/model`` with a second,
independent figure as well: KID between random-conv-net features (the
``randconv-v1-seed0`` extractor: per-channel means and stds of four random conv layers, a
texture statistic in the sense of Gatys et al. without trained weights) of 128 random
64 px crops of the output and 128 of the painting. ``kid_ratio`` is the output's KID over
the unstylized photo's (lower = closer to the painting). Photos are measured at 512 px
on the longer side, as in the benchmark; the painting at most 512 px, as training saw it.

Prints JSON: per run and style the medians of ``style_ratio`` (patch SWD, as the
benchmark) and ``kid_ratio`` over the photos, and the overall medians per run; also the
patch SWD ratio per pyramid level (``swd_ratio_64`` fine detail ... ``swd_ratio_16``
color and layout) and, for models with a palette stage, the same figures for the photo
recolored by the palette alone (``palette_only_*``): what G adds over the closed form.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

import torch

from _common import git_commit, log, machine_info
from artgan.data.crops import random_crops
from artgan.data.ingest import IMAGE_SUFFIXES
from artgan.imaging import fit_long_side, load_image, pil_to_tensor
from artgan.metrics.features import get_extractor
from artgan.metrics.kid import kid
from artgan.metrics.texture import texture_swd
from artgan.models.stylenet import stylize_image
from artgan.tasks.stylize import Stylizer
from artgan.training.stylizer import measure_each


def crop_features(extract, img: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Features (n, D) of ``n`` random 64 px crops of ``img`` (3, H, W)."""
    return extract(random_crops(img, n, 64, torch.Generator().manual_seed(seed)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="output folders of benchmarks/stylize.py")
    ap.add_argument("--photos", default="../shared/data/photos")
    ap.add_argument("--art", default="../shared/data/art")
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--crops", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    extract = get_extractor("randconv")
    photos = [
        fit_long_side(pil_to_tensor(load_image(p)), args.side, multiple=4)
        for p in sorted(Path(args.photos).iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    arts = {p.stem: p for p in Path(args.art).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    results: dict[str, dict] = {}
    for run in args.runs:
        per_style, all_rows = {}, []
        for model in sorted((run / "runs").glob("*/model")):
            name = model.parent.name
            style = pil_to_tensor(load_image(arts[name]))
            style = fit_long_side(style, 512) if max(style.shape[-2:]) > 512 else style
            st = Stylizer.from_pretrained(model.parent)
            f_style = crop_features(extract, style, args.crops, seed=1)
            rows = []
            # The benchmark's own figure, by the same helper (photos are already at ``side``).
            swd = measure_each(st.net, style, photos, side=args.side)
            for i, c in enumerate(photos):
                y = stylize_image(st.net, c)
                swd_ratio = swd[i]["style_ratio"]
                f_in = crop_features(extract, c, args.crops, seed=2 + i)
                k_out = kid(crop_features(extract, y, args.crops, seed=2 + i), f_style, subsets=50)[0]
                k_in = kid(f_in, f_style, subsets=50)[0]
                row = {"style_ratio": swd_ratio, "kid_ratio": k_out / max(k_in, 1e-8), "kid": k_out, "kid_input": k_in}
                # The benchmark's distance per pyramid level (64: fine detail ... 16: color
                # and layout), over the photo's: where the style was gained.
                patch = min(64, *c.shape[-2:], *style.shape[-2:])
                base = texture_swd(c[None], style, patch=patch, n=128)
                candidates = {"": y}
                if st.net.palette is not None:  # what the closed-form palette alone does, without G
                    candidates["palette_only_"] = st.net.recolor(c[None])[0]
                    k_pal = kid(
                        crop_features(extract, candidates["palette_only_"], args.crops, seed=2 + i), f_style, subsets=50
                    )[0]
                    row["palette_only_kid_ratio"] = k_pal / max(k_in, 1e-8)
                for prefix, img in candidates.items():
                    d = texture_swd(img[None], style, patch=patch, n=128)
                    for key in d:
                        row[f"{prefix}{key.replace('swd/', 'swd_ratio_')}"] = d[key] / max(base[key], 1e-8)
                rows.append(row)
            per_style[name] = {k: round(statistics.median(r[k] for r in rows), 4) for k in rows[0]}
            all_rows += rows
            log(f"{run.name} {name}: {per_style[name]}")
        keys = [k for k in all_rows[0] if "ratio" in k and all(k in r for r in all_rows)]
        results[str(run)] = {
            "per_style": per_style,
            "overall": {k: round(statistics.median(r[k] for r in all_rows), 4) for k in keys},
        }
    print(
        json.dumps(
            {
                "benchmark": "stylize_crosscheck",
                "command": shlex.join([sys.executable] + sys.argv),
                "commit": git_commit(),
                "machine": machine_info(),
                "extractor": extract.name,
                "side": args.side,
                "crops": args.crops,
                "results": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
