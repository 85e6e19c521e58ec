"""Evaluation metrics: multi-positive retrieval recall@k, mean recall, MAP and zero-shot classification.

Retrieval follows CLIP_benchmark: a query scores 1 at k when any of its positives is among its
k highest-scoring gallery items; recall@k is the mean over queries. Two protocols for items with several
captions (docs/tasks.md, "Retrieval protocols"): all captions (every caption of an item a positive,
CLIP_benchmark, RemoteCLIP, GeoRSCLIP) and one caption (`one_caption`: one caption drawn per item and
the n × n matrix of items against those captions, open_clip's `get_clip_metrics` as S-CLIP evaluates).
"""

from __future__ import annotations

from statistics import mean

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.protocols import PROMPT_POOLING


def first_positive_rank(scores: Tensor, positives: Tensor) -> Tensor:
    """(queries,) the 0-based rank of each query's best-ranked positive in its gallery ordered by
    descending score, ties by gallery order (a stable sort), counted without sorting: with s* the highest
    score of a positive and j* the first positive scoring s*, #(score > s*) + #(score = s*, index < j*).
    A NaN score ranks last; a query without positives gets the gallery size (never within any k)."""
    if scores.shape != positives.shape:
        raise ValueError(
            f"scores {tuple(scores.shape)} and positives {tuple(positives.shape)} differ in shape"
        )
    pos, scores = positives.bool(), scores.nan_to_num(nan=float("-inf"))
    masked = scores.masked_fill(~pos, float("-inf"))
    best = masked.max(dim=1, keepdim=True).values
    first = (pos & (scores == best)).int().argmax(dim=1, keepdim=True)  # argmax: the first index of the max
    index = torch.arange(scores.shape[1], device=scores.device)
    rank = (scores > best).sum(dim=1) + ((scores == best) & (index < first)).sum(dim=1)
    return torch.where(pos.any(dim=1), rank, scores.shape[1])


def recall_at_k(scores: Tensor, positives: Tensor, k: int) -> float:
    """Mean over queries of 1[any positive in the top k]. scores, positives: (queries × gallery).

    Ties are broken by gallery order (stable), so the value is deterministic."""
    return recalls_at(scores, positives, (k,))[k]


def recalls_at(scores: Tensor, positives: Tensor, ks=(1, 5, 10)) -> dict[int, float]:
    """recall_at_k for each k of `ks`, from one rank count (first_positive_rank)."""
    rank = first_positive_rank(scores, positives)
    n = scores.shape[1]
    return {k: float((rank < min(k, n)).float().mean()) for k in ks}


def retrieval(za: Tensor, zb: Tensor, positives: Tensor, ks=(1, 5, 10)) -> dict[str, float]:
    """a2b_r{k} and b2a_r{k} for unit rows za (n_a × d), zb (n_b × d); positives (n_a × n_b)."""
    scores = za @ zb.T
    a2b, b2a = recalls_at(scores, positives, ks), recalls_at(scores.T, positives.T, ks)
    return {**{f"a2b_r{k}": a2b[k] for k in ks}, **{f"b2a_r{k}": b2a[k] for k in ks}}


def mean_recall(metrics: dict[str, float], prefix: str = "") -> float:
    """The RS papers' mR: the mean of `{prefix}a2b_r{1,5,10}` and `{prefix}b2a_r{1,5,10}`."""
    return mean(metrics[f"{prefix}{d}_r{k}"] for d in ("a2b", "b2a") for k in (1, 5, 10))


ONE_CAPTION_SEED = 0


