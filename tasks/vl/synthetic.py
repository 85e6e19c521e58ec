"""The `synthetic[:N]` source of the vl task: small generated images with class structure, offline.

Each of the 10 classes (named as Fashion-MNIST's, so that captions read the same) has its own stripe
pattern (an angle and a number of stripes); an image is its class's pattern at a random phase and
brightness plus pixel noise, 28 × 28 uint8 grey pixels as Fashion-MNIST's. N (default DEFAULT_N) train
images and max(10, N // 4) test images, classes in turn, from a seed per split: loads in milliseconds.
"""

from __future__ import annotations

import numpy as np

from tasks._shared import generated_size
from tasks.vl.fashion import CLASSES

DEFAULT_N = 200
SIZE = 28
STYLES = tuple((18.0 * k, 2 + k % 5) for k in range(len(CLASSES)))  # (angle in degrees, stripes)


def size(source: str) -> int:
    """N of `synthetic` (DEFAULT_N) or `synthetic:N`; one BenchError line when malformed."""
    return generated_size(source, DEFAULT_N, "task vl")


def images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One (SIZE, SIZE) uint8 image of each class in `labels`."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    out = np.empty((len(labels), SIZE, SIZE), np.uint8)
    for i, label in enumerate(labels):
        angle, stripes = STYLES[label]
        t = np.deg2rad(angle)
        wave = np.sin(2 * np.pi * stripes * (xx * np.cos(t) + yy * np.sin(t)) + rng.uniform(0, 2 * np.pi))
        pixels = (0.5 + 0.4 * wave) * rng.uniform(0.8, 1.2) + rng.normal(0, 0.05, (SIZE, SIZE))
        out[i] = np.rint(np.clip(pixels, 0, 1) * 255)
    return out


def split(source: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of split `name` (train or test) of `source`."""
    n = size(source) if name == "train" else max(10, size(source) // 4)
    labels = np.arange(n) % len(CLASSES)
    return images(labels, np.random.default_rng([n, 0 if name == "train" else 1])), labels
