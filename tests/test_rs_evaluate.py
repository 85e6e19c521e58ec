"""rs metrics on hand-built embeddings: retrieval over all five captions, zero-shot over templates."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tasks.rs.evaluate import evaluate, evaluate_items

E0, E1 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])


class Unit(nn.Module):
    """embed_a = embed_b = L2 normalisation: the inputs are the embeddings."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def embed_a(self, x):
        return F.normalize(x.float(), dim=-1)

    embed_b = embed_a


def test_every_caption_is_a_positive():
    # Image 0's first caption points at image 1 and its last at image 0; image 1's captions lean to it.
    mixed = F.normalize(E1 + 0.5 * E0, dim=0)
    texts = torch.stack([E1, E0, E0, E0, E0] + [mixed] * 5)
    inputs = {
        "ret/toy/images": torch.stack([E0, E1]),
        "ret/toy/texts": texts,
        "ret/toy/owner": torch.tensor([0] * 5 + [1] * 5),
    }
    m = evaluate(Unit(), inputs, n_templates=1, batch=3)
    # a2b: image 0 finds its fifth caption (hit), image 1 finds image 0's first caption (miss).
    assert m["toy_a2b_r1"] == pytest.approx(0.5)
    assert m["toy_a2b_r5"] == pytest.approx(1.0)
    # b2a: only image 0's first caption ranks the wrong image first.
    assert m["toy_b2a_r1"] == pytest.approx(0.9)
    assert m["ret_r1_mean"] == pytest.approx(0.7)  # of the all-captions recalls only
    six = [m[f"toy_{d}_r{k}"] for d in ("a2b", "b2a") for k in (1, 5, 10)]
    assert m["toy_recall_mean"] == pytest.approx(sum(six) / 6)
    one = [m[f"toy_one_{d}_r{k}"] for d in ("a2b", "b2a") for k in (1, 5, 10)]
    assert m["toy_one_recall_mean"] == pytest.approx(sum(one) / 6) and all(v in (0.5, 1.0) for v in one)
    assert {"toy_align_mknn", "toy_align_cka", "toy_align_cknna"} <= set(m)
    assert "zs_top1_mean" not in m


def test_zero_shot_averages_the_templates():
    images = torch.stack([E0, E1, E0])
    # Template 1 alone would swap the classes; the average over both templates does not.
    prompts = torch.stack([E0 + 0.1 * E1, E1 + 0.1 * E0, 0.45 * E1 + 0.1 * E0, 0.45 * E0])
    inputs = {"zs/toy/images": images, "zs/toy/labels": torch.tensor([0, 1, 0]), "zs/toy/prompts": prompts}
    m = evaluate(Unit(), inputs, n_templates=2, batch=2)
    assert m["toy_top1"] == pytest.approx(1.0) and m["zs_top1_mean"] == pytest.approx(1.0)
    swapped = evaluate(Unit(), {**inputs, "zs/toy/prompts": prompts[2:]}, n_templates=1, batch=2)
    assert swapped["toy_top1"] == pytest.approx(0.0)


def test_train_items_rank_over_all_their_captions():
    # Two items with two captions each; every caption of an item is its positive.
    images = torch.stack([E0, E1])
    captions = torch.stack([torch.stack([E1, E0]), torch.stack([E1, E1])])
    m = evaluate_items(Unit(), images, captions, batch=2)
    assert m["a2b_r1"] == pytest.approx(0.5) and m["b2a_r1"] == pytest.approx(0.75)
    assert m["ret_r1_mean"] == pytest.approx(0.625)
