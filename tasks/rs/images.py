"""Raw images: decoding to fixed-size uint8 tensors, a lazily decoded pool, and SimCLR views.

Views are drawn on raw pixels in [0, 1] (docs/tasks.md, "Views and the SSL term"): random resized
crop, horizontal flip, colour jitter (0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale with p 0.2,
Gaussian blur with p 0.5. The encoder normalises them afterwards exactly like an original image.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import torch
from PIL import Image
from torch import Tensor

from tasks._shared import two_rows


def decode(data: bytes, size: int) -> Tensor:
    """One image as a (3, size, size) uint8 tensor (RGB, bicubic resize)."""
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        return (
            torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1)
        )


class ImagePool:
    """Encoded images (any sequence of bytes: a list, or lazy.py's, read on demand) decoded on demand:
    `take(idx)` gives (n, 3, size, size) uint8."""

    def __init__(self, images: Sequence[bytes], size: int):
        self.images, self.size = images, size

    def __len__(self) -> int:
        return len(self.images)

    def take(self, idx: Tensor) -> Tensor:
        return torch.stack([decode(self.images[i], self.size) for i in idx.tolist()])


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def crop_box(h: int, w: int, gen: torch.Generator) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box: area 8-100 %, aspect ratio 3/4-4/3 (log-uniform); whole image on failure."""
    for _ in range(10):
        area = h * w * _uniform(gen, 0.08, 1.0)
        ratio = math.exp(_uniform(gen, math.log(3 / 4), math.log(4 / 3)))
        ch, cw = round(math.sqrt(area / ratio)), round(math.sqrt(area * ratio))
        if 0 < ch <= h and 0 < cw <= w:
            top = int(torch.randint(h - ch + 1, (), generator=gen))
            left = int(torch.randint(w - cw + 1, (), generator=gen))
            return top, left, ch, cw
    return 0, 0, h, w


def augment_one(img: Tensor, gen: torch.Generator) -> Tensor:
    """One SimCLR view of a (3, H, W) image in [0, 1]."""
    import torchvision.transforms.v2.functional as TF  # here: listing the tasks must not import torchvision

    h, w = img.shape[-2:]
    x = TF.resized_crop(img, *crop_box(h, w, gen), [h, w], antialias=True)
    if _uniform(gen, 0, 1) < 0.5:
        x = TF.horizontal_flip(x)
    if _uniform(gen, 0, 1) < 0.8:
        x = TF.adjust_brightness(x, _uniform(gen, 0.6, 1.4))
        x = TF.adjust_contrast(x, _uniform(gen, 0.6, 1.4))
        x = TF.adjust_saturation(x, _uniform(gen, 0.6, 1.4))
        x = TF.adjust_hue(x, _uniform(gen, -0.1, 0.1))
    if _uniform(gen, 0, 1) < 0.2:
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    if _uniform(gen, 0, 1) < 0.5:
        kernel = max(3, (h // 10) | 1)
        sigma = _uniform(gen, 0.1, 2.0)
        x = TF.gaussian_blur(x, [kernel, kernel], [sigma, sigma])
    return x.clamp(0, 1)


def augment(images: Tensor, gen: torch.Generator) -> Tensor:
    """A SimCLR view of each of (n, 3, H, W) uint8 (or [0, 1] float) images, as float in [0, 1]."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    return torch.stack([augment_one(img, gen) for img in x.cpu()]).to(images.device)


def image_caption_views(
    frozen: bool, side: str, x: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """The views of an image ↔ caption task: captions (side b), two different captions of the item;
    images, two cached augmented views (`frozen`) or two fresh ones of the raw pixels (random resized
    crop, flip, colour jitter, grey, blur: tasks/rs/images.py)."""
    if side == "b":
        return two_rows(x, 0, generator)
    if frozen:
        return two_rows(x, 1, generator)
    return augment(x, generator), augment(x, generator)
