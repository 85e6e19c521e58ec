"""Retrieval recall@k (multi-positive, CLIP_benchmark's definition) and zero-shot accuracy."""

import math

import pytest
import torch

from tasks.metrics import (
    average_precision,
    first_positive_rank,
    mean_average_precision,
    mean_recall,
    one_caption,
    one_caption_each,
    recall_at_k,
    recalls_at,
    retrieval,
    zero_shot,
)


def test_recall_counts_a_query_when_any_positive_is_in_the_top_k():
    scores = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8], [0.7, 0.6, 0.5]])
    positives = torch.tensor([[1, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=torch.bool)
    assert recall_at_k(scores, positives, 1) == pytest.approx(1 / 3)
    assert recall_at_k(scores, positives, 2) == pytest.approx(2 / 3)
    assert recall_at_k(scores, positives, 3) == 1.0
    assert recall_at_k(scores, positives, 10) == 1.0


def sorted_recall(scores, positives, k):
    """The plain reference: a stable descending sort, then whether a positive is among the first k."""
    top = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, : min(k, scores.shape[1])]
    return float(torch.gather(positives.bool(), 1, top).any(dim=1).float().mean())


@pytest.mark.parametrize("seed", range(5))
def test_recall_from_rank_counts_equals_a_stable_sort_with_ties_and_queries_without_positives(seed):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 4, (40, 30), generator=gen).float()  # many ties
    positives = torch.rand(40, 30, generator=gen) < 0.1
    positives[:3] = False
    ks = (1, 2, 5, 10, 30, 50)
    assert recalls_at(scores, positives, ks) == {k: sorted_recall(scores, positives, k) for k in ks}
    assert (first_positive_rank(scores, positives)[:3] == 30).all()


def test_nan_scores_rank_last():
    scores = torch.tensor([[float("nan"), 0.1, 0.2], [float("nan")] * 3])
    positives = torch.tensor([[1, 0, 0], [0, 1, 0]], dtype=torch.bool)
    assert first_positive_rank(scores, positives).tolist() == [2, 1]


def test_recall_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        recall_at_k(torch.zeros(2, 3), torch.zeros(3, 2, dtype=torch.bool), 1)


def test_retrieval_on_identical_embeddings_is_perfect_and_reversed_is_not():
    z = torch.nn.functional.normalize(torch.randn(20, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    eye = torch.eye(20, dtype=torch.bool)
    assert retrieval(z, z, eye) == {f"{d}_r{k}": 1.0 for d in ("a2b", "b2a") for k in (1, 5, 10)}
    shuffled = retrieval(z, z.flip(0), eye)
    assert shuffled["a2b_r1"] < 0.5


def test_zero_shot_top1_top5_and_mean_per_class_recall():
    scores = torch.tensor([[5.0, 1, 0, 0, 0, 0], [0, 5, 1, 0, 0, 0], [5, 4, 3, 2, 1, 0], [0, 0, 0, 0, 0, 5]])
    labels = torch.tensor([0, 1, 5, 5])
    out = zero_shot(scores, labels)
    assert out["zs_top1"] == 0.75
    assert out["zs_top5"] == 0.75
    assert out["zs_mpcr"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert "zs_top5" not in zero_shot(scores[:, :3], torch.tensor([0, 1, 2, 2]))


def reference_clip_metrics(image_features, text_features):
    """open_clip training/train.py `get_clip_metrics` (R@k only), transcribed: the diagonal is the truth."""
    logits = {"a2b": image_features @ text_features.T, "b2a": text_features @ image_features.T}
    truth = torch.arange(len(text_features)).view(-1, 1)
    out = {}
    for name, logit in logits.items():
        ranking = torch.argsort(logit, descending=True)
        preds = torch.where(ranking == truth)[1]
        for k in (1, 5, 10):
            out[f"one_{name}_r{k}"] = float((preds < k).float().mean())
    return out


def test_one_caption_is_get_clip_metrics_on_one_drawn_caption_per_item():
    gen = torch.Generator().manual_seed(0)
    owner = torch.tensor([0, 0, 1, 2, 2, 2, 3] + [i for i in range(4, 30) for _ in range(5)])
    owner = owner[torch.randperm(len(owner), generator=gen)]  # captions in any order
    za = torch.nn.functional.normalize(torch.randn(30, 8, generator=gen), dim=1)
    zb = torch.nn.functional.normalize(za[owner] + 0.8 * torch.randn(len(owner), 8, generator=gen), dim=1)
    pick = one_caption_each(owner, 30)
    assert (owner[pick] == torch.arange(30)).all() and torch.equal(pick, one_caption_each(owner, 30))
    out = one_caption(za, zb, owner)
    reference = reference_clip_metrics(za, zb[pick])
    assert {k: out[k] for k in reference} == reference
    assert out["one_recall_mean"] == pytest.approx(mean_recall(out, "one_"))
    draws = torch.stack([one_caption_each(owner, 30, seed) for seed in range(200)])
    assert len(set(draws[:, 2].tolist())) == 3  # item 2's three captions are each drawn
    with pytest.raises(ValueError, match="every item needs a caption"):
        one_caption_each(owner, 31)


def slow_average_precision(scores, positives):
    out = []
    for s, p in zip(scores.tolist(), positives.tolist(), strict=True):
        order = sorted(range(len(s)), key=lambda j: (-s[j], j))
        hits, total = 0, 0.0
        for rank, j in enumerate(order, start=1):
            if p[j]:
                hits += 1
                total += hits / rank
        out.append(total / hits if hits else float("nan"))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_average_precision_equals_the_definition_with_ties(seed):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 5, (25, 18), generator=gen).double()
    positives = torch.rand(25, 18, generator=gen) < 0.2
    positives[torch.arange(25), torch.randint(0, 18, (25,), generator=gen)] = True  # one at least
    positives[0] = False
    ap = average_precision(scores, positives)
    reference = slow_average_precision(scores, positives)
    assert math.isnan(ap[0]) and ap[1:].tolist() == pytest.approx(reference[1:])
    assert mean_average_precision(scores, positives, batch=4) == pytest.approx(sum(reference[1:]) / 24)


def test_map_of_a_perfect_and_of_a_last_ranked_positive():
    scores = torch.tensor([[0.9, 0.1, 0.2, 0.3], [0.9, 0.8, 0.7, 0.1]])
    positives = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 1]], dtype=torch.bool)
    assert average_precision(scores, positives).tolist() == [1.0, 0.25]
