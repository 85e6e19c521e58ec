"""The vl task's batched SimCLR views (tasks/vl/views.py) against torchvision's per-image operations with
the same factors, and their determinism."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from tasks.vl import views
from tasks.vl.views import augment_batch, blur, crop_flip, jitter


def _images(n: int = 6, size: int = 28, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _factors(seed: int, n: int, *ranges) -> list[torch.Tensor]:
    """The per-image factors a generator seeded with `seed` draws, in order, over `ranges`."""
    gen = torch.Generator().manual_seed(seed)
    return [low + (high - low) * torch.rand(n, generator=gen) for low, high in ranges]


def test_jitter_equals_torchvision_per_image_with_the_same_factors():
    x = _images()
    b, c, s, h = _factors(1, len(x), (0.6, 1.4), (0.6, 1.4), (0.6, 1.4), (-0.1, 0.1))
    ref = []
    for i, img in enumerate(x):
        y = TF.adjust_brightness(img, float(b[i]))
        y = TF.adjust_contrast(y, float(c[i]))
        y = TF.adjust_saturation(y, float(s[i]))
        ref.append(TF.adjust_hue(y, float(h[i])))
    got = jitter(x, torch.Generator().manual_seed(1))
    assert torch.allclose(got, torch.stack(ref), atol=1e-5)


@pytest.mark.parametrize("size", [28, 64])
def test_blur_equals_torchvision_gaussian_blur_per_image(size):
    x = _images(size=size)
    (sigma,) = _factors(2, len(x), (0.1, 2.0))
    k = max(3, (size // 10) | 1)
    ref = [TF.gaussian_blur(img, [k, k], [float(s), float(s)]) for img, s in zip(x, sigma, strict=True)]
    ref = torch.stack(ref)
    assert torch.allclose(blur(x, torch.Generator().manual_seed(2)), ref, atol=1e-5)


def test_a_whole_image_box_gives_the_image_or_its_mirror(monkeypatch):
    monkeypatch.setattr(views, "crop_box", lambda h, w, gen: (0, 0, h, w))
    x = _images(n=40)
    got = crop_flip(x, torch.Generator().manual_seed(3))
    same = [torch.allclose(g, i, atol=1e-5) for g, i in zip(got, x, strict=True)]
    mirror = [torch.allclose(g, i.flip(-1), atol=1e-5) for g, i in zip(got, x, strict=True)]
    assert all(a or b for a, b in zip(same, mirror, strict=True)) and any(same) and any(mirror)


def test_a_quarter_box_is_that_quarter_stretched(monkeypatch):
    """On a linear ramp bilinear resampling is exact: output pixel (i, j) of the top-left quarter box
    samples the input at pixel coordinates (i / 2 - 1/4, j / 2 - 1/4), or, mirrored, at column
    S / 2 - 3/4 - j / 2 (S the side)."""
    monkeypatch.setattr(views, "crop_box", lambda h, w, gen: (0, 0, h // 2, w // 2))
    size = 32
    ramp = lambda i, j: 0.01 * i + 0.02 * j  # noqa: E731
    grid = torch.arange(size, dtype=torch.float32)
    x = ramp(grid[:, None], grid[None, :]).expand(12, 3, size, size)
    got = crop_flip(x, torch.Generator().manual_seed(4))[..., 1:, 1:-1]  # without the border's samples
    rows, cols = grid[1:, None] / 2 - 0.25, grid[None, 1:-1]
    plain, mirrored = ramp(rows, cols / 2 - 0.25), ramp(rows, size / 2 - 0.75 - cols / 2)
    is_plain = [torch.allclose(g, plain, atol=1e-5) for g in got]
    is_mirrored = [torch.allclose(g, mirrored, atol=1e-5) for g in got]
    assert all(a or b for a, b in zip(is_plain, is_mirrored, strict=True))
    assert any(is_plain) and any(is_mirrored)


def test_views_are_float_in_the_unit_range_and_fixed_by_the_generator_state():
    x = (_images(n=16) * 255).to(torch.uint8)
    one = augment_batch(x, torch.Generator().manual_seed(7))
    assert one.shape == x.shape and one.dtype == torch.float32 and one.min() >= 0 and one.max() <= 1
    assert torch.equal(one, augment_batch(x, torch.Generator().manual_seed(7)))
    other = augment_batch(x, torch.Generator().manual_seed(8))
    assert not torch.equal(one, other)
    assert not torch.allclose(one, x.float() / 255, atol=0.05)
    assert augment_batch(x[:0], torch.Generator()).shape == (0, 3, 28, 28)
