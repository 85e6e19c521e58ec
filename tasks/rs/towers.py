"""The frozen-mode towers of rs and vl (the open_clip towers of both modes are tasks/_openclip.py's)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from tasks._openclip import one_caption


class FeatureTower(nn.Module):
    """Cached frozen features. A (n, k, F) input is one row each: the first (the original image) for
    images, a caption for texts.

    Without `projection` (heads=fresh) the features as they are, out_dim `dim` (the harness's fresh head
    is the trainable part). With `projection` (heads=clip) CLIP's own final linear map on the cached
    inputs of that map, L2-normalised: CLIP's joint space, out_dim the map's; the map starts from CLIP's
    weights and trains as a pretrained part (`pretrained`, at encoder_lr), and `logit_scale` (CLIP's
    learned scale) tells the harness to add no head (bench/engine/model.py)."""

    def __init__(
        self, dim: int, captions: bool, projection: nn.Linear | None = None, scale: float | None = None
    ):
        super().__init__()
        self.captions, self.projection, self.logit_scale = captions, projection, scale
        self.out_dim = dim if projection is None else projection.out_features
        self.pretrained = projection is not None

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 3:
            x = one_caption(x, self.training) if self.captions else x[:, 0]
        return x if self.projection is None else F.normalize(self.projection(x), dim=-1)
