"""Frozen mode: open_clip features of every input, computed once and cached (bench/cache.py).

Train images get their original features and those of K SimCLR views (row 0, rows 1..K); every
feature is L2-normalised (CLIP's own space), or with heads=clip the input of CLIP's own final projection
as it is, the entry then holding those projections and CLIP's learned scale (tasks/_openclip.py
`projection_tensors`), so that they train from CLIP's weights. The key holds the encoder, the views and
the data's identity (data.fingerprint: hub commits, local files, evaluation splits), so a change to any
of them builds a new entry. The entry also holds what was evaluated (`about`, JSON), for a cached load.

`sentences`: the MiniLM sentence features of the texts, what a frozen-feature method fits the captions on
by default (frozen_text=minilm), cached apart from these (in both modes) under the data's identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from bench import cache
from bench.device import default_device
from tasks import _openclip, _sentences
from tasks._frozen import unit_features
from tasks.rs import data, inputs
from tasks.rs.images import augment

BATCH = 64
VIEW_SEED = 20_000


def encode(
    tower: nn.Module, items: Any, device: torch.device, desc: str, view: Callable | None = None, unit=True
) -> Tensor:
    """tasks/_frozen.py `unit_features`, BATCH rows at a time (as they are where `unit` is false)."""
    return unit_features(tower, items, device, BATCH, desc, view, unit)


def build(p: dict[str, Any]) -> dict[str, Tensor]:
    raw = data.read(p)
    model, tokenize, size, mean, std = _openclip.build(p["encoder"], p["pretrained"], "rs")
    out: dict[str, Any] = {"about": json.dumps(raw.about)}  # what was evaluated, known to a cached load
    own = p["heads"] == "clip"
    if own:
        out |= _openclip.projection_tensors(model, "rs")
    image, text = _openclip.towers(model, mean, std, pretrained=True)
    device = default_device()
    image, text = image.to(device).eval(), text.to(device).eval()
    raw_inputs = inputs.model_inputs(raw, tokenize, size, p)
    gen = torch.Generator().manual_seed(VIEW_SEED + p["view_seed"])
    _encode = partial(encode, unit=not own)

    with torch.no_grad():
        for key, value in raw_inputs.items():
            if key == "train_a":
                rows = [_encode(image, value, device, "train images")]
                rows += [
                    _encode(image, value, device, f"view {k + 1}", lambda x: augment(x, gen))
                    for k in range(p["n_views"])
                ]
                out[key] = torch.stack(rows, dim=1)
            elif key == "train_b":
                n, m, length = value.shape
                out[key] = _encode(text, value.view(n * m, length), device, "train captions").view(n, m, -1)
            elif key.endswith("images"):
                out[key] = _encode(image, value, device, key)
            elif key == "keywords" or key.endswith(("texts", "prompts")):
                out[key] = _encode(text, value, device, key)
            else:
                out[key] = value
    return out


def frozen(p: dict[str, Any]) -> dict[str, Tensor]:
    """The cached feature inputs of the task parameters `p` (built on a miss)."""
    names = ("encoder", "pretrained", "n_views", "view_seed", "n_captions", "templates", "keywords")
    names += ("n_keywords", "contamination")
    key = {**{k: p[k] for k in names}, "data": data.fingerprint(p)}
    if p["heads"] == "clip":  # heads=fresh keeps the key of the unit features it has always had
        key["features"] = "before CLIP's projections"
    return cache.tensors("rs-features", key, lambda: build(p))


def sentences(p: dict[str, Any]) -> dict[str, Tensor]:
    """MiniLM sentence features (float32, tasks/_sentences.py) of the first caption of each train item
    (`train_b`, (N, F): what a frozen feature reads of an item, tasks/_frozen.py) and of every other text
    input (inputs.texts), row for row; cached under the data's identity and the parameters of the texts
    (the data is read only to build them), the same entry in both modes and for every open_clip model."""

    def strings() -> dict[str, list[str]]:
        raw = data.read(p)
        found = inputs.texts(raw, p, inputs.vocabulary(raw, p))
        return {**found, "train_b": found["train_b"][:: p["n_captions"]]}

    names = ("templates", "keywords", "n_keywords", "contamination")
    key = {**{k: p[k] for k in names}, "data": data.fingerprint(p)}
    return _sentences.cached("rs-text", key, strings, _sentences.MINILM)
