"""Captions of a class-labelled image: sentences made from its class name.

Each image of a class set (Fashion-MNIST, the synthetic patterns) gets `k` distinct sentence forms out of
TEMPLATES, drawn per image from a seed, so that the captions of an image are fixed by (seed, split,
position in the split) and the same class reads differently from image to image.
"""

from __future__ import annotations

import zlib

import numpy as np

TEMPLATES = (
    "a photo of {c}.",
    "a black and white picture of {c}.",
    "a small grayscale photo of {c}.",
    "a product photo of {c}.",
    "a low resolution photo of {c}.",
    "a centered image of {c} on a dark background.",
    "a catalogue picture showing {c}.",
    "a tiny picture of {c}.",
)


def phrase(name: str) -> str:
    """The class name with its article, lower case: "Ankle boot" → "an ankle boot"."""
    word = name.lower()
    return ("an " if word[0] in "aeiou" else "a ") + word


def captions(labels, classes: list[str], k: int, seed: int, split: str) -> list[list[str]]:
    """`k` distinct captions of each image of class `labels[i]`, drawn from (`seed`, `split`)."""
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    forms = np.argsort(rng.random((len(labels), len(TEMPLATES))), axis=1)[:, :k]
    names = [phrase(c) for c in classes]
    return [
        [TEMPLATES[f].format(c=names[y]) for f in row] for y, row in zip(labels, forms.tolist(), strict=True)
    ]