def one_caption_each(owner: Tensor, n_items: int, seed: int = ONE_CAPTION_SEED) -> Tensor:
    """(n_items,) the index of one caption of each item (caption j belongs to item owner[j]), drawn
    uniformly among the item's captions by a generator seeded `seed`: S-CLIP's evaluation draws one with
    `random.choice` for each item (alinlab/s-clip custom/data.py, `TokenizedDataset.__getitem__`); here the
    draw is seeded, so that a run's numbers repeat. Every item needs a caption."""
    counts = torch.bincount(owner, minlength=n_items)
    if len(counts) > n_items or bool((counts == 0).any()):
        raise ValueError("one_caption_each: every item needs a caption, and owners must be below n_items")
    order = torch.argsort(owner, stable=True)
    start = torch.cumsum(counts, 0) - counts
    u = torch.rand(n_items, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return order[start + (u * counts).long().clamp(max=counts - 1)]


def one_caption(za: Tensor, zb: Tensor, owner: Tensor, ks=(1, 5, 10)) -> dict[str, float]:
    """`one_a2b_r{k}`, `one_b2a_r{k}` and `one_recall_mean`: open_clip's `get_clip_metrics` (the ground
    truth `arange(n)`, the diagonal, alone a positive) on the n unit item rows `za` and the one caption of
    each (`one_caption_each`) among the caption rows `zb`. Ties rank by gallery order (get_clip_metrics'
    argsort leaves their order unspecified; they do not occur with continuous scores)."""
    pick = one_caption_each(owner, len(za))
    out = {
        f"one_{k}": v for k, v in retrieval(za, zb[pick], torch.eye(len(za), dtype=torch.bool), ks).items()
    }
    return {**out, "one_recall_mean": mean_recall(out, "one_")}


def average_precision(scores: Tensor, positives: Tensor) -> Tensor:
    """(queries,) AP = (1/|P|) Σ_{ranks r of positives} precision@r over the whole gallery ordered by
    descending score (ties by gallery order); NaN for a query without positives."""
    order = torch.sort(scores.nan_to_num(nan=float("-inf")), dim=1, descending=True, stable=True).indices
    hit = positives.bool().gather(1, order).to(torch.float64)
    precision = hit.cumsum(1) / torch.arange(1, scores.shape[1] + 1, dtype=torch.float64)
    return (precision * hit).sum(1) / hit.sum(1)


def mean_average_precision(scores: Tensor, positives: Tensor, batch: int = 1024) -> float:
    """MAP: the mean of `average_precision` over the queries that have a positive (rows in batches)."""
    ap = torch.cat(
        [
            average_precision(scores[i : i + batch], positives[i : i + batch])
            for i in range(0, len(scores), batch)
        ]
    )
    return float(ap[~ap.isnan()].mean())


def zero_shot(scores: Tensor, labels: Tensor, prefix: str = "zs") -> dict[str, float]:
    """Classification of queries among classes by score (queries × classes), labels (queries,).

    `{prefix}_top1`, `{prefix}_top5` (only with 5 or more classes) and `{prefix}_mpcr`, the mean
    over the classes present of the per-class recall (top-1)."""
    n_classes = scores.shape[1]
    ranked = torch.sort(scores, dim=1, descending=True, stable=True).indices
    correct1 = ranked[:, 0] == labels
    out = {f"{prefix}_top1": float(correct1.float().mean())}
    if n_classes >= 5:
        out[f"{prefix}_top5"] = float((ranked[:, :5] == labels[:, None]).any(dim=1).float().mean())
    present = labels.unique()
    per_class = torch.stack([correct1[labels == c].float().mean() for c in present])
    out[f"{prefix}_mpcr"] = float(per_class.mean())
    return out


def class_embeddings(zp: Tensor, n_templates: int) -> Tensor:
    """(C, d) unit class embeddings from template-major prompt embeddings (T · C, d): the mean over the
    templates of each class, normalised."""
    return F.normalize(zp.view(n_templates, -1, zp.shape[-1]).mean(0), dim=-1)


def class_scores(za: Tensor, zp: Tensor, n_templates: int, pooling: str = "mean") -> Tensor:
    """(n × C) zero-shot scores of queries `za` against template-major prompt embeddings `zp` (T · C, d).

    `mean` (every method): za · class_embeddings(zp)ᵀ. `max`: the best template's score, max_t za · zp_tcᵀ,
    the rule of ASIF's released code (`relreps.py`, `zero_shot_classification`: the argmax over every
    prompt, whose class is the prediction)."""
    if pooling == "mean":
        return za @ class_embeddings(zp, n_templates).T
    if pooling == "max":
        return (za @ zp.T).view(len(za), n_templates, -1).amax(1)
    raise ValueError(f"prompt pooling {pooling!r}: one of {', '.join(PROMPT_POOLING)}")
