"""Training a stylizer for one style image (``artgan train-stylizer``, ``artgan stylize``).

One step: G turns ``batch`` random crops of content images (plus fresh noise) into
stylized crops; a multi-scale patch D compares them with random crops of the style image;
G also pays a content loss, L1 between the *blurred luminance* of its output and of its
input (by default each minus its own mean), so the photo's light-and-dark layout
survives while color, overall brightness and fine texture are free to take the style. No
pretrained network anywhere.

Before any of that, with ``StylizerConfig.palette`` (default), the content images are
recolored onto the style's color distribution in closed form (``models.palette``), once
per whole image, as inference does; G learns the brushwork on top of that palette.

Content images: the photos given by the user, or, with none, the bundled procedural
paintings plus grey, color-shifted crops of the style image itself (so G learns to
repaint arbitrary colors and shapes into the style).

Run folder layout as for textures: ``model/`` (config.json with task "stylize", weights,
``style.png``, training state), ``stats.jsonl``, ``preview.png``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F

from ..config import (
    FORMAT_VERSION,
    REMOVED_STYLIZER_KEYS,
    ConfigError,
    StylizerConfig,
    stylizer_config_from_dict,
    to_dict,
)
from ..data.crops import random_crops
from ..imaging import fit_long_side, load_image, make_grid, pil_to_tensor, png_bytes, save_png
from ..losses import multiscale_d_loss, multiscale_g_loss, patch_nce, patch_swd
from ..metrics.style import content_ssim, edge_f1, luminance, style_distance
from ..models.stylenet import MEMORY_FORMAT, PatchProjector, StyleNet, stylize_image
from ..models.texgan import MultiScaleDiscriminator
from .checkpoint import (
    load_state,
    load_weights,
    parse_section,
    pixels_key,
    read_task_config,
    resolve_run_model,
    write_folder,
)
from .console import say, stop_on_signals
from .device import cpu_copy, inputs_follow, resolve_device
from .ema import ema_beta, update_ema
from .memory import keep_freed_memory
from .rundir import truncate_stats
from .ticker import Ticker

TASK = "stylize"
MODEL_DIR = "model"
R1_INTERVAL = 4
# Channels-last memory for G, D and their inputs, as in the GAN loop. The gain is small
# and hard to see on a shared 2-core machine (benchmarks/stylizer_speed.py, 2026-12-01:
# training steps/s 1.39x, 1.04x and 0.99x in three runs; one step, alternated with the
# contiguous layout step by step, 543 vs 613 ms; inference 1.02-1.14x at 256-1024 px).
CL = MEMORY_FORMAT  # the loop's; models.stylenet.MEMORY_FORMAT is inference's


def _shrink(img: torch.Tensor, side: int) -> torch.Tensor:
    return fit_long_side(img, side) if max(img.shape[-2:]) > side else img


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), reflect-padded."""
    r = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _retone(x: torch.Tensor, tone: str) -> torch.Tensor:
    """Per image (B, 1, H, W): as is (``keep``), minus its mean (``brightness``), or
    standardised to zero mean and unit deviation (``free``)."""
    if tone == "keep":
        return x
    x = x - x.mean(dim=(1, 2, 3), keepdim=True)
    return x if tone == "brightness" else x / x.std(dim=(1, 2, 3), keepdim=True).clamp_min(0.05)


def content_loss(out: torch.Tensor, src: torch.Tensor, sigma: float, tone: str = "keep") -> torch.Tensor:
    """L1 between the blurred luminance of ``out`` and ``src`` (B, 3, H, W). ``tone`` says
    what the output may change freely: nothing (``keep``), its overall brightness
    (``brightness``), or brightness and contrast (``free``); the layout is kept in all."""
    a, b = _gaussian_blur(luminance(out), sigma), _gaussian_blur(luminance(src), sigma)
    return (_retone(a, tone) - _retone(b, tone)).abs().mean()


def generic_contents(style: torch.Tensor, n: int = 16, size: int = 256) -> list[torch.Tensor]:
    """Content images for training without photos: procedural paintings (shapes, skies,
    strokes) and the style image in grey. Color shifts are added per crop in training."""
    from ..data.procedural import draw_artwork

    out = [pil_to_tensor(draw_artwork(seed, size)) for seed in range(n)]
    grey = luminance(style[None])[0].expand(3, -1, -1).contiguous()
    return out + [grey]


