"""The protein task's metrics on hand-made cases whose answers are known."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tasks.protein.evaluate import EvalData, evaluate, zs_classes
from tasks.protein.towers import ProteinPool

E = torch.eye(3)


class UnitModel:
    """Embeddings = the inputs normalised: a protein is nearest to the text whose vector it equals."""

    def embed_a(self, x):
        return F.normalize(x.float(), dim=1)

    embed_b = embed_a


def _data(test_a: torch.Tensor, zs: int = 2) -> EvalData:
    # train proteins: e0 (text 0), e1 (text 1), e2 (text 1); one crop row each besides the whole sequence
    train = torch.stack([E[0], E[1], E[2]])[:, None].repeat(1, 2, 1).half()
    pool = ProteinPool(train, torch.zeros(3), torch.ones(3))
    test_text = torch.tensor([0, 1, 1, 2])
    gallery = torch.tensor([0, 1, 2])
    return EvalData(test_a, test_text, gallery, E.clone(), pool, torch.tensor([0, 1, 1]), zs)


def test_each_protein_nearest_to_its_own_text_scores_one():
    m = evaluate(UnitModel(), _data(torch.stack([E[0], E[1], E[1], E[2]])), torch.tensor([0, 1]))
    for key in (
        "a2b_r1",
        "a2b_r5",
        "a2b_r10",
        "b2a_r1",
        "b2a_r5",
        "b2a_r10",
        "zs_top1",
        "zs_mpcr",
        "a2b_map",
    ):
        assert m[key] == 1.0, key


def test_one_protein_pointing_at_a_wrong_text():
    # protein 3 (text 2) now looks like text 0
    m = evaluate(UnitModel(), _data(torch.stack([E[0], E[1], E[1], E[0]])), torch.tensor([0, 1]))
    assert m["a2b_r1"] == 0.75 and m["a2b_r5"] == 1.0
    # text 2 ranks the proteins all at similarity 0: stable order puts protein 0 first, a miss at 1
    assert math.isclose(m["b2a_r1"], 2 / 3, rel_tol=1e-6) and m["b2a_r5"] == 1.0
    # MAP: protein 3 finds its text third (tied at 0 behind text 1): AP 1/3; text 2 finds protein 3 last: 1/4
    assert math.isclose(m["a2b_map"], (3 + 1 / 3) / 4) and math.isclose(m["b2a_map"], (2 + 1 / 4) / 3)
    # zero-shot over the 2 most frequent texts (1, then 0 before 2 on the tie): proteins 0, 1, 2, all right
    assert m["zs_top1"] == 1.0 and "zs_top5" not in m
    # always answering text 1 is right for 2 of those 3 proteins
    assert math.isclose(m["ref_majority_zs_top1"], 2 / 3, rel_tol=1e-6)


def test_nearest_neighbour_reference_uses_only_the_paired_proteins():
    data = _data(torch.stack([E[0], E[1], E[1], E[0]]))
    assert evaluate(UnitModel(), data, torch.tensor([0, 1]))["ref_nn_a2b_r1"] == 0.75
    # paired = train proteins 0 (e0, text 0) and 2 (e2, text 1): e1 ties at 0 and takes the first, text 0
    assert evaluate(UnitModel(), data, torch.tensor([0, 2]))["ref_nn_a2b_r1"] == 0.25
    assert math.isnan(evaluate(UnitModel(), data, torch.tensor([], dtype=torch.long))["ref_nn_a2b_r1"])


def test_zero_shot_classes_are_the_most_frequent_ties_by_id():
    assert zs_classes(torch.tensor([5, 3, 3, 7, 7, 1]), 3).tolist() == [3, 7, 1]
