"""The `synthetic[:N]` source of the rs task: small generated scenes, offline (tests, smoke runs).

Each scene class has a colour and a stripe pattern (an orientation and a number of stripes); an
image is its class's pattern at a random phase, with a random brightness and pixel noise, 32 × 32
px, PNG-encoded as the hub ships images. Each of an item's 5 captions names its class in one of
several sentence forms. With N (default 100): every caption set has N train items and max(2, N // 4)
items in each other split (val, test); every zero-shot split (`all` or a named one) has max(8, N // 2)
images covering the classes as evenly as they can. Each (set, split) draws from its own seed (`valid`
and `validation` are `val`), so the sets share the classes but not the images:
what aligns on the train pool carries over to retrieval and zero-shot. The items come out as the
readers of sources.py return them (CaptionSplit, ClassSet), so everything after reading is the path
of the real data.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image

from tasks._shared import generated_size
from tasks.rs.layouts import CaptionSplit, ClassSet, canonical

DEFAULT_N = 100
SIZE = 32
N_CAPTIONS = 5
# class: (RGB colour in [0, 1], stripe angle in degrees, stripes across the image)
STYLES = {
    "farmland": ((0.55, 0.65, 0.25), 0, 6),
    "forest": ((0.10, 0.35, 0.12), 45, 14),
    "river": ((0.15, 0.30, 0.60), 90, 2),
    "beach": ((0.85, 0.78, 0.55), 0, 2),
    "dense_residential": ((0.55, 0.45, 0.45), 135, 10),
    "parking_lot": ((0.45, 0.45, 0.48), 90, 12),
    "desert": ((0.80, 0.62, 0.38), 30, 4),
    "airport": ((0.70, 0.70, 0.72), 150, 3),
}
CLASSES = tuple(STYLES)
FORMS = (
    "an aerial photograph of a {c}.",
    "a {c} seen from above.",
    "this satellite image shows a {c}.",
    "there is a {c} in the scene.",
    "a {size} {c} fills the image.",
    "the whole picture is a {c}.",
)
SIZES = ("large", "small", "wide", "narrow")


def size(source: str) -> int:
    """N of `synthetic` (DEFAULT_N) or `synthetic:N`; one BenchError line when malformed."""
    return generated_size(source, DEFAULT_N, "task rs")


def _rng(name: str, split: str) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(f"{name}/{canonical(split)}".encode()), 0])


def _image(label: int, rng: np.random.Generator) -> bytes:
    colour, angle, stripes = STYLES[CLASSES[label]]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    t = np.deg2rad(angle)
    wave = 0.5 + 0.5 * np.sin(
        2 * np.pi * stripes * (xx * np.cos(t) + yy * np.sin(t)) + rng.uniform(0, 2 * np.pi)
    )
    shade = (0.65 + 0.35 * wave) * rng.uniform(0.85, 1.15)
    pixels = np.asarray(colour)[None, None, :] * shade[..., None] + rng.normal(0, 0.04, (SIZE, SIZE, 3))
    buf = io.BytesIO()
    Image.fromarray(np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _captions(label: int, rng: np.random.Generator) -> list[str]:
    c = CLASSES[label].replace("_", " ")
    forms = rng.permutation(len(FORMS))[:N_CAPTIONS]
    return [FORMS[f].format(c=c, size=SIZES[rng.integers(len(SIZES))]) for f in forms]


def captions(name: str, source: str, split: str) -> CaptionSplit:
    """The items of split `split` (train, val or test) of caption set `name`."""
    n = size(source)
    n = n if split == "train" else max(2, n // 4)
    rng = _rng(name, split)
    labels = rng.integers(len(CLASSES), size=n)
    return CaptionSplit([_image(y, rng) for y in labels], [_captions(y, rng) for y in labels])


def classes(name: str, source: str, split: str) -> ClassSet:
    """The labelled images of split `split` of zero-shot set `name`: every class, as evenly as the count
    allows."""
    n = max(len(CLASSES), size(source) // 2)
    rng = _rng(name, "zero-shot" if split == "all" else f"zero-shot/{canonical(split)}")
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    return ClassSet([_image(y, rng) for y in labels], [int(y) for y in labels], list(CLASSES))
