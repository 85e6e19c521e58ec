"""open_clip encoders by name and pretrained tag, split into an image and a text tower (tasks rs and vl).

`rs-tiny` (rs-tiny.json beside this file) is a registered test configuration: a 2-layer ViT of
width 64, patch 32, 64 px images and a 2-layer text transformer with context 32; random weights.
Inputs with an extra caption axis (n, m, ...) are one caption per row: a random one in training,
the first in evaluation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from bench.errors import BenchError

TINY = Path(__file__).with_name("rs-tiny.json")
MODEL_SEED = 0


def build(encoder: str, pretrained: str, task: str):
    """(open_clip model, tokenizer, image size, mean, std); one BenchError line (naming `task`) if the
    model or its weights are unavailable. Weights that are not loaded (pretrained=none) are initialised
    from MODEL_SEED, whatever the global generator's state, so two builds give the same model (and
    frozen features)."""
    import open_clip

    open_clip.add_model_config(TINY)
    if encoder not in open_clip.list_models():
        raise BenchError(f"task {task}: unknown open_clip encoder {encoder!r}; see open_clip.list_models()")
    try:
        with torch.random.fork_rng():  # random weights (pretrained=none) are the same in every build
            torch.manual_seed(MODEL_SEED)
            model = open_clip.create_model(encoder, pretrained=None if pretrained == "none" else pretrained)
    except Exception as e:
        why = f"{type(e).__name__}: {str(e).splitlines()[0]}"
        raise BenchError(
            f"task {task}: cannot load open_clip {encoder} weights {pretrained!r} ({why}); "
            f"fetch them online with `python -m bench data {task}`, or use pretrained=none"
        ) from None
    cfg = model.visual.preprocess_cfg
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple | list) else size
    return model, open_clip.get_tokenizer(encoder), int(size), tuple(cfg["mean"]), tuple(cfg["std"])


def one_caption(x: Tensor, training: bool) -> Tensor:
    """Rows of (n, m, ...) → (n, ...): a random caption of each row in training, the first otherwise."""
    n = x.shape[0]
    pick = torch.randint(x.shape[1], (n,)) if training else torch.zeros(n, dtype=torch.long)
    return x[torch.arange(n), pick.to(x.device)]


class ImageTower(nn.Module):
    """open_clip's image encoder on (n, 3, S, S) raw images (uint8, or float in [0, 1]), normalised here."""

    def __init__(self, visual: nn.Module, mean: tuple, std: tuple, pretrained: bool):
        super().__init__()
        self.visual, self.out_dim, self.pretrained = visual, int(visual.output_dim), pretrained
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        return self.visual((x - self.mean) / self.std)


class TextTower(nn.Module):
    """open_clip's text encoder on tokens (n, L), or (n, m, L): one caption per row."""

    def __init__(self, model: nn.Module, pretrained: bool):
        super().__init__()
        self.out_dim, self.pretrained = int(model.visual.output_dim), pretrained
        model.visual = None
        self.model = model

    def forward(self, tokens: Tensor) -> Tensor:
        tokens = one_caption(tokens, self.training) if tokens.dim() == 3 else tokens
        return self.model.encode_text(tokens)


def towers(model: nn.Module, mean: tuple, std: tuple, pretrained: bool) -> tuple[ImageTower, TextTower]:
    """The image and text towers of one open_clip model (they share no parameters)."""
    return ImageTower(model.visual, mean, std, pretrained), TextTower(model, pretrained)
