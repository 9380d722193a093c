"""Model families: one registry, looked up by the name stored in ``config.json``.

A family is a (Generator, Discriminator) pair of pure ``nn.Module`` classes built from a
:class:`~artgan.config.ModelConfig`. G maps z (B, z_dim) to images (B, 3, R, R) in [-1, 1];
D maps images to logits (B,), or (B, 1 + P) when it also judges P patches (column 0 is
the whole-image logit; see losses.py).
"""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from ..config import DEFAULT_AUGMENTS


class Family(NamedTuple):
    generator: type[nn.Module]
    discriminator: type[nn.Module]
    description: str
    defaults: dict  # ModelConfig values this family uses when the user gives none
    loss: str = "ns"  # the GAN loss its recipe uses unless the user picks one (training/recipe.py)
    lr_d: float = 2e-4  # D's Adam rate in its recipe (G's is 2e-4); a faster D is the two time-scale rule
    reuse_fakes: bool = False  # G's step reuses the D step's fakes (TrainConfig.reuse_fakes) unless the user says
    augment: tuple[str, ...] = DEFAULT_AUGMENTS  # what D's inputs go through (TrainConfig.augment) unless the user says
    conditional: bool = False  # G and D can be conditioned on the training work (ModelConfig.works)


def _registry() -> dict[str, Family]:
    from .dcgan import DCGANDiscriminator, DCGANGenerator
    from .resgan import ResDiscriminator, ResGenerator

    return {
        # resgan: 16 channels at full resolution trains 3x more images per CPU minute than 32
        # (54 vs 18 img/s at 64 px) and reached a lower SWD in the same 4 minutes (127 vs 240);
        # patch-level D logits lowered it again in both paired screens (benchmarks/quality.py).
        # 2026-11-30, 5-min screens (evaluated SWD): noise inputs 128 -> minibatch std 102.
        # 2026-12-01, 10-min screen, SWD median of 3 draws: hinge loss 60.9 vs non-saturating 96.5
        # (benchmarks/results/2026-12-01-quality-screen7-lrd-r1-hinge-64px-10min.json).
        # D at 3x G's rate (6e-4) lowered it in both 10-min screens: ns 96.5 -> 80.2, hinge 60.9 -> 55.0
        # (...-screen8-hinge-mixed-lrd-64px-10min.json).
        # Reusing D's fakes in G's step: resgan's SWD per kimg unchanged and ~10% more img/s
        # (...-screen-reuse-fakes-64px-10min.json). It hurt dcgan, so dcgan keeps fresh fakes:
        # training SWD at 12 / 16 / 20 kimg 262 / 146 / 96 with reuse, 136 / 99 / 94 without,
        # final 99.3 vs 85.5 (...-64px-15min-reuse-fakes.json, ...-64px-15min-dcgan-fresh-fakes.json).
        # Mild zoom and rotation before the other augmentations: two 15-min runs at 64 px, SWD
        # 53.4 / 57.5 (coarse level 81 / 85) against 61.1 (101) on the same day, KID 0.0010 /
        # 0.0011 vs 0.0019 (...-quality-screen-geometric-augment-64px-15min.json,
        # ...-quality-resgan-vs-dcgan-64px-15min-geometric.json).
        "resgan": Family(
            ResGenerator,
            ResDiscriminator,
            "residual G/D with skip-layer excitation (default)",
            {"width": 16, "d_patch": True, "g_noise": True, "d_mbstd": True},
            loss="hinge",
            lr_d=6e-4,
            reuse_fakes=True,
            augment=("geometric", *DEFAULT_AUGMENTS),
            conditional=True,
        ),
        # dcgan keeps the paper's non-saturating loss: it is the baseline.
        "dcgan": Family(DCGANGenerator, DCGANDiscriminator, "classic DCGAN baseline", {"width": 32}, loss="ns"),
    }


FAMILIES: dict[str, Family] = _registry()
DEFAULT_FAMILY = "resgan"


def build_generator(cfg) -> nn.Module:  # cfg: ModelConfig (untyped here to avoid an import cycle)
    return FAMILIES[cfg.family].generator(cfg)


def build_discriminator(cfg) -> nn.Module:
    return FAMILIES[cfg.family].discriminator(cfg)


__all__ = ["FAMILIES", "DEFAULT_FAMILY", "Family", "build_generator", "build_discriminator"]
