"""Metrics of the rs task: retrieval over every caption of each test split, and zero-shot accuracy.

Retrieval (per caption set d): `d_a2b_r{1,5,10}` image → text and `d_b2a_r{1,5,10}` text → image,
every caption of an image a positive. Zero-shot (per set z): `z_top1`, `z_top5`, `z_mpcr`, the
prompts of a class embedded by the text tower, averaged over templates and normalised (or, for a model
whose `prompt_pooling` is `max`, the best template's score: tasks/metrics.py `class_scores`). Summaries:
`zs_top1_mean` (the primary metric) and `ret_r1_mean`, the mean of a2b_r1 and b2a_r1 over the sets.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

import torch
from torch import Tensor

from tasks._shared import embed_pool, model_device
from tasks.metrics import class_scores, retrieval, zero_shot


def ranked(model: Any, images: Any, texts: Any, owner: Tensor, batch: int) -> dict[str, float]:
    """a2b_r{k} and b2a_r{k} of images against texts; caption j belongs to image owner[j]."""
    device = model_device(model)
    za = embed_pool(model.embed_a, images, device, batch)
    zb = embed_pool(model.embed_b, texts, device, batch)
    return retrieval(za, zb, owner[None, :] == torch.arange(len(za))[:, None])


def evaluate(model: Any, inputs: dict[str, Any], n_templates: int, batch: int) -> dict[str, float]:
    device = model_device(model)
    out: dict[str, float] = {}
    for key in [k for k in inputs if k.startswith("ret/") and k.endswith("/owner")]:
        name = key.split("/")[1]
        metrics = ranked(model, inputs[f"ret/{name}/images"], inputs[f"ret/{name}/texts"], inputs[key], batch)
        out.update({f"{name}_{k}": v for k, v in metrics.items()})
    zs_names = [k.split("/")[1] for k in inputs if k.startswith("zs/") and k.endswith("/labels")]
    for name in zs_names:
        za = embed_pool(model.embed_a, inputs[f"zs/{name}/images"], device, batch)
        zp = embed_pool(model.embed_b, inputs[f"zs/{name}/prompts"], device, batch)
        scores = class_scores(za, zp, n_templates, getattr(model, "prompt_pooling", "mean"))
        out.update(zero_shot(scores, inputs[f"zs/{name}/labels"], prefix=name))
    if zs_names:
        out["zs_top1_mean"] = mean(out[f"{z}_top1"] for z in zs_names)
    recalls = [v for k, v in out.items() if k.endswith(("_a2b_r1", "_b2a_r1"))]
    if recalls:
        out["ret_r1_mean"] = mean(recalls)
    return out


def evaluate_items(model: Any, images: Any, captions: Tensor, batch: int) -> dict[str, float]:
    """Retrieval among train-pool items (the validation split) over all their captions (n, m, ·):
    a2b_r{k}, b2a_r{k} and ret_r1_mean. They have no class labels, so no zero-shot metric."""
    n, m = captions.shape[:2]
    out = ranked(model, images, captions.flatten(0, 1), torch.arange(n).repeat_interleave(m), batch)
    out["ret_r1_mean"] = mean([out["a2b_r1"], out["b2a_r1"]])
    return out
