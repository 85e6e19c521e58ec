"""The protein task scores train-pool items (the validation split) with its own metric code."""

import math

import torch
from test_protein_evaluate import E, UnitModel

from tasks.protein.evaluate import EvalData, evaluate_items
from tasks.protein.towers import ProteinPool


def test_train_items_are_scored_like_a_test_set():
    # train proteins e0 (text 0), e1 (text 1), e2 (text 1); their text features e0, e1, e0
    pool = ProteinPool(torch.stack([E[0], E[1], E[2]])[:, None].repeat(1, 2, 1).half(), torch.zeros(3), 1)
    data = EvalData(E[:0], torch.tensor([], dtype=torch.long), E[:0], E[:0], pool, torch.tensor([0, 1, 1]), 2)
    right = evaluate_items(UnitModel(), data, torch.stack([E[0], E[1], E[0]]), torch.tensor([0, 1]))
    assert right["a2b_r1"] == right["b2a_r1"] == right["zs_top1"] == 1.0
    assert math.isnan(right["ref_nn_a2b_r1"])
    wrong = evaluate_items(UnitModel(), data, torch.stack([E[1], E[0], E[0]]), torch.tensor([0, 1]))
    assert wrong["a2b_r1"] == 0.0
