"""Retrieval recall@k (multi-positive, CLIP_benchmark's definition) and zero-shot accuracy."""

import pytest
import torch

from tasks.metrics import first_positive_rank, recall_at_k, recalls_at, retrieval, zero_shot


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