def _color_shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random per-crop channel gains and offsets (B, 3, H, W): content of any color."""
    b = x.shape[0]
    gain = 0.6 + 0.8 * torch.rand(b, 3, 1, 1, generator=gen)
    shift = 0.4 * (torch.rand(b, 3, 1, 1, generator=gen) - 0.5)
    return (x * gain + shift).clamp(-1, 1)


def stylizer_key(style: torch.Tensor, contents: Sequence[torch.Tensor], cfg: StylizerConfig) -> str:
    """Hash of the style pixels, the content pixels and every training setting: the cache key."""
    return pixels_key([style, *contents], cfg)


def read_stylizer_config(folder: Path) -> tuple[StylizerConfig, dict[str, Any]]:
    """(StylizerConfig, raw dict) of a stylizer model folder, with errors that say what is wrong."""
    raw = read_task_config(folder, TASK, "stylizer", "artgan train-stylizer --style PAINTING --out RUN")
    return parse_section(folder, raw, "stylizer", stylizer_config_from_dict), raw


def resolve_stylizer_folder(path: str | os.PathLike) -> Path:
    """The stylizer model folder meant by ``path``: a model folder or a run folder holding one."""
    return resolve_run_model(path, MODEL_DIR, "stylizer", "train-stylizer")


# Healthy stylizers keep edge F1 above ~0.65 and content SSIM above ~0.6 in the benchmarks;
# the collapsed ones (lr 5e-4, 2026-12-01) fell to edge F1 0.0 (a white image) or to SSIM
# 0.15 (saturated blobs, edge F1 0.28).
COLLAPSE_EDGE_F1 = 0.2
COLLAPSE_SSIM = 0.3
# Output luminance contrast over the photo's. Healthy stylizers: 0.7-1.6 per photo; the
# Kandinsky run that went white (lr 5e-4, 2026-12-01): 0.00, while its SSIM (0.36) and
# edge F1 (0.33, edges are the top 10% of gradients, however faint) still passed.
COLLAPSE_CONTRAST = 0.1
HEALTH_SECONDS = 20.0  # how often training checks that G_ema still keeps the photos' structure


def _nce(
    G: StyleNet,
    proj: PatchProjector,
    x_feats: list[torch.Tensor],
    y: torch.Tensor,
    noise: torch.Tensor | None,
    n: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """PatchNCE between the input's encoder maps and the output's, averaged over maps."""
    places = proj.places(x_feats, n, gen)
    keys = proj([f.detach() for f in x_feats], places)
    queries = proj(G.encode(y, noise), places)
    # A sum of tensors (one per encoder map, never none), so a tensor; sum() types it as maybe 0.
    total = cast(torch.Tensor, sum(patch_nce(q, k) for q, k in zip(queries, keys)))
    return total / len(keys)


def _as_list(styles: torch.Tensor | Sequence[torch.Tensor] | None) -> list[torch.Tensor]:
    if styles is None:
        return []
    if isinstance(styles, torch.Tensor):
        return [styles] if styles.dim() == 3 else list(styles)
    return list(styles)


def train_stylizer(
    style: torch.Tensor | Sequence[torch.Tensor] | None,
    contents: Sequence[torch.Tensor],
    cfg: StylizerConfig,
    out: str | Path,
    *,
    name: str = "style",
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> Path:
    """Train a stylizer for ``style``: one image (3, H, W) in [-1, 1], or a collection of
    them (a translator: D judges crops of any of them), on ``contents`` (each (3, h, w);
    empty = generic content). Returns the model folder. ``resume`` continues the run in
    ``out``: its config wins, and a one-image run's saved style is used; a collection
    must be given again. ``device``: cpu (default), auto, cuda, cuda:N or mps; training is
    float32 in one process (crops are drawn on the CPU and moved)."""
    dev = resolve_device(device)
    run = Path(out)
    state: dict[str, Any] | None = None
    styles = _as_list(style)
    if resume:
        folder = resolve_stylizer_folder(run)
        saved, raw = read_stylizer_config(folder)
        for key, off in REMOVED_STYLIZER_KEYS.items():
            value = raw["stylizer"].get(key)
            if value not in off:  # the recipe cannot be reproduced; the model still stylizes
                raise ConfigError(
                    f"{folder / 'config.json'}: this stylizer was trained with the option `{key}` "
                    f"({json.dumps(value)}), removed in artgan 0.2.0; it still stylizes, but its "
                    "training cannot be resumed (train a new one, or use artgan 0.1.x to resume it)"
                )
        cfg = replace(saved, minutes=cfg.minutes, steps=cfg.steps or saved.steps, threads=cfg.threads)
        if (folder / "style.png").is_file():
            styles = [pil_to_tensor(load_image(folder / "style.png"))]
        elif not styles:
            raise ValueError(f"{run} was trained on a collection of style images: give them again to resume")
        name = raw.get("style", {}).get("name", name)
        state = load_state(folder)
    if not styles:
        raise ValueError("no style image given (only a resumed run may omit it)")
    cfg.validate()
    terms = cfg.content_terms()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    keep_freed_memory()

    def fit(img: torch.Tensor) -> torch.Tensor:
        img = _shrink(img, cfg.train_side)
        if min(img.shape[-2:]) < cfg.crop:  # too small for a crop: scale up to just fit one
            img = fit_long_side(img, max(img.shape[-2:]) * cfg.crop // min(img.shape[-2:]) + 1)
        return img

    styles = [fit(s) for s in styles]
    user_contents = [_shrink(c, cfg.train_side) for c in contents]
    pool = [fit(c) for c in (user_contents or generic_contents(styles[0]))]
    if not resume and (run / MODEL_DIR).exists():
        raise ValueError(f"{run} already holds a stylizer run; continue it with --resume or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    if state is not None:
        truncate_stats(run / "stats.jsonl", int(state["step"]))

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    G = StyleNet(cfg)
    if G.palette is not None:
        # Recolor whole content images once, as inference does before tiling; generic
        # content is color-shifted per crop, so it is recolored per crop below.
        G.palette.fit(styles)
        if user_contents:
            pool = [G.recolor(c[None])[0] for c in pool]
    D = MultiScaleDiscriminator(cfg.d_width, cfg.crop)
    modules: dict[str, torch.nn.Module] = {"G": G, "D": D}
    proj: PatchProjector | None = None
    if "nce" in terms:
        proj = modules["P"] = PatchProjector(G.feature_channels())
    if "cycle" in terms:  # the way back: painting -> photo, judged by a photo discriminator
        modules["G_back"] = StyleNet(replace(cfg, palette="none"))
        modules["D_back"] = MultiScaleDiscriminator(cfg.d_width, cfg.crop)
    for m in modules.values():  # in place; memory_format= is valid at runtime but not in torch's stubs
        inputs_follow(m, dev).to(memory_format=CL)  # type: ignore[call-overload]
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    g_params = [p for k, m in modules.items() if not k.startswith("D") for p in m.parameters()]
    d_params = [p for k, m in modules.items() if k.startswith("D") for p in m.parameters()]
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(d_params, lr=cfg.lr_d or cfg.lr, betas=(0.5, 0.99))
    step, seconds = 0, 0.0
    if state is not None:
        folder = resolve_stylizer_folder(run)
        for key, module in [*modules.items(), ("G_ema", G_ema)]:
            load_weights(module, folder / f"{key}.safetensors", dev)
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        step, seconds = int(state["step"]), float(state["seconds"])

    one_style = len(styles) == 1
    style_png = png_bytes(styles[0]) if one_style else b""
    digest = hashlib.sha256()
    for s in styles:
        digest.update(png_bytes(s) if not one_style else style_png)
    meta = {
        "name": name,
        "images": len(styles),
        "size": list(styles[0].shape[-2:]),
        "sha256": digest.hexdigest(),
        "contents": len(user_contents),
    }

    def save(total_seconds: float, final: bool = False, quality: dict[str, Any] | None = None) -> Path:
        config: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "task": TASK,
            "stylizer": to_dict(cfg),
            "style": meta,
            "step": step,
            "seconds": round(total_seconds, 1),
            "complete": final,
        }
        if quality:
            config["quality"] = quality
        st = {
            "step": step,
            "seconds": total_seconds,
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "gen": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        return write_folder(
            run / MODEL_DIR,
            config=config,
            modules={"G_ema": G_ema, **modules},
            state=st,
            files={"style.png": style_png} if one_style else {},
        )

    def real_crops(n: int) -> torch.Tensor:
        idx = torch.randint(len(styles), (n,), generator=gen).tolist()
        return torch.cat([random_crops(styles[i], 1, cfg.crop, gen) for i in idx])

    def flip(t: torch.Tensor) -> torch.Tensor:
        mask = (torch.rand(t.shape[0], generator=gen) < 0.5).view(-1, 1, 1, 1).to(t.device)
        return torch.where(mask, t.flip(-1), t)

    evals = (user_contents or generic_contents(styles[0], n=4))[:4]
    checks = [fit_long_side(c, 256, multiple=4) for c in evals]
    # The last G_ema that passed the health check: what training falls back to if G_ema
    # has collapsed by the end (a too-high learning rate can turn it into one flat color).
    healthy: dict[str, Any] = {}
    last_check = 0.0

    budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    what = name if one_style else f"{name} ({len(styles)} style images)"
    say(
        f"training a stylizer for {what}: {len(user_contents) or 'generic'} content image(s), crops {cfg.crop} px, "
        f"content kept by {cfg.content}"
        + (f" (tone {cfg.tone})" if "luma" in terms else "")
        + ", "
        + (f"{cfg.minutes:g} min" if cfg.minutes else f"{cfg.steps} steps")
        + (f" (resuming at step {step})" if step else "")
    )
    names = ["loss/D", "loss/G_adv", *(f"loss/{t}" for t in terms)]
    if cfg.style_weight:
        names.append("loss/swd")
    reason = "budget reached"
    with Ticker(run / "stats.jsonl", names, budget, seconds, save, progress) as ticker:
        with stop_on_signals() as flag:
            while ticker.elapsed() < budget and (cfg.steps is None or step < cfg.steps):
                if flag["stop"]:
                    reason = f"stopped by {flag['stop']}"
                    break
                idx = torch.randint(len(pool), (cfg.batch,), generator=gen).tolist()
                x = torch.cat([random_crops(pool[i], 1, cfg.crop, gen) for i in idx])
                if not user_contents:
                    x = G.recolor(_color_shift(x, gen).to(dev))
                x = flip(x.to(dev)).contiguous(memory_format=CL)
                real = flip(real_crops(cfg.batch).to(dev)).contiguous(memory_format=CL)
                noise = G.make_noise(cfg.batch, cfg.crop, cfg.crop, gen)
                noise = None if noise is None else noise.to(dev)
                y, x_feats = G(x, noise, return_features=True)
                gamma = cfg.r1_gamma if step % R1_INTERVAL == 0 else 0.0  # lazy R1: one D step in R1_INTERVAL
                loss_d, _ = multiscale_d_loss(D, real, y, cfg.loss, r1_gamma=gamma, r1_interval=R1_INTERVAL)
                if "cycle" in terms:
                    back = modules["G_back"](real, noise)  # painting -> photo
                    back_d, _ = multiscale_d_loss(
                        modules["D_back"], x, back, cfg.loss, r1_gamma=gamma, r1_interval=R1_INTERVAL
                    )
                    loss_d = loss_d + back_d
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()

                for param in d_params:
                    param.requires_grad_(False)
                adv = multiscale_g_loss(D, y, cfg.loss)
                parts = []
                for t in terms:
                    if t == "luma":
                        parts.append(cfg.content_weight * content_loss(y, x, cfg.content_blur, cfg.tone))
                    elif t == "nce":
                        assert proj is not None  # built above whenever "nce" is a term
                        parts.append(cfg.nce_weight * _nce(G, proj, x_feats, y, noise, cfg.nce_places, gen))
                    else:  # cycle: both ways round, and the way back must fool the photo critic
                        Gb = modules["G_back"]
                        adv = adv + multiscale_g_loss(modules["D_back"], back, cfg.loss)
                        parts.append(
                            cfg.cycle_weight
                            * ((Gb(y, noise) - x).abs().mean() + (G(back, noise) - real.detach()).abs().mean())
                        )
                loss_g = adv + sum(parts)
                if cfg.style_weight:
                    style_term = patch_swd(y, real, gen)
                    loss_g = loss_g + cfg.style_weight * style_term
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                for param in d_params:
                    param.requires_grad_(True)
                # Half-life in steps, at most 30% of the run so far (early averages are not stale).
                update_ema(G_ema, G, ema_beta(1, step, cfg.ema_steps / 1000, 0.3))
                step += 1
                if ticker.elapsed() - last_check >= HEALTH_SECONDS:
                    h = health(cpu_copy(G_ema), checks)
                    if is_healthy(h):
                        healthy = {"step": step, "weights": {k: v.clone() for k, v in G_ema.state_dict().items()}, **h}
                    last_check = ticker.elapsed()

                logged = [loss_d.detach(), adv.detach(), *(p.detach() for p in parts)]
                if cfg.style_weight:
                    logged.append(style_term.detach())
                ticker.tick(step, torch.stack(logged))
        seconds += ticker.elapsed()

    quality: dict[str, Any] = measure(cpu_copy(G_ema), styles[:4], evals)  # then also rolled_back, warning
    problems = collapse_problems(quality)
    if problems and healthy:
        # Only G_ema goes back: G, D and the optimisers keep their live (collapsed) state, so
        # a resumed run continues from there, not from the healthy step.
        say(
            f"at step {step} G_ema looks collapsed ({' and '.join(problems)}); "
            f"going back to its last healthy state, step {healthy['step']}"
        )
        G_ema.load_state_dict(healthy["weights"])
        rolled = {"from_step": step, "to_step": healthy["step"]}
        quality = {**measure(cpu_copy(G_ema), styles[:4], evals), "rolled_back": rolled}
    warning = collapse_warning(quality)
    if warning:
        quality["warning"] = warning
    # Only a run that used its whole budget is "complete" (the cache reuses complete runs).
    folder = save(seconds, final=reason == "budget reached", quality=quality)
    write_preview(cpu_copy(G_ema), evals, run / "preview.png")
    say(
        f"{reason}: {step} steps in {seconds / 60:.1f} min. Style distance {quality['style_distance']:.1f} "
        f"(unstylized {quality['style_distance_input']:.1f}), content SSIM {quality['content_ssim']:.2f}, "
        f"edge F1 {quality['edge_f1']:.2f}. Model: {folder}"
    )
    if warning:
        say(f"warning: {warning}")
    return folder


def collapse_problems(quality: dict[str, float]) -> list[str]:
    """What looks broken in a stylizer's figures (from :func:`measure`); empty if nothing.

    Seen in practice (lr 5e-4 for 5 minutes): a G that collapsed to one flat color or to
    saturated blobs, which is further from the style than the photo and keeps little of its
    structure.
    """
    problems = []
    # The style test needs the style distance, which :func:`health` does not compute.
    if "style_distance" in quality and quality["style_distance"] >= quality["style_distance_input"]:
        problems.append(
            f"its outputs are further from the style ({quality['style_distance']:.0f}) "
            f"than the unstylized photos ({quality['style_distance_input']:.0f})"
        )
    if quality["edge_f1"] < COLLAPSE_EDGE_F1:
        problems.append(f"it keeps almost none of the photos' edges (edge F1 {quality['edge_f1']:.2f})")
    if quality["content_ssim"] < COLLAPSE_SSIM:
        problems.append(f"it keeps little of the photos' structure (content SSIM {quality['content_ssim']:.2f})")
    if quality.get("contrast", 1.0) < COLLAPSE_CONTRAST:
        problems.append(f"its outputs are nearly flat ({quality['contrast']:.2f} of the photos' contrast)")
    return problems


def collapse_warning(quality: dict[str, float]) -> str | None:
    """The warning to print and save for a stylizer whose figures look collapsed, or None."""
    problems = collapse_problems(quality)
    if not problems:
        return None
    return (
        "training may have collapsed: "
        + " and ".join(problems)
        + ". Look at preview.png; retrain with a lower learning rate (StylizerConfig.lr, default 2e-4) "
        "or another training seed."
    )


@torch.no_grad()
def health(G: StyleNet, contents: Sequence[torch.Tensor]) -> dict[str, float]:
    """Mean content SSIM, edge F1 and contrast of ``G`` on ``contents`` (each (3, h, w),
    already at the size to check): the cheap half of :func:`measure` (no style distance),
    fast enough to run during training."""
    rows = [(content_ssim(y, c), edge_f1(y, c), contrast(y, c)) for c in contents for y in [stylize_image(G, c)]]
    return {k: sum(r[i] for r in rows) / len(rows) for i, k in enumerate(("content_ssim", "edge_f1", "contrast"))}


def contrast(output: torch.Tensor, content: torch.Tensor) -> float:
    """Luminance standard deviation of ``output`` over that of ``content`` (3, H, W)."""
    return float(luminance(output[None]).std() / luminance(content[None]).std().clamp_min(1e-6))


def is_healthy(h: dict[str, float]) -> bool:
    """Whether :func:`health` figures look like a stylizer rather than a collapsed G."""
    return not collapse_problems(h)


@torch.no_grad()
def measure_each(
    G: StyleNet,
    style: torch.Tensor | Sequence[torch.Tensor],
    contents: Sequence[torch.Tensor],
    side: int = 256,
    n: int = 128,
) -> list[dict[str, float]]:
    """Per content image (scaled to ``side`` px on its longer side): style distance of the
    output and of the unstylized input to the style (``n`` crops a side; for several style
    images, the mean over them), their ratio, content SSIM and edge F1."""
    styles = _as_list(style)
    rows = []
    for c in contents:
        c = fit_long_side(c, side, multiple=4)
        y = stylize_image(G, c)
        out = inp = 0.0
        for s in styles:
            patch = min(64, *c.shape[-2:], *s.shape[-2:])
            out += style_distance(y, s, patch=patch, n=n) / len(styles)
            inp += style_distance(c, s, patch=patch, n=n) / len(styles)
        rows.append(
            {
                "style_distance": out,
                "style_distance_input": inp,
                "style_ratio": out / max(inp, 1e-8),
                "content_ssim": content_ssim(y, c),
                "edge_f1": edge_f1(y, c),
                "contrast": contrast(y, c),
            }
        )
    return rows


def measure(
    G: StyleNet,
    style: torch.Tensor | Sequence[torch.Tensor],
    contents: Sequence[torch.Tensor],
    side: int = 256,
    n: int = 128,
) -> dict[str, float]:
    """The means of :func:`measure_each` over ``contents`` (``style_ratio`` is the ratio of
    the mean distances), with the image count and side."""
    rows = measure_each(G, style, contents, side, n)
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
    return {
        "style_distance": round(mean["style_distance"], 2),
        "style_distance_input": round(mean["style_distance_input"], 2),
        "style_ratio": round(mean["style_distance"] / max(mean["style_distance_input"], 1e-8), 3),
        "content_ssim": round(mean["content_ssim"], 3),
        "edge_f1": round(mean["edge_f1"], 3),
        "contrast": round(mean["contrast"], 3),
        "images": len(rows),
        "side": side,
    }


@torch.no_grad()
def write_preview(G: StyleNet, contents: Sequence[torch.Tensor], path: Path, side: int = 192) -> None:
    """Top row: content images; bottom row: the same stylized."""
    ins = [fit_long_side(c, side, multiple=4) for c in contents]
    cells = []
    for row in (ins, [stylize_image(G, c) for c in ins]):
        for t in row:
            cell = torch.zeros(3, side, side)
            cell[:, : t.shape[1], : t.shape[2]] = t[:, :side, :side]
            cells.append(cell)
    save_png(make_grid(torch.stack(cells), nrow=len(ins), pad=4), path)


__all__ = [
    "train_stylizer",
    "read_stylizer_config",
    "resolve_stylizer_folder",
    "stylizer_key",
    "collapse_problems",
    "collapse_warning",
    "health",
    "is_healthy",
    "measure",
    "measure_each",
    "content_loss",
    "MODEL_DIR",
]
