"""Metrics of the vl task on its test split.

Retrieval (tasks/metrics.py `recalls_at`, CLIP_benchmark's definition: a query hits at k when one
of its positives is among its k nearest), positives by content: caption j is a positive of image i
when its text is one of image i's captions (every caption of an image, and an identical caption of
another image, as the template captions of class data often are). `a2b_r{k}`: image → text, the gallery
the distinct test captions (identical captions are one item, so that k nearest are k different texts);
`b2a_r{k}`: text → image, every test caption a query, the test images the gallery; k = 1, 5, 10. With
unique captions (Flickr30k, COCO) this is CLIP_benchmark's retrieval over all captions.
`recall_mean`, the primary metric, is the mean of these six. The one-caption protocol of S-CLIP's evaluation
(open_clip's `get_clip_metrics` on one caption drawn per image, the diagonal alone positive: tasks/metrics.py
`one_caption`): `one_a2b_r{k}`, `one_b2a_r{k}`, `one_recall_mean`. The alignment of the test images with
their drawn captions (tasks/alignment.py): `align_mknn`, `align_cka`, `align_cknna`. Where the data has
classes, zero-shot classification of the test images (`zs_top1`, `zs_top5`, `zs_mpcr`) against class
embeddings: the text embeddings of a class's prompts, one per caption template, averaged and normalised
(or, for a model whose `prompt_pooling` is `max`, the best template's score: tasks/metrics.py `class_scores`).
"""

from __future__ import annotations

from statistics import mean
from typing import Any

import torch
from torch import Tensor

from tasks import alignment
from tasks._shared import embed_pool, model_device
from tasks.metrics import ONE_CAPTION_SEED, class_scores, one_caption, one_caption_each, recalls_at, zero_shot


def positives(owner: Tensor, text_ids: Tensor, n_images: int) -> Tensor:
    """(n_images × captions) bool: caption j (of image owner[j], text text_ids[j]) is a positive of image
    i when its text is the text of one of image i's captions."""
    has = torch.zeros(n_images, int(text_ids.max()) + 1, dtype=torch.bool)
    has[owner, text_ids] = True
    return has[:, text_ids]


def first_of_each(ids: Tensor) -> Tensor:
    """The index of the first occurrence of each distinct value of `ids`, in the order of the values."""
    order = torch.argsort(ids, stable=True)
    ranked = ids[order]
    new = torch.ones_like(ranked, dtype=torch.bool)
    new[1:] = ranked[1:] != ranked[:-1]
    return order[new]


def recalls(za: Tensor, zb: Tensor, owner: Tensor, text_ids: Tensor, ks=(1, 5, 10)) -> dict[str, float]:
    """a2b_r{k} (over the distinct captions), b2a_r{k} (every caption a query) of unit image rows `za`
    and unit caption rows `zb` (caption j of image owner[j], with text id text_ids[j]; `positives`), and
    `recall_mean`, the mean of the six."""
    pos = positives(owner, text_ids, len(za))
    gallery = first_of_each(text_ids)
    a2b = za @ zb[gallery].T
    a2b_at, b2a_at = recalls_at(a2b, pos[:, gallery], ks), recalls_at(zb @ za.T, pos.T, ks)
    out = {**{f"a2b_r{k}": a2b_at[k] for k in ks}, **{f"b2a_r{k}": b2a_at[k] for k in ks}}
    return {**out, "recall_mean": mean(out.values())}


def evaluate(model: Any, inputs: dict[str, Any], n_templates: int, batch: int) -> dict[str, float]:
    """Retrieval on the test split and, with `zs_labels` among the inputs, zero-shot accuracy."""
    device = model_device(model)
    za = embed_pool(model.embed_a, inputs["test_images"], device, batch)
    zb = embed_pool(model.embed_b, inputs["test_texts"], device, batch)
    owner = inputs["test_owner"]
    out = recalls(za, zb, owner, inputs["test_text_ids"])
    out.update(one_caption(za, zb, owner))
    out.update(alignment.alignment(za, zb[one_caption_each(owner, len(za))]))
    if "zs_labels" in inputs:
        zp = embed_pool(model.embed_b, inputs["zs_prompts"], device, batch)
        scores = class_scores(za, zp, n_templates, getattr(model, "prompt_pooling", "mean"))
        out.update(zero_shot(scores, inputs["zs_labels"], prefix="zs"))
    return out


def evaluate_items(
    model: Any, images: Any, captions: Tensor, text_ids: Tensor, batch: int
) -> dict[str, float]:
    """Retrieval among train-pool items (the validation split) over all their captions (n, m, ·), whose
    text ids are `text_ids` (n, m)."""
    device = model_device(model)
    n, m = captions.shape[:2]
    za = embed_pool(model.embed_a, images, device, batch)
    zb = embed_pool(model.embed_b, captions.flatten(0, 1), device, batch)
    return recalls(za, zb, torch.arange(n).repeat_interleave(m), text_ids.flatten())


def protocols(inputs: dict[str, Any], about: dict, templates: list[str]) -> dict[str, dict]:
    """How each metric of `evaluate` on `inputs` is measured (TaskData.about `protocols`)."""
    n, n_cap = len(inputs["test_images"]), len(inputs["test_owner"])
    distinct = len(first_of_each(inputs["test_text_ids"]))
    base = {"set": "test", "split": about.get("eval_sets", {}).get("test", {}).get("split", "test")}
    every = {**base, "protocol": "all_captions", "captions_per_item": f"all ({n_cap} for {n} images)"}
    every["source"] = "CLIP_benchmark (identical captions one gallery item)"
    one = {**base, "protocol": "one_caption", "captions_per_item": f"1, drawn (seed {ONE_CAPTION_SEED})"}
    one["source"] = "open_clip get_clip_metrics (S-CLIP)"
    out: dict[str, dict] = {}
    for k in (1, 5, 10):
        out[f"a2b_r{k}"] = {**every, "direction": "image → text", "queries": n, "gallery": distinct}
        out[f"b2a_r{k}"] = {**every, "direction": "text → image", "queries": n_cap, "gallery": n}
        for d, words in (("a2b", "image → text"), ("b2a", "text → image")):
            out[f"one_{d}_r{k}"] = {**one, "direction": words, "queries": n, "gallery": n}
    out["recall_mean"] = {**every, "direction": "mean of the six R@k"}
    out["one_recall_mean"] = {**one, "direction": "mean of the six R@k"}
    for metric in ("align_mknn", "align_cka", "align_cknna"):
        out[metric] = {**base, **alignment.protocol(n), "pairs": "each image, its drawn caption"}
    if "zs_labels" in inputs:
        labels = inputs["zs_labels"]
        record = {
            **base,
            "protocol": "zero_shot",
            "queries": len(labels),
            "classes": int(labels.max()) + 1 if len(labels) else 0,
            "templates": " | ".join(templates),
            "pooling": "mean over templates (max for a model whose prompt_pooling is max)",
        }
        out.update(dict.fromkeys(("zs_top1", "zs_top5", "zs_mpcr"), record))
    return out
