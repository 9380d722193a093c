"""Inpainting quality of the restorer against OpenCV (Telea, Navier-Stokes) and
scikit-image (biharmonic), all in one run; prints JSON.

For each painting, each damage kind (holes up to 48 px, cracks) and each seed, synthetic
damage from artgan.data.damage is repaired by every method. Figures, averaged over
paintings and seeds:

- ``psnr_mask``: PSNR (dB) over the masked pixels only, against the clean painting;
- ``ssim_box``: SSIM over the bounding box of the mask (grown by 8 px), where only masked
  pixels differ between methods;
- ``swd_patch``: patch SWD (x1e3) of 32 px crops centred on masked pixels of the repair
  against 32 px crops of the intact painting (texture, not blur: a blurred fill scores high).

One restorer is trained per painting (``--minutes`` each) on the painting with the union
of all its benchmark masks hidden, so it never learns from the pixels it is scored on.
A baseline whose package is missing is skipped with a note.

    python benchmarks/restore.py --paintings 3 --seeds 2 --minutes 1 --side 384
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _common import git_commit, load_average, log, machine_info
from artgan.config import RestoreConfig
from artgan.data.damage import cracks, holes
from artgan.imaging import fit_long_side, load_image, pil_to_tensor, tensor_to_pil, to_uint8
from artgan.metrics import psnr, ssim
from artgan.metrics.swd import swd
from artgan.tasks.restore import Restorer

ART = Path(__file__).resolve().parents[2] / "shared" / "data" / "art"
KINDS = {
    "holes": lambda img, seed: holes(img, seed, count=6, min_size=8, max_size=48),
    "cracks": lambda img, seed: cracks(img, seed, density=0.5, width=2),
}
CROP = 32


def baselines() -> tuple[dict, list[str]]:
    methods: dict = {}
    notes = []
    try:
        import cv2

        def opencv(flag: int):
            def run(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
                return cv2.inpaint(img, mask.astype(np.uint8) * 255, 3, flag)

            return run

        methods["telea"] = opencv(cv2.INPAINT_TELEA)
        methods["navier_stokes"] = opencv(cv2.INPAINT_NS)
    except ImportError:
        notes.append("opencv-python-headless not installed: telea and navier_stokes skipped")
    try:
        from skimage.restoration import inpaint_biharmonic

        def biharmonic(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
            out = inpaint_biharmonic(img.astype(np.float64) / 255.0, mask, channel_axis=-1)
            return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)

        methods["biharmonic"] = biharmonic
    except ImportError:
        notes.append("scikit-image not installed: biharmonic skipped")
    return methods, notes


def crops_at(img: torch.Tensor, centres: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` CROP-px crops of img (3, H, W) centred (clamped to fit) on random rows of centres (K, 2)."""
    _, h, w = img.shape
    pick = centres[torch.randint(len(centres), (n,), generator=g)]
    out = []
    for y, x in pick.tolist():
        y0, x0 = min(max(y - CROP // 2, 0), h - CROP), min(max(x - CROP // 2, 0), w - CROP)
        out.append(img[:, y0 : y0 + CROP, x0 : x0 + CROP])
    return torch.stack(out)


def score(fixed: torch.Tensor, clean: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    sel = mask.expand(3, -1, -1) > 0
    p = float(psnr(fixed[sel].view(1, 1, 1, -1), clean[sel].view(1, 1, 1, -1)))
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    _, h, w = clean.shape
    y0, y1 = max(int(ys.min()) - 8, 0), min(int(ys.max()) + 9, h)
    x0, x1 = max(int(xs.min()) - 8, 0), min(int(xs.max()) + 9, w)
    s = float(ssim(fixed[None, :, y0:y1, x0:x1], clean[None, :, y0:y1, x0:x1]))
    g = torch.Generator().manual_seed(0)
    intact = torch.nonzero(mask[0] == 0)
    fake = crops_at(fixed, torch.stack([ys, xs], 1), 128, g)
    real = crops_at(clean, intact, 128, g)
    return {"psnr_mask": p, "ssim_box": s, "swd_patch": swd(fake, real)["swd/avg"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paintings", type=int, default=3, help="how many of the shared paintings (sorted by name)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=1.0, help="restorer training per painting")
    ap.add_argument("--side", type=int, default=384, help="paintings are resized to this long side")
    a = ap.parse_args()
    torch.set_num_threads(2)
    machine = machine_info()  # its load average is the one at the start
    methods, notes = baselines()
    paths = sorted(ART.glob("*.png"))[: a.paintings]
    if not paths:
        sys.exit(f"no paintings under {ART}")
    rows: dict[str, dict[str, list[float]]] = {}
    times: dict[str, float] = {}
    for path in paths:
        clean = fit_long_side(pil_to_tensor(load_image(path)), a.side)
        clean = pil_to_tensor(tensor_to_pil(clean))  # 8-bit, as a file would be
        cases = [(k, s, *KINDS[k](clean, 100 * s + i)) for i, k in enumerate(KINDS) for s in range(a.seeds)]
        union = torch.stack([c[3] for c in cases]).amax(0)
        log(f"{path.name}: training a restorer for {a.minutes:g} min")
        t0 = time.perf_counter()
        cfg = RestoreConfig(minutes=a.minutes, seed=0)
        restorer = Restorer.fit(clean * (1 - union), union, config=cfg, cache=False, progress=False)
        times["artgan_train_s"] = times.get("artgan_train_s", 0.0) + time.perf_counter() - t0
        for kind, seed, damaged, mask in cases:
            arr = to_uint8(damaged).permute(1, 2, 0).numpy().copy()
            m = mask[0].numpy() > 0
            outs = {}
            t0 = time.perf_counter()
            outs["artgan"] = restorer(damaged, mask, output="tensor")
            times["artgan_s"] = times.get("artgan_s", 0.0) + time.perf_counter() - t0
            for name, fn in methods.items():
                t0 = time.perf_counter()
                res = fn(arr, m)
                times[f"{name}_s"] = times.get(f"{name}_s", 0.0) + time.perf_counter() - t0
                outs[name] = torch.from_numpy(res).permute(2, 0, 1).float() / 127.5 - 1
            for name, fixed in outs.items():
                for key, v in score(fixed, clean, mask).items():
                    rows.setdefault(f"{kind}/{name}", {}).setdefault(key, []).append(v)
            log(f"  {kind} seed {seed}: " + ", ".join(f"{n} {rows[f'{kind}/{n}']['psnr_mask'][-1]:.2f}" for n in outs))
    figures = {
        case: {k: round(float(np.mean(v)), 3) for k, v in metrics.items()} for case, metrics in sorted(rows.items())
    }
    print(
        json.dumps(
            {
                "benchmark": "restore",
                "command": " ".join(sys.argv),
                "machine": machine,
                "commit": git_commit(),
                "load_average_end": load_average(),
                "paintings": [p.name for p in paths],
                "seeds": a.seeds,
                "figures": figures,
                "seconds_total": {k: round(v, 1) for k, v in times.items()},
                "notes": notes,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
