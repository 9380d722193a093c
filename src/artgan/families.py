"""The model families by name: what each is, and the recipe it trains with by default.

Torch-free, so ``config.py`` (which checks and fills family names) and ``models/``
(which pairs each name with its networks) can both import it at module level. The
measurements behind these defaults are in ``docs/benchmarks/generator-recipe.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_AUGMENTS = ("color", "translation", "cutout")  # DiffAugment's three


@dataclass(frozen=True)
class Family:
    """A family's description and defaults; its networks are in ``models.NETWORKS``."""

    description: str
    # ModelConfig values this family uses for the fields the user leaves None.
    defaults: dict[str, object] = field(default_factory=dict)
    loss: str = "ns"  # the GAN loss (TrainConfig.loss) unless the user picks one
    lr_d: float = 2e-4  # D's Adam rate (G's is 2e-4); faster than G's is the two time-scale rule
    reuse_fakes: bool = False  # G's step reuses the D step's fakes (TrainConfig.reuse_fakes)
    augment: tuple[str, ...] = DEFAULT_AUGMENTS  # what D's inputs go through (TrainConfig.augment)


FAMILIES: dict[str, Family] = {
    "resgan": Family(
        "residual G/D with skip-layer excitation (default)",
        # Narrow (16 channels at full resolution): on a CPU, more images per minute beat a
        # wider net at equal time. Patch logits, noise inputs and minibatch std each lowered
        # SWD in screens.
        {"width": 16, "d_patch": True, "g_noise": True, "d_mbstd": True},
        loss="hinge",  # lower SWD than non-saturating in a paired screen
        lr_d=6e-4,  # D at 3x G's rate lowered SWD with either loss
        reuse_fakes=True,  # the same SWD per kimg, more images per second
        augment=("geometric", *DEFAULT_AUGMENTS),  # a mild zoom and rotation helped colour and layout
    ),
    # The baseline stays as in the paper: non-saturating loss, equal rates, fresh fakes
    # (reusing them made its training curve worse).
    "dcgan": Family("classic DCGAN baseline", {"width": 32}),
}
DEFAULT_FAMILY = "resgan"

__all__ = ["DEFAULT_AUGMENTS", "DEFAULT_FAMILY", "FAMILIES", "Family"]
