"""Metrics of the rs task: retrieval under both protocols on each test split, alignment, zero-shot accuracy.

Retrieval (per caption set d), image → text `a2b` and text → image `b2a`, k = 1, 5, 10:
- all captions (RemoteCLIP's and GeoRSCLIP's protocol, CLIP_benchmark's definition): `d_a2b_r{k}`,
  `d_b2a_r{k}` over every caption of the split, each caption of an image a positive; `d_recall_mean`, the
  mean of the six (the RS papers' mR).
- one caption (S-CLIP's: open_clip's `get_clip_metrics` on one caption drawn per image, tasks/metrics.py
  `one_caption`): `d_one_a2b_r{k}`, `d_one_b2a_r{k}`, `d_one_recall_mean`.
- alignment of the images with their drawn captions (tasks/alignment.py): `d_align_mknn`, `d_align_cka`,
  `d_align_cknna`.
Zero-shot (per set z): `z_top1`, `z_top5`, `z_mpcr`, the prompts of a class embedded by the text tower,
averaged over templates and normalised (or, for a model whose `prompt_pooling` is `max`, the best
template's score: tasks/metrics.py `class_scores`). Summaries: `zs_top1_mean` (the primary metric) and
`ret_r1_mean`, the mean of the all-captions a2b_r1 and b2a_r1 over the sets. `protocols` says how each
metric was measured (TaskData.about `protocols`).
"""

from __future__ import annotations

from statistics import mean
from typing import Any

import torch
from torch import Tensor

from tasks import alignment
from tasks._shared import embed_pool, model_device
from tasks.metrics import (
    ONE_CAPTION_SEED,
    class_scores,
    mean_recall,
    one_caption,
    one_caption_each,
    retrieval,
    zero_shot,
)

KS = (1, 5, 10)
DIRECTIONS = {"a2b": "image → text", "b2a": "text → image"}


def ranked(model: Any, images: Any, texts: Any, owner: Tensor, batch: int) -> dict[str, float]:
    """Both protocols and the alignment of images against texts; caption j belongs to image owner[j]."""
    device = model_device(model)
    za = embed_pool(model.embed_a, images, device, batch)
    zb = embed_pool(model.embed_b, texts, device, batch)
    out = retrieval(za, zb, owner[None, :] == torch.arange(len(za))[:, None], KS)
    out["recall_mean"] = mean_recall(out)
    out.update(one_caption(za, zb, owner, KS))
    return {**out, **alignment.alignment(za, zb[one_caption_each(owner, len(za))])}


def evaluate(model: Any, inputs: dict[str, Any], n_templates: int, batch: int) -> dict[str, float]:
    device = model_device(model)
    out: dict[str, float] = {}
    sets = [k.split("/")[1] for k in inputs if k.startswith("ret/") and k.endswith("/owner")]
    for name in sets:
        i = inputs
        metrics = ranked(
            model, i[f"ret/{name}/images"], i[f"ret/{name}/texts"], i[f"ret/{name}/owner"], batch
        )
        out.update({f"{name}_{k}": v for k, v in metrics.items()})
    zs_names = [k.split("/")[1] for k in inputs if k.startswith("zs/") and k.endswith("/labels")]
    for name in zs_names:
        za = embed_pool(model.embed_a, inputs[f"zs/{name}/images"], device, batch)
        zp = embed_pool(model.embed_b, inputs[f"zs/{name}/prompts"], device, batch)
        scores = class_scores(za, zp, n_templates, getattr(model, "prompt_pooling", "mean"))
        out.update(zero_shot(scores, inputs[f"zs/{name}/labels"], prefix=name))
    if zs_names:
        out["zs_top1_mean"] = mean(out[f"{z}_top1"] for z in zs_names)
    if sets:
        out["ret_r1_mean"] = mean(out[f"{d}_{k}"] for d in sets for k in ("a2b_r1", "b2a_r1"))
    return out


def evaluate_items(model: Any, images: Any, captions: Tensor, batch: int) -> dict[str, float]:
    """Retrieval among train-pool items (the validation split) over all their captions (n, m, ·):
    a2b_r{k}, b2a_r{k} and ret_r1_mean. They have no class labels, so no zero-shot metric."""
    n, m = captions.shape[:2]
    device = model_device(model)
    za = embed_pool(model.embed_a, images, device, batch)
    zb = embed_pool(model.embed_b, captions.flatten(0, 1), device, batch)
    owner = torch.arange(n).repeat_interleave(m)
    out = retrieval(za, zb, owner[None, :] == torch.arange(n)[:, None], KS)
    out["ret_r1_mean"] = mean([out["a2b_r1"], out["b2a_r1"]])
    return out


def protocols(inputs: dict[str, Any], about: dict, templates: list[str]) -> dict[str, dict]:
    """How each metric of `evaluate` on `inputs` is measured: per metric its protocol, set, split, queries
    and gallery (or, for zero-shot, the classes, templates and pooling), and the source it follows."""
    split = {name: fields.get("split") for name, fields in about.get("eval_sets", {}).items()}
    out: dict[str, dict] = {}
    sets = [k.split("/")[1] for k in inputs if k.startswith("ret/") and k.endswith("/owner")]
    for name in sets:
        n, n_cap = len(inputs[f"ret/{name}/images"]), len(inputs[f"ret/{name}/owner"])
        base = {"set": name, "split": split.get(name)}
        every = {**base, "protocol": "all_captions", "captions_per_item": f"all ({n_cap} for {n} images)"}
        every["source"] = "CLIP_benchmark (RemoteCLIP, GeoRSCLIP)"
        one = {**base, "protocol": "one_caption", "captions_per_item": f"1, drawn (seed {ONE_CAPTION_SEED})"}
        one["source"] = "open_clip get_clip_metrics (S-CLIP)"
        for d, words in DIRECTIONS.items():
            for k in KS:
                queries, gallery = (n, n_cap) if d == "a2b" else (n_cap, n)
                out[f"{name}_{d}_r{k}"] = {
                    **every,
                    "direction": words,
                    "queries": queries,
                    "gallery": gallery,
                }
                out[f"{name}_one_{d}_r{k}"] = {**one, "direction": words, "queries": n, "gallery": n}
        out[f"{name}_recall_mean"] = {**every, "direction": "mean of the six R@k"}
        out[f"{name}_one_recall_mean"] = {**one, "direction": "mean of the six R@k"}
        for metric in ("align_mknn", "align_cka", "align_cknna"):
            out[f"{name}_{metric}"] = {
                **base,
                **alignment.protocol(n),
                "pairs": "each image, its drawn caption",
            }
    if sets:
        out["ret_r1_mean"] = {"protocol": "all_captions", "set": ",".join(sets), "direction": "mean of R@1"}
    zs = [k.split("/")[1] for k in inputs if k.startswith("zs/") and k.endswith("/labels")]
    for name in zs:
        labels = inputs[f"zs/{name}/labels"]
        record = {
            "protocol": "zero_shot",
            "set": name,
            "split": split.get(name),
            "queries": len(labels),
            "classes": int(labels.max()) + 1 if len(labels) else 0,
            "templates": " | ".join(templates),
            "pooling": "mean over templates (max for a model whose prompt_pooling is max)",
        }
        for metric in ("top1", "top5", "mpcr"):
            out[f"{name}_{metric}"] = record
    if zs:
        out["zs_top1_mean"] = {
            "protocol": "zero_shot",
            "set": ",".join(zs),
            "templates": " | ".join(templates),
        }
    return out
