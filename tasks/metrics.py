"""Evaluation metrics: multi-positive retrieval recall@k and zero-shot classification.

Retrieval follows CLIP_benchmark: a query scores 1 at k when any of its positives is among its
k highest-scoring gallery items; recall@k is the mean over queries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PROMPT_POOLING = ("mean", "max")


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
