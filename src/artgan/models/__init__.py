"""Model families: one registry, looked up by the name stored in ``config.json``.

A family is a (Generator, Discriminator) pair of pure ``nn.Module`` classes built from a
:class:`~artgan.config.ModelConfig`. G maps z (B, z_dim) to images (B, 3, R, R) in [-1, 1];
D maps images to logits (B,), or (B, 1 + P) when it also judges P patches (column 0 is
the whole-image logit; see losses.py). Names, descriptions and recipe defaults live in
:mod:`artgan.families` (torch-free); this module pairs each name with its networks.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from ..config import ModelConfig
from ..families import DEFAULT_FAMILY, FAMILIES, Family
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .resgan import ResDiscriminator, ResGenerator


class Networks(NamedTuple):
    generator: type[nn.Module]
    discriminator: type[nn.Module]


NETWORKS: dict[str, Networks] = {
    "resgan": Networks(ResGenerator, ResDiscriminator),
    "dcgan": Networks(DCGANGenerator, DCGANDiscriminator),
}  # one entry per name in FAMILIES (tests/test_models.py checks)


def build_generator(cfg: ModelConfig) -> nn.Module:
    return NETWORKS[cfg.family].generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    return NETWORKS[cfg.family].discriminator(cfg)


__all__ = [
    "DEFAULT_FAMILY",
    "FAMILIES",
    "NETWORKS",
    "Family",
    "Networks",
    "build_discriminator",
    "build_generator",
]
