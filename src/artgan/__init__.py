"""artgan: generative adversarial networks for art.

Public API::

    from artgan import Generator
    g = Generator.from_pretrained("runs/00000-art")
    images = g(n=8, seed=0)          # list of PIL images
"""

__version__ = "0.1.0"

__all__ = ["__version__", "Generator", "train"]


def __getattr__(name: str):
    # Lazy so `import artgan` stays light (torch loads only when a model is used).
    if name == "Generator":
        from .tasks.generate import Generator

        return Generator
    if name == "train":
        from .training.loop import train

        return train
    raise AttributeError(f"module 'artgan' has no attribute {name!r}")
