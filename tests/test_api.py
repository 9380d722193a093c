"""The public names of ``import artgan`` exist (a vanished name fails here, not in a user's script)."""

import artgan


def test_every_public_name_resolves():
    for name in artgan.__all__:
        assert getattr(artgan, name) is not None, name
    assert callable(artgan.Stylizer.from_pretrained) and callable(artgan.train_stylizer)
