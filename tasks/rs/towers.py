"""The frozen-mode towers of rs (the open_clip towers of both modes are tasks/_openclip.py's)."""

from __future__ import annotations

from torch import Tensor, nn

from tasks._openclip import one_caption


class FeatureTower(nn.Module):
    """Cached frozen features as they are (the harness's head is the trainable part). A (n, k, F) input
    is one row each: the first (the original image) for images, a caption for texts."""

    def __init__(self, dim: int, captions: bool):
        super().__init__()
        self.out_dim, self.captions = dim, captions

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return x
        return one_caption(x, self.training) if self.captions else x[:, 0]
