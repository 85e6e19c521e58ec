"""open_clip encoders by name and pretrained tag, split into an image and a text tower (tasks rs and vl).

With `heads=clip` (the default of rs and of vl's open_clip encoders) the towers' output is CLIP's own
joint space: each tower carries CLIP's learned scale as `logit_scale`, so that the harness adds no fresh
head and starts the CLIP scale from it (bench/engine/model.py), as S-CLIP fine-tunes CLIP (alinlab/s-clip
main.py, the whole model). In frozen mode `own_projections` takes CLIP's final linear maps off the
towers: the cached features are the inputs of those maps, and the maps train (tasks/rs/towers.py).

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


def logit_scale(model: nn.Module) -> float:
    """CLIP's learned scale s = exp(t) of an open_clip model (100 for the openai weights; 1/0.07 for
    random ones)."""
    return float(model.logit_scale.detach().exp())


def own_projections(model: nn.Module, task: str) -> tuple[nn.Linear, nn.Linear]:
    """CLIP's final linear maps of the image and the text tower, taken off `model` (whose towers then
    output the maps' inputs), as nn.Linear layers with the same weights: a ViT's `proj`, a ModifiedResNet's
    attention-pool output projection `c_proj` (replaced by the identity), the text tower's
    `text_projection`. One BenchError line (naming `task`) for a model of another kind."""
    visual = model.visual
    if isinstance(getattr(visual, "proj", None), nn.Parameter):
        image = _linear(visual.proj.detach().T, None)
        visual.proj = None
    elif isinstance(getattr(getattr(visual, "attnpool", None), "c_proj", None), nn.Linear):
        c_proj = visual.attnpool.c_proj
        image = _linear(c_proj.weight.detach(), c_proj.bias.detach())
        width = c_proj.in_features
        visual.attnpool.c_proj = _linear(torch.eye(width), torch.zeros(width))
    else:
        image = None
    text = getattr(model, "text_projection", None)
    if isinstance(text, nn.Linear):
        text, model.text_projection = _linear(text.weight.detach(), text.bias), None
    elif isinstance(text, nn.Parameter):
        text, model.text_projection = _linear(text.detach().T, None), None
    if image is None or not isinstance(text, nn.Linear):
        raise BenchError(
            f"task {task}: heads=clip with mode=frozen needs CLIP's final projections of a ViT or "
            f"ModifiedResNet image tower and a CLIP text tower, which {type(model).__name__} lacks; "
            "use heads=fresh"
        )
    return image, text


def projection_tensors(model: nn.Module, task: str) -> dict[str, Tensor]:
    """CLIP's own final projections, taken off `model` (`own_projections`), as tensors
    `proj_a.weight`, `proj_a.bias` (where it has one), `proj_b.weight`, `proj_b.bias`, and `logit_scale`."""
    out = {"logit_scale": torch.tensor(logit_scale(model))}
    for side, layer in zip("ab", own_projections(model, task), strict=True):
        out |= {f"proj_{side}.{k}": v.detach().clone() for k, v in layer.state_dict().items()}
    return out


def projections(x: dict[str, Tensor]) -> tuple[nn.Linear, nn.Linear, float]:
    """The projections (float32) and the scale that `projection_tensors` stored, removed from `x`."""
    layers = []
    for side in "ab":
        weight, bias = x.pop(f"proj_{side}.weight").float(), x.pop(f"proj_{side}.bias", None)
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        layer.load_state_dict({"weight": weight} | ({} if bias is None else {"bias": bias.float()}))
        layers.append(layer)
    return layers[0], layers[1], float(x.pop("logit_scale"))


def _linear(weight: Tensor, bias: Tensor | None) -> nn.Linear:
    """nn.Linear with these weights (out × in) and bias (or none), copies."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias.detach())
    return layer


def one_caption(x: Tensor, training: bool) -> Tensor:
    """Rows of (n, m, ...) → (n, ...): a random caption of each row in training, the first otherwise."""
    n = x.shape[0]
    pick = torch.randint(x.shape[1], (n,)) if training else torch.zeros(n, dtype=torch.long)
    return x[torch.arange(n), pick.to(x.device)]


class ImageTower(nn.Module):
    """open_clip's image encoder on (n, 3, S, S) raw images (uint8, or float in [0, 1]), normalised here."""

    def __init__(self, visual: nn.Module, mean: tuple, std: tuple, pretrained: bool, scale: float | None):
        super().__init__()
        self.visual, self.out_dim, self.pretrained = visual, int(visual.output_dim), pretrained
        self.logit_scale = scale
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        return self.visual((x - self.mean) / self.std)


class TextTower(nn.Module):
    """open_clip's text encoder on tokens (n, L), or (n, m, L): one caption per row."""

    def __init__(self, model: nn.Module, pretrained: bool, scale: float | None):
        super().__init__()
        self.out_dim, self.pretrained, self.logit_scale = int(model.visual.output_dim), pretrained, scale
        model.visual = None
        self.model = model

    def forward(self, tokens: Tensor) -> Tensor:
        tokens = one_caption(tokens, self.training) if tokens.dim() == 3 else tokens
        return self.model.encode_text(tokens)


def towers(
    model: nn.Module, mean: tuple, std: tuple, pretrained: bool, own_space: bool = False
) -> tuple[ImageTower, TextTower]:
    """The image and text towers of one open_clip model (they share no parameters); with `own_space` each
    carries CLIP's learned scale as `logit_scale` (heads=clip: no fresh head), else None."""
    scale = logit_scale(model) if own_space else None
    return ImageTower(model.visual, mean, std, pretrained, scale), TextTower(model, pretrained, scale)
