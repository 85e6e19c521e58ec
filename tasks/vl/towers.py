"""Image pools and the towers of the vl task that are not open_clip's (those are tasks/_openclip.py's).

- `ImagePool`: images of a source (encoded bytes, or a uint8 tensor of grey or RGB pixels) as
  (n, 3, S, S) uint8 on demand: grey pixels repeated over 3 channels, resized to S.
- `SmallCNN` (encoder=cnn): three 3 × 3 convolutions (16, 32, 64 channels, GELU, the first two
  followed by 2 × 2 max pooling) and a global average pool, out_dim 64; random weights, trained on raw
  pixels (28 × 28 by default: a step on the CPU costs a quarter of the 32, 64, 128 channels'). No
  BatchNorm, so its outputs do not depend on what else is in a pass.
- `ResNetTower` (encoder=released): torchvision's ResNet-34 without its classifier, out_dim 512.
- `TextMLP`: a trainable MLP (tasks/_shared.py `MLPTower`) on frozen sentence features of captions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.errors import BenchError
from tasks._openclip import MODEL_SEED, one_caption
from tasks._shared import MLPTower
from tasks.rs.images import decode

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def to_rgb(pixels: Tensor, size: int) -> Tensor:
    """(n, H, W) grey or (n, H, W, 3) RGB uint8 pixels → (n, 3, size, size) uint8 (bilinear resize)."""
    x = pixels[:, None].expand(-1, 3, -1, -1) if pixels.dim() == 3 else pixels.permute(0, 3, 1, 2)
    if x.shape[-1] == size and x.shape[-2] == size:
        return x.contiguous()
    x = F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


class ImagePool:
    """Images decoded on demand: `take(idx)` gives (n, 3, size, size) uint8. `images` is a uint8 Tensor
    (N, H, W) or (N, H, W, 3), or a sequence of encoded images (bytes)."""

    def __init__(self, images: Tensor | Sequence[bytes], size: int):
        self.images, self.size = images, size

    def __len__(self) -> int:
        return len(self.images)

    def take(self, idx: Tensor) -> Tensor:
        if isinstance(self.images, Tensor):
            return to_rgb(self.images[idx], self.size)
        return torch.stack([decode(self.images[i], self.size) for i in idx.tolist()])


class SmallCNN(nn.Module):
    """A small CNN on (n, 3, S, S) raw images (uint8, or float in [0, 1]), scaled to [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.out_dim = 64
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.GELU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.GELU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, self.out_dim, 3, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        return self.net(x * 2 - 1)


def resnet34(pretrained: bool) -> tuple[nn.Module, str]:
    """torchvision's ResNet-34 without its classifier and the name of its weights: `imagenet`
    (IMAGENET1K_V1, when `pretrained`, from torchvision's cache or online) or `random` (not `pretrained`:
    initialised from MODEL_SEED). ImageNet weights that cannot be loaded are a BenchError, never random
    weights in their place: the spec (`pretrained=none`) says which experiment a run is."""
    from torchvision.models import ResNet34_Weights
    from torchvision.models import resnet34 as make

    model, weights = None, "random"
    if pretrained:
        try:
            model, weights = make(weights=ResNet34_Weights.IMAGENET1K_V1), "imagenet"
        except Exception as exc:  # download and file errors come in many types
            why = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
            raise BenchError(
                f"task vl: encoder=released needs ResNet-34's ImageNet weights and torchvision cannot load "
                f"them ({why}); fetch them once online (torchvision caches them under $TORCH_HOME/hub), or "
                "set pretrained=none for random weights (another experiment, named so in the run)"
            ) from None
    if model is None:
        with torch.random.fork_rng():
            torch.manual_seed(MODEL_SEED)
            model = make(weights=None)
    model.fc = nn.Identity()
    return model, weights


class ResNetTower(nn.Module):
    """A ResNet on (n, 3, S, S) raw images (uint8, or float in [0, 1]), ImageNet-normalised here;
    `pretrained` (ImageNet weights) makes it train at encoder_lr."""

    def __init__(self, model: nn.Module, pretrained: bool):
        super().__init__()
        self.model, self.out_dim, self.pretrained = model, 512, pretrained
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        return self.model((x - self.mean) / self.std)


class TextMLP(nn.Module):
    """MLPTower (with `dropout` after its first layer) on sentence features (n, F), or (n, m, F): one
    caption per row (a random one in training, the first in evaluation)."""

    def __init__(self, in_dim: int, width: int, dropout: float = 0.0):
        super().__init__()
        self.mlp = MLPTower(in_dim, width, dropout)
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(one_caption(x, self.training) if x.dim() == 3 else x)
