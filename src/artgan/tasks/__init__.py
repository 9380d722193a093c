"""Inference tasks: ``Task.from_pretrained(folder)`` then ``task(...)``."""
