"""artgan: generative adversarial networks for art.

Public API::

    from artgan import Generator
    g = Generator.from_pretrained("runs/00000-art")
    images = g(n=8, seed=0)          # list of PIL images

    from artgan import Stylizer, TextureSynth
    st = Stylizer.from_pretrained("runs/starry")      # artgan train-stylizer
    img = st(photo, strength=0.8)                     # PIL image in, PIL image out
"""

__version__ = "0.2.0"

__all__ = ["__version__", "Generator", "Stylizer", "TextureSynth", "train", "train_stylizer"]

_LAZY = {
    "Generator": ("tasks.generate", "Generator"),
    "Stylizer": ("tasks.stylize", "Stylizer"),
    "TextureSynth": ("tasks.texture", "TextureSynth"),
    "train": ("training.loop", "train"),
    "train_stylizer": ("training.stylizer", "train_stylizer"),
}


def __getattr__(name: str):
    # Lazy so `import artgan` stays light (torch loads only when a model is used).
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'artgan' has no attribute {name!r}")
