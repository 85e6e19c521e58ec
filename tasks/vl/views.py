"""SimCLR views of a batch of raw images, drawn for the whole batch at once.

The same family as tasks/rs/images.py `augment` (random resized crop over 8-100 % of the area with aspect
ratio 3/4-4/3, horizontal flip with p 0.5, colour jitter (brightness, contrast, saturation 0.4, hue 0.1)
with p 0.8, grayscale with p 0.2, Gaussian blur (sigma 0.1-2) with p 0.5), on (n, 3, H, W) pixels in
[0, 1], but computed as batched tensor operations instead of one image at a time: the crop and flip are
one affine resampling (`grid_sample`, bilinear, not antialiased), the jitter and blur per-image factors
broadcast over the batch (the blur a grouped separable convolution with reflected borders). On 28-pixel
images this is about an eighth of the per-image cost, where Python overhead dominated; the views differ
from `augment`'s in the resampling filter and in drawing every factor for every image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tasks.rs.images import crop_box

GREY = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision's rgb_to_grayscale


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def grey(x: Tensor) -> Tensor:
    """(n, 3, H, W) → (n, 1, H, W) luma."""
    w = torch.tensor(GREY, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def crop_flip(x: Tensor, gen: torch.Generator) -> Tensor:
    """A random resized crop of each image back to its size, mirrored with p 0.5."""
    n, _, h, w = x.shape
    boxes = torch.tensor([crop_box(h, w, gen) for _ in range(n)], dtype=x.dtype)
    top, left, ch, cw = boxes.unbind(dim=1)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(x.dtype)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = cw / w * flip, (2 * left + cw) / w - 1
    theta[:, 1, 1], theta[:, 1, 2] = ch / h, (2 * top + ch) / h - 1
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def jitter(x: Tensor, gen: torch.Generator) -> Tensor:
    """Brightness, contrast, saturation (factors in [0.6, 1.4]) and hue (shift in [-0.1, 0.1]), in that
    order, each image's own factors."""
    from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv  # the pinned kernels

    n = x.shape[0]
    b, c, s = (_uniform(gen, n, 0.6, 1.4).view(n, 1, 1, 1) for _ in range(3))
    hue = _uniform(gen, n, -0.1, 0.1).view(n, 1, 1)
    x = (x * b).clamp(0, 1)
    mean = grey(x).mean(dim=(1, 2, 3), keepdim=True)
    x = (c * x + (1 - c) * mean).clamp(0, 1)
    x = (s * x + (1 - s) * grey(x)).clamp(0, 1)
    hsv = _rgb_to_hsv(x)
    return _hsv_to_rgb(torch.stack(((hsv[:, 0] + hue) % 1.0, hsv[:, 1], hsv[:, 2]), dim=1))


def blur(x: Tensor, gen: torch.Generator) -> Tensor:
    """A Gaussian blur of each image with its own sigma in [0.1, 2], kernel side max(3, H // 10 | 1)."""
    n, c, h, w = x.shape
    k = max(3, (h // 10) | 1)
    sigma = _uniform(gen, n, 0.1, 2.0).to(x.dtype)
    r = torch.arange(k, dtype=x.dtype) - k // 2
    kernel = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (n·c, k)
    y = F.pad(x.reshape(1, n * c, h, w), (k // 2,) * 4, mode="reflect")
    y = F.conv2d(y, kernel.view(n * c, 1, k, 1), groups=n * c)
    y = F.conv2d(y, kernel.view(n * c, 1, 1, k), groups=n * c)
    return y.view(n, c, h, w)


def augment_batch(images: Tensor, gen: torch.Generator) -> Tensor:
    """A SimCLR view of each of (n, 3, H, W) uint8 (or [0, 1] float) images, as float in [0, 1]; every
    draw comes from `gen`, so a generator in the same state gives the same views."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    x = x.cpu()
    n = x.shape[0]
    if n == 0:
        return x.to(images.device)
    x = crop_flip(x, gen)
    for p, op in ((0.8, jitter), (0.2, lambda y, _: grey(y).expand_as(y)), (0.5, blur)):
        apply = (torch.rand(n, generator=gen) < p).view(n, 1, 1, 1)
        x = torch.where(apply, op(x, gen), x)
    return x.clamp(0, 1).to(images.device)
