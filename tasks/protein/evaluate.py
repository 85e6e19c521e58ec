"""Evaluation of the protein task: retrieval, zero-shot classification, two reference values.

- a2b_r{1,5,10}: each test protein ranks the distinct test texts; every text equal to its own is
  the positive. b2a_r{1,5,10}: each distinct test text ranks the test proteins; every protein with
  that text is a positive.
- a2b_map, b2a_map: mean average precision of the same rankings (every positive counts, over the whole
  gallery), the measure ProTrek reports for sequence → function and function → sequence search (Su et al.,
  Nat Biotechnol 2025, Fig. 2a: "MAP (mean average precision)"; its repository, westlake-repl/ProTrek, has
  no evaluation code, so the definition is the standard one: tasks/metrics.py `average_precision`).
- align_mknn, align_cka, align_cknna: the alignment of each test protein with its text's embedding
  (tasks/alignment.py).
- zs_top1, zs_top5, zs_mpcr: the test proteins whose text is one of the `zs_classes` most frequent
  test texts (ties by text id), classified among those texts.
- ref_nn_a2b_r1 (no training): each test protein takes the text of its most similar paired train
  protein (cosine on the frozen standardised features); the fraction right. NaN with no pairs.
- ref_majority_zs_top1 (no training): zero-shot top-1 of always answering the most frequent class.

`evaluate_items` computes the same on train-pool items (the validation split of tuning): they play
the test proteins, their distinct texts the gallery; ref_nn is NaN there (no pairs are consulted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from tasks import alignment
from tasks._shared import embed_pool, model_device
from tasks.metrics import mean_average_precision, retrieval, zero_shot
from tasks.protein.towers import ProteinPool

EMBED_BATCH = 1024


@dataclass
class EvalData:
    """Test proteins (standardised whole-sequence features, text id each), the distinct test text ids
    (sorted) with their standardised features, and the train pool with its text ids."""

    test_a: Tensor
    test_text: Tensor
    gallery: Tensor
    gallery_b: Tensor
    train_a: ProteinPool
    train_text: Tensor
    zs_classes: int


def nearest_text(query: Tensor, reference: Tensor, reference_text: Tensor, batch: int = 1024) -> Tensor:
    """Text id of the most cosine-similar reference row of each query row (first one on ties)."""
    ref = torch.nn.functional.normalize(reference, dim=1)

    def nearest(q: Tensor) -> Tensor:
        return reference_text[(torch.nn.functional.normalize(q, dim=1) @ ref.T).argmax(dim=1)]

    return embed_pool(nearest, query, ref.device, batch)


def zs_classes(test_text: Tensor, k: int) -> Tensor:
    """The k most frequent text ids of the test set, most frequent first, ties by smaller id."""
    ids, counts = test_text.unique(return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-int(counts[i]), int(ids[i])))
    return ids[order[:k]]


def evaluate(model: Any, data: EvalData, paired: Tensor) -> dict[str, float]:
    """All metrics of the protein task for a model with embed_a / embed_b (unit rows)."""
    gallery = data.gallery
    device = model_device(model)
    za = embed_pool(model.embed_a, data.test_a, device, EMBED_BATCH)
    zb = embed_pool(model.embed_b, data.gallery_b, device, EMBED_BATCH)
    positives = data.test_text[:, None] == gallery[None, :]
    scores = za @ zb.T
    out = retrieval(za, zb, positives)
    out["a2b_map"] = mean_average_precision(scores, positives)
    out["b2a_map"] = mean_average_precision(scores.T, positives.T)
    out.update(alignment.alignment(za, zb[torch.searchsorted(gallery, data.test_text)]))

    classes = zs_classes(data.test_text, data.zs_classes)
    queries = torch.isin(data.test_text, classes)
    position = {int(c): i for i, c in enumerate(classes)}
    labels = torch.tensor([position[int(t)] for t in data.test_text[queries]], dtype=torch.long)
    out.update(zero_shot(za[queries] @ zb[torch.searchsorted(gallery, classes)].T, labels))

    if len(paired):
        guess = nearest_text(data.test_a, data.train_a.whole(paired), data.train_text[paired])
        out["ref_nn_a2b_r1"] = float((guess == data.test_text).float().mean())
    else:
        out["ref_nn_a2b_r1"] = float("nan")
    out["ref_majority_zs_top1"] = float((labels == 0).float().mean())
    return out


def evaluate_items(model: Any, data: EvalData, train_b: Tensor, idx: Tensor) -> dict[str, float]:
    """`evaluate` with train-pool items `idx` as the test set; `train_b`: the pool's text features."""
    text = data.train_text[idx]
    order = torch.argsort(text, stable=True)
    ordered = text[order]
    first = order[torch.cat([torch.tensor([True]), ordered[1:] != ordered[:-1]])]
    held = replace(
        data,
        test_a=data.train_a.whole(idx),
        test_text=text,
        gallery=text[first],
        gallery_b=train_b[idx][first],
    )
    return evaluate(model, held, idx[:0])


def protocols(data: EvalData) -> dict[str, dict]:
    """How each metric of `evaluate` is measured (TaskData.about `protocols`)."""
    n, texts = len(data.test_text), len(data.gallery)
    base = {
        "set": "test",
        "split": "test",
        "protocol": "same_text",
        "positives": "every item of the same text",
    }
    out: dict[str, dict] = {}
    for k in (1, 5, 10):
        out[f"a2b_r{k}"] = {**base, "direction": "protein → text", "queries": n, "gallery": texts}
        out[f"b2a_r{k}"] = {**base, "direction": "text → protein", "queries": texts, "gallery": n}
    out["a2b_map"] = {**out["a2b_r1"], "source": "ProTrek's MAP (standard definition)"}
    out["b2a_map"] = {**out["b2a_r1"], "source": "ProTrek's MAP (standard definition)"}
    for metric in ("align_mknn", "align_cka", "align_cknna"):
        out[metric] = {
            "set": "test",
            "split": "test",
            **alignment.protocol(n),
            "pairs": "each protein, its text",
        }
    zs = {
        "set": "test",
        "split": "test",
        "protocol": "zero_shot",
        "classes": f"the {data.zs_classes} most frequent texts",
    }
    out.update(dict.fromkeys(("zs_top1", "zs_top5", "zs_mpcr"), zs))
    out["ref_nn_a2b_r1"] = {
        **out["a2b_r1"],
        "protocol": "reference",
        "how": "nearest paired train protein's text",
    }
    out["ref_majority_zs_top1"] = {**zs, "protocol": "reference", "how": "always the most frequent class"}
    return out
