"""Frozen configuration dataclasses with validation and a JSON round trip.

``ModelConfig`` is everything needed to rebuild a network (it goes into every model
folder's ``config.json``); ``TrainConfig`` adds the recipe. Unknown keys in a file are an
error rather than silently ignored, so a typo never trains the wrong model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .families import FAMILIES

FORMAT_VERSION = 1
LOSSES = ("ns", "hinge")
AUGMENTS = ("color", "translation", "cutout", "geometric")  # every augmentation augment.py knows


class ConfigError(ValueError):
    """A configuration value that cannot work; the message says which and why.

    ``field`` names the offending field, so the CLI can name the option (``--resolution``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field, self.detail = field, message
        super().__init__(f"{field}: {message}" if field else message)


def _need(ok: bool, field: str, message: str) -> None:
    """Raise ``ConfigError(message, field)`` unless ``ok``."""
    if not ok:
        raise ConfigError(message, field)


def cli_option(
    help: str,
    group: str = "advanced",
    *,
    default_text: str | None = None,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
) -> dict[str, Any]:
    """Field metadata that makes a config field a command-line option (artgan/cli/options.py).

    ``group``: essential, budget, data, advanced or experimental (hidden unless --help-all);
    ``default_text`` replaces the field's default in the help when that default is None
    ("chosen from the data") or needs words."""
    return {"cli": {"help": help, "group": group, "default_text": default_text, "choices": choices, "metavar": metavar}}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a generator/discriminator pair.

    Channels at feature resolution ``r`` are ``min(max_width, width * resolution // r)``,
    so ``width`` is the channel count at the output resolution.
    """

    family: str = field(
        default="resgan",
        metadata=cli_option("model family (`artgan families` describes them)", "essential", choices=tuple(FAMILIES)),
    )
    resolution: int = field(
        default=64, metadata=cli_option("image size in px, a power of two in 16..1024", "essential")
    )
    # Fields left None are the family's (families.FAMILIES[family].defaults), filled in on
    # construction so every saved config.json holds concrete values.
    width: int | None = field(
        default=None,
        metadata=cli_option(
            "G's channels at full resolution: wider is slower per image", default_text="resgan 16, dcgan 32"
        ),
    )
    max_width: int = 256
    z_dim: int = 128
    d_patch: bool | None = field(
        default=None,
        metadata=cli_option(
            "D also judges every cell of its 8x8 feature map (resgan)", "experimental", default_text="the family's"
        ),
    )
    g_noise: bool | None = field(
        default=None,
        metadata=cli_option(
            "per-pixel noise inputs in G's blocks (resgan)", "experimental", default_text="the family's"
        ),
    )
    d_width: int | None = field(
        default=None,
        metadata=cli_option("D's channels at full resolution", "experimental", default_text="the same as --width"),
    )
    d_mbstd: bool | None = field(
        default=None,
        metadata=cli_option(
            "D sees how much images in a group of 4 differ (minibatch std; resgan)",
            "experimental",
            default_text="the family's",
        ),
    )

    def __post_init__(self) -> None:
        fam = FAMILIES.get(self.family)  # an unknown name is validate()'s error
        defaults = fam.defaults if fam is not None else {}
        for name, fallback in (("width", 32), ("d_patch", False), ("g_noise", False), ("d_mbstd", False)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, defaults.get(name, fallback))

    def validate(self) -> ModelConfig:
        _need(self.family in FAMILIES, "family", f"unknown family {self.family!r}; choose one of {', '.join(FAMILIES)}")
        r = self.resolution
        _need(16 <= r <= 1024 and (r & (r - 1)) == 0, "resolution", f"must be a power of two in 16..1024, got {r}")
        assert self.width is not None  # filled in by __post_init__
        _need(4 <= self.width <= self.max_width, "width", f"must be in 4..{self.max_width}, got {self.width}")
        _need(
            self.d_width is None or 4 <= self.d_width <= self.max_width,
            "d_width",
            f"must be in 4..{self.max_width}, got {self.d_width}",
        )
        _need(self.z_dim >= 1, "z_dim", f"must be positive, got {self.z_dim}")
        return self

    def channels(self, res: int) -> int:
        """Generator channel count of feature maps at spatial size ``res``."""
        assert self.width is not None
        return min(self.max_width, self.width * self.resolution // res)

    def d_channels(self, res: int) -> int:
        """Discriminator channel count at spatial size ``res`` (``d_width`` or ``width``)."""
        width = self.d_width or self.width
        assert width is not None
        return min(self.max_width, width * self.resolution // res)


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe. Budgets: ``kimg`` is a total over resumes, ``minutes`` per invocation."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: str = ""
    # Fields left None are chosen from the dataset when training starts (training/recipe.py):
    # batch, lr_g, lr_d, r1_gamma, ema_kimg, augment, augment_p, crop_size, min_scale, loss,
    # reuse_fakes.
    batch: int | None = field(
        default=None, metadata=cli_option("batch size", default_text="32 up to 64 px, 16 at 128 px, 8 above")
    )
    lr_g: float | None = field(default=None, metadata=cli_option("G's Adam learning rate", default_text="2e-4"))
    lr_d: float | None = field(
        default=None, metadata=cli_option("D's Adam learning rate", default_text="resgan 6e-4, dcgan 2e-4")
    )
    beta1: float = 0.5
    beta2: float = 0.99
    # None: the family's (families.FAMILIES[family].loss).
    loss: str | None = field(
        default=None,
        metadata=cli_option("GAN loss: non-saturating or hinge", choices=LOSSES, default_text="resgan hinge, dcgan ns"),
    )
    patch_weight: float = field(
        default=0.5,
        metadata=cli_option("share of the per-patch verdicts in the losses, 0..1 (a D with --d-patch)", "experimental"),
    )
    r1_gamma: float | None = field(
        default=None,
        metadata=cli_option(
            "R1 gradient penalty weight; 0 disables", default_text="0.1 x (resolution/64)^2 x 32/batch"
        ),
    )
    r1_interval: int = 16  # lazy regularisation: every N discriminator steps
    # None: the family's (families.FAMILIES[family].augment).
    augment: tuple[str, ...] | None = field(
        default=None,
        metadata=cli_option(
            f"what D's inputs go through: a comma list of {','.join(AUGMENTS)}, or none",
            default_text="resgan geometric,color,translation,cutout; dcgan color,translation,cutout",
            metavar="LIST",
        ),
    )
    augment_p: float | None = field(
        default=None,
        metadata=cli_option(
            "starting augmentation probability, adapted as D learns",
            "experimental",
            default_text="from the number of images",
        ),
    )
    ada_target: float = field(
        default=0.6,
        metadata=cli_option(
            "adaptive augmentation's target for D's confidence on reals; 0 = fixed probability", "experimental"
        ),
    )
    ada_kimg: float = 5.0  # images for p to move by 1.0
    ema_kimg: float | None = field(
        default=None, metadata=cli_option("half-life of the averaged generator, in kimg", default_text="2 x batch/32")
    )
    ema_rampup: float = 0.05  # half-life <= rampup * images seen, so early samples are not stale
    kimg: float | None = field(
        default=None,
        metadata=cli_option(
            "total budget in thousands of images seen, over all resumes", "essential", default_text="none"
        ),
    )
    minutes: float | None = field(
        default=None,
        metadata=cli_option(
            "wall-clock budget of this invocation, final checkpoint included",
            "essential",
            default_text="30 when --kimg is not given",
        ),
    )
    seed: int = field(default=0, metadata=cli_option("training seed", "essential"))
    crop_size: int | None = field(
        default=None,
        metadata=cli_option(
            "patch mode: random crops of about this many source px; 0 = whole images",
            "data",
            default_text="patch mode for 4 images or fewer",
        ),
    )
    min_scale: float | None = field(
        default=None,
        metadata=cli_option(
            "smallest random crop as a share of the shorter side",
            "data",
            default_text="1 for whole images, 0.6 in patch mode",
        ),
    )
    max_pixels: int = 64_000_000
    min_images: int = 1
    snapshot_kimg: float = field(default=2.0, metadata=cli_option("sample grid every N kimg", "budget"))
    checkpoint_kimg: float = field(default=4.0, metadata=cli_option("checkpoint every N kimg", "budget"))
    keep_checkpoints: int = 3
    metric_kimg: float = field(
        default=4.0, metadata=cli_option("measure SWD every N kimg and keep checkpoints/best; 0 = off", "budget")
    )
    metric_n: int = 256  # images per side for that SWD
    patience: int = field(
        default=0, metadata=cli_option("stop after N SWD measurements without a new best; 0 = never", "budget")
    )
    log_seconds: float = 10.0  # stats.jsonl / TensorBoard interval
    grid: int = 8  # the sample grid is grid x grid images from fixed seeds
    # G's step reuses the D step's fakes: one G forward per iteration, not two. None: the
    # family's choice (families.FAMILIES[family].reuse_fakes; on for resgan, off for dcgan).
    reuse_fakes: bool | None = field(
        default=None,
        metadata=cli_option(
            "G's step reuses the fakes D just judged (faster)", "experimental", default_text="the family's"
        ),
    )
    threads: int | None = field(
        default=None, metadata=cli_option("CPU threads for torch", "budget", default_text="torch's choice")
    )

    @property
    def patch_mode(self) -> bool:
        return bool(self.crop_size)

    def validate(self) -> TrainConfig:
        self.model.validate()
        _need(self.batch is None or self.batch >= 2, "batch", f"must be at least 2, got {self.batch}")
        _need(
            self.loss is None or self.loss in LOSSES, "loss", f"must be one of {', '.join(LOSSES)}, got {self.loss!r}"
        )
        _need(0.0 <= self.patch_weight <= 1.0, "patch_weight", f"must be in [0, 1], got {self.patch_weight}")
        bad = [a for a in self.augment or () if a not in AUGMENTS]
        _need(not bad, "augment", f"unknown augmentation {', '.join(bad)}; choose from {', '.join(AUGMENTS)} or none")
        _need(
            self.augment_p is None or 0.0 <= self.augment_p <= 1.0,
            "augment_p",
            f"must be in [0, 1], got {self.augment_p}",
        )
        _need(0.0 <= self.ada_target < 1.0, "ada_target", f"must be in [0, 1), got {self.ada_target}")
        for name in ("kimg", "minutes", "lr_g", "lr_d", "ema_kimg", "snapshot_kimg", "checkpoint_kimg", "ada_kimg"):
            v = getattr(self, name)  # None: no budget of that kind, or chosen from the data
            _need(v is None or (v > 0 and math.isfinite(v)), name, f"must be a positive number, got {v}")
        _need(
            self.crop_size is None or self.crop_size == 0 or self.crop_size >= 8,
            "crop_size",
            f"must be at least 8 px (or 0 for whole-image crops), got {self.crop_size}",
        )
        _need(
            self.min_scale is None or 0.05 <= self.min_scale <= 1.0,
            "min_scale",
            f"must be in [0.05, 1], got {self.min_scale}",
        )
        _need(
            0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0,
            "beta1",
            f"Adam's betas must be in [0, 1), got {self.beta1}, {self.beta2}",
        )
        _need(0.0 <= self.ema_rampup <= 10.0, "ema_rampup", f"must be in [0, 10], got {self.ema_rampup}")
        _need((self.r1_gamma or 0) >= 0, "r1_gamma", f"must be >= 0, got {self.r1_gamma}")
        _need(self.r1_interval >= 1, "r1_interval", f"must be >= 1, got {self.r1_interval}")
        _need(
            self.metric_kimg >= 0 and math.isfinite(self.metric_kimg),
            "metric_kimg",
            f"must be >= 0 (0 disables the quality metric), got {self.metric_kimg}",
        )
        _need(self.metric_n >= 16, "metric_n", f"must be at least 16, got {self.metric_n}")
        _need(self.patience >= 0, "patience", f"must be >= 0 (0 never stops early), got {self.patience}")
        _need(self.keep_checkpoints >= 1, "keep_checkpoints", f"must be at least 1, got {self.keep_checkpoints}")
        _need(self.threads is None or self.threads >= 1, "threads", f"must be at least 1, got {self.threads}")
        return self


@dataclass(frozen=True)
class TextureConfig:
    """A single-exemplar texture model (models/texgan.py) and the recipe that trains it.

    The generator turns a grid of noise, one cell per ``2**levels`` output pixels, into
    an image; it is fully convolutional with wrap-around padding, so any size works and
    every output tiles. Fields left 0/None are chosen from the exemplar at training time.
    """

    width: int = 16  # G channels at the output resolution, doubled per coarser level
    max_width: int = 128
    levels: int = 3  # 2x upsamplings after the noise grid (a noise cell is 2**levels px)
    z_ch: int = 32  # noise channels per cell of the coarsest grid
    d_width: int = 32  # channels of each patch discriminator's first layer
    patch: int = field(
        default=0,
        metadata=cli_option("D's crop side in exemplar px, a multiple of 8", default_text="half the exemplar, 32-96"),
    )
    scales: int = 0  # discriminators on 1, 1/2, 1/4 ... of the crop; 0: every scale >= 16 px
    batch: int = 4  # generated canvases per step
    crops: int = 4  # wrapped crops D sees from each canvas
    lr: float = 2e-4
    r1_gamma: float = 1.0
    ema_steps: float = 50.0  # EMA half-life in steps
    minutes: float | None = field(default=3.0, metadata=cli_option("training time in minutes", "budget"))
    # Whichever of minutes/steps comes first ends training.
    steps: int | None = field(
        default=None, metadata=cli_option("stop after this many training steps instead", "budget")
    )
    seed: int = field(default=0, metadata=cli_option("training seed", "essential"))
    threads: int | None = field(
        default=None, metadata=cli_option("CPU threads for torch", "budget", default_text="torch's choice")
    )

    def validate(self) -> TextureConfig:
        if self.width < 4 or self.max_width < self.width:
            raise ConfigError("width must be >= 4 and max_width >= width")
        if not 1 <= self.levels <= 5:
            raise ConfigError("levels must be in 1..5")
        if self.z_ch < 1 or self.d_width < 4:
            raise ConfigError("z_ch must be >= 1 and d_width >= 4")
        _need(
            not self.patch or (self.patch >= 16 and self.patch % 8 == 0),
            "patch",
            f"must be a multiple of 8, at least 16 (or 0 to choose it from the exemplar), got {self.patch}",
        )
        if self.scales < 0 or self.batch < 1 or self.crops < 1:
            raise ConfigError("scales must be >= 0, batch and crops >= 1")
        for name in ("lr", "ema_steps"):
            v = getattr(self, name)
            if not v > 0 or not math.isfinite(v):
                raise ConfigError(f"{name} must be a positive number")
        if self.r1_gamma < 0:
            raise ConfigError("r1_gamma must be >= 0")
        _budget(self.minutes, self.steps, self.threads)
        return self

    def channels(self, level: int) -> int:
        """G channels at ``level`` (0 = the noise grid, ``levels`` = the output)."""
        return min(self.max_width, self.width * 2 ** (self.levels - level))


def _budget(minutes: float | None, steps: int | None, threads: int | None) -> None:
    """The checks every minutes-or-steps recipe shares."""
    _need(minutes is not None or steps is not None, "minutes", "give a training budget: minutes or steps")
    _need(minutes is None or (minutes > 0 and math.isfinite(minutes)), "minutes", f"must be positive, got {minutes}")
    _need(steps is None or steps >= 1, "steps", f"must be at least 1, got {steps}")
    _need(threads is None or threads >= 1, "threads", f"must be at least 1, got {threads}")


@dataclass(frozen=True)
class RestoreConfig:
    """An inpainter for one painting (models/inpaint.py) and the recipe that trains it.

    G fills holes from (masked image, mask); it learns on crops of the painting itself
    with synthetic holes, cracks and scratches (data/damage.py), by an L1 reconstruction
    loss plus a patch D that judges the filled crops.
    """

    width: int = 16  # G channels at full resolution (x2, x4 after its two downsamplings)
    d_width: int = 24
    crop: int = 96  # training crop side, px, a multiple of 8 (smaller images: their short side)
    batch: int = 4
    hole: int = field(default=48, metadata=cli_option("largest synthetic hole in training, px"))
    lr: float = 3e-4
    adv_weight: float = 0.02  # weight of D's verdict beside the L1 loss on the hole
    valid_weight: float = 0.2  # L1 weight on the pixels G was shown (keeps them faithful)
    ema_steps: float = 50.0  # EMA half-life in steps
    minutes: float | None = field(default=3.0, metadata=cli_option("training time in minutes", "budget"))
    # Whichever of minutes/steps comes first ends training.
    steps: int | None = field(
        default=None, metadata=cli_option("stop after this many training steps instead", "budget")
    )
    seed: int = field(default=0, metadata=cli_option("training seed", "essential"))
    threads: int | None = field(
        default=None, metadata=cli_option("CPU threads for torch", "budget", default_text="torch's choice")
    )

    def validate(self) -> RestoreConfig:
        _need(self.width >= 4 and self.d_width >= 4, "width", "width and d_width must be >= 4")
        _need(self.crop >= 32 and self.crop % 8 == 0, "crop", f"must be a multiple of 8, at least 32, got {self.crop}")
        _need(self.batch >= 1, "batch", f"must be at least 1, got {self.batch}")
        _need(4 <= self.hole <= 256, "hole", f"must be in 4..256 px, got {self.hole}")
        for name in ("lr", "ema_steps"):
            v = getattr(self, name)
            _need(v > 0 and math.isfinite(v), name, "must be a positive number")
        for name in ("adv_weight", "valid_weight"):
            _need(getattr(self, name) >= 0, name, "must be >= 0")
        _budget(self.minutes, self.steps, self.threads)
        return self


CONTENT_TERMS = ("luma", "nce", "cycle")
TONES = ("keep", "brightness", "free")  # what of the photo's tone the luma term leaves free
PALETTES = ("none", "linear", "histogram")  # how a stylizer recolors a photo before G (models/palette.py)


@dataclass(frozen=True)
class StylizerConfig:
    """A feed-forward stylizer for one style image (models/stylenet.py) and its recipe.

    The photo is first recolored onto the style's palette in closed form (``palette``);
    G maps it (and a few channels of noise) to the same photo in the style; a
    multi-scale patch D compares its outputs with crops of the style image; a content loss
    on blurred luminance, its per-image mean removed, keeps the photo's light-and-dark
    layout while leaving color, overall brightness and brushwork to the style.
    """

    width: int = 16  # G channels at full resolution (x2, x4 after its two downsamplings)
    res_blocks: int = 4  # residual blocks at 1/4 resolution
    noise: int = 2  # channels of per-pixel noise G paints brushwork from (0: none)
    d_width: int = 32
    crop: int = 128  # training crops of content and style images, px (D sees whole crops)
    batch: int = 4
    lr: float = 2e-4
    lr_d: float | None = None  # D's own learning rate (two time-scale update rule); None: lr
    loss: str = "ns"  # GAN loss: "ns" (non-saturating) or "hinge"
    r1_gamma: float = 1.0
    # What keeps the photo's content, '+'-joined: "luma" (L1 on blurred luminance), "nce"
    # (PatchNCE on G's own encoder features, as in CUT), "cycle" (a second generator maps
    # the result back to the photo, as in CycleGAN; doubles the cost).
    content: str = "luma"
    # Weight of the luma term vs the adversarial one: higher keeps more of the photo and takes
    # less style (screens in docs/benchmarks/stylize.md).
    content_weight: float = 2.0
    content_blur: float = 2.0  # sigma (px) of that blur: finer detail is the style's to repaint
    # What of the photo's tone the luma term leaves to the style: "keep" (nothing),
    # "brightness" (the overall level), "free" (level and contrast).
    tone: str = "brightness"
    # A direct style term: sliced Wasserstein distance between the raw RGB patches (5x5, three
    # pyramid levels) of G's outputs and of the style crops (losses.patch_swd). D alone learns
    # the style slowly; this gives G a dense signal from the first step (docs/benchmarks/stylize.md).
    style_weight: float = field(
        default=60.0,
        metadata=cli_option(
            "weight of the direct style term: higher takes more of the painting's colors and texture; 0 = off"
        ),
    )
    # Recolor each photo onto the style's palette in closed form before G paints it
    # (models/palette.py): "histogram" (mean, covariance and the distribution along each
    # color axis), "linear" (mean and covariance only) or "none" (G learns the colors).
    palette: str = field(
        default="histogram",
        metadata=cli_option(
            "recolor each photo onto the painting's colors first: the whole color distribution (histogram), "
            "mean and spread only (linear, gentler), or not at all (none)",
            choices=PALETTES,
        ),
    )
    nce_weight: float = 1.0
    nce_places: int = 128  # sampled places per encoder map
    cycle_weight: float = 10.0
    ema_steps: float = 50.0
    train_side: int = 512  # images are scaled so their longer side is at most this for training
    minutes: float | None = field(default=5.0, metadata=cli_option("training time in minutes", "budget"))
    steps: int | None = field(
        default=None, metadata=cli_option("stop after this many training steps instead", "budget")
    )
    seed: int = field(default=0, metadata=cli_option("training seed", "essential"))
    threads: int | None = field(
        default=None, metadata=cli_option("CPU threads for torch", "budget", default_text="torch's choice")
    )

    def content_terms(self) -> list[str]:
        return [t for t in self.content.split("+") if t]

    def validate(self) -> StylizerConfig:
        if self.width < 4 or self.res_blocks < 0 or self.d_width < 4 or self.noise < 0:
            raise ConfigError("width >= 4, res_blocks >= 0, noise >= 0 and d_width >= 4 are required")
        if self.crop < 16 or self.crop % 4:
            raise ConfigError("crop must be >= 16 px and a multiple of 4")
        _need(
            self.style_weight >= 0 and math.isfinite(self.style_weight),
            "style_weight",
            f"must be >= 0, got {self.style_weight}",
        )
        for name in ("lr", "ema_steps", "content_blur", "lr_d"):
            v = getattr(self, name)
            if v is None and name == "lr_d":
                continue
            if not v > 0 or not math.isfinite(v):
                raise ConfigError(f"{name} must be a positive number")
        if (
            self.r1_gamma < 0
            or self.content_weight < 0
            or self.nce_weight < 0
            or self.cycle_weight < 0
            or self.batch < 1
        ):
            raise ConfigError("r1_gamma and the content weights must be >= 0, batch >= 1")
        parts = self.content_terms()
        if not parts or set(parts) - set(CONTENT_TERMS):
            raise ConfigError(f"content must join some of {', '.join(CONTENT_TERMS)} with '+', got {self.content!r}")
        if self.palette not in PALETTES:
            raise ConfigError(f"palette must be one of {', '.join(PALETTES)}, got {self.palette!r}")
        if self.tone not in TONES:
            raise ConfigError(f"tone must be one of {', '.join(TONES)}, got {self.tone!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.nce_places < 2:
            raise ConfigError("nce_places must be >= 2")
        if self.train_side < self.crop:
            raise ConfigError("train_side must be at least crop")
        if self.minutes is None and self.steps is None:
            raise ConfigError("give a training budget: minutes or steps")
        if (self.minutes is not None and not self.minutes > 0) or (self.steps is not None and self.steps < 1):
            raise ConfigError("minutes and steps must be positive")
        return self


def to_dict(cfg: Any) -> dict[str, Any]:
    """Dataclass -> plain JSON-able dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


# Experimental options removed in artgan 0.2.0, with the values that meant "off". Files
# written by earlier versions hold them: with an "off" value a file loads as it was trained;
# with any other value this version cannot rebuild the model or the recipe, and says so.
REMOVED_IN = "0.2.0"
REMOVED_MODEL_KEYS: dict[str, tuple[Any, ...]] = {
    "d_dropout": (0,),
    "spectral_norm": (False,),
    "upsample": ("nearest",),
    "d_blur": (False, None),
    "d_patch_pos": (False, None),
    "d_coarse": (False, None),
    "g_coarse_mult": (1,),
    "d_recon": (False, None),
    "works": (0,),
}
REMOVED_TRAIN_KEYS: dict[str, tuple[Any, ...]] = {
    "ms_weight": (0, None),
    "lr_decay": (0, None),
    "condition": (False, None),
    "hflip": (True, None),  # None was the recipe's choice: mirrored
    "channels_last": (True,),
}


def _without_removed(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    removed = REMOVED_MODEL_KEYS if cls is ModelConfig else REMOVED_TRAIN_KEYS if cls is TrainConfig else {}
    for key, off in removed.items():
        if key in d and d[key] not in off:
            what = "model" if cls is ModelConfig else "run"
            raise ConfigError(
                f"this {what} was trained with the experimental option `{key}` ({json.dumps(d[key])}), "
                f"removed in artgan {REMOVED_IN}; use artgan 0.1.x to load it"
            )
    return {k: v for k, v in d.items() if k not in removed}


def _from_dict(cls: type, d: dict[str, Any]) -> Any:
    d = _without_removed(cls, d)
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key == "model" and cls is TrainConfig:
            value = model_config_from_dict(value)
        elif key == "augment" and value is not None:
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def model_config_from_dict(d: dict[str, Any]) -> ModelConfig:
    return _from_dict(ModelConfig, d)


def train_config_from_dict(d: dict[str, Any]) -> TrainConfig:
    return _from_dict(TrainConfig, d)


def texture_config_from_dict(d: dict[str, Any]) -> TextureConfig:
    return _from_dict(TextureConfig, d)


def restore_config_from_dict(d: dict[str, Any]) -> RestoreConfig:
    return _from_dict(RestoreConfig, d)


# What a stylizer config.json written before each option existed meant by its absence.
LEGACY_STYLIZER_KEYS: dict[str, Any] = {"style_weight": 0.0, "palette": "none"}
# Stylizer fields renamed in artgan 0.2.0 (old name -> new), so flag and field names agree.
RENAMED_STYLIZER_KEYS = {"swd_weight": "style_weight"}


# Stylizer options removed in artgan 0.2.0, with the values that meant "off". They only
# steered training: a model trained with one still loads and stylizes, but resuming its
# training would not follow its recipe, so training.stylizer refuses to.
REMOVED_STYLIZER_KEYS: dict[str, tuple[Any, ...]] = {"target_ssim": (None,)}


def stylizer_config_from_dict(d: dict[str, Any]) -> StylizerConfig:
    # Runs saved before an option existed trained without it; loaded or resumed, they go
    # on without it. Removed options are dropped (see REMOVED_STYLIZER_KEYS).
    d = {RENAMED_STYLIZER_KEYS.get(k, k): v for k, v in d.items() if k not in REMOVED_STYLIZER_KEYS}
    return _from_dict(StylizerConfig, {**LEGACY_STYLIZER_KEYS, **d})


# Model fields that files written before they existed lack: such models were trained
# without them (left None, they would get the family's default instead).
MISSING_MODEL_KEYS: dict[str, Any] = {"d_patch": False, "g_noise": False, "d_mbstd": False}


def model_file_dict(model: ModelConfig) -> dict[str, Any]:
    """The ``config.json`` content of a model folder: format, package version, architecture."""
    from . import __version__

    return {"format_version": FORMAT_VERSION, "artgan_version": __version__, "model": to_dict(model)}


def read_model_file_dict(d: dict[str, Any], source: str) -> ModelConfig:
    """Parse a model folder's ``config.json``; errors name the file."""
    version = d.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"{source}: format_version {version!r} is not supported by this artgan "
            f"(expects {FORMAT_VERSION}); upgrade artgan or re-export the model"
        )
    if "model" not in d:
        raise ConfigError(f"{source}: no 'model' section; this is not an artgan model config")
    try:
        return model_config_from_dict({**MISSING_MODEL_KEYS, **d["model"]}).validate()
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
