"""The methods' own formulas: which terms each returns on which batch, what it asks of the batch, and
the pseudo-label targets. Properties every method must have are in test_method_contract.py."""

import numpy as np
import ot
import pytest
import torch
import torch.nn.functional as F
from method_batches import SCALE, Recorder, create, make_batch, make_tensors, unit

from bench.errors import BenchError
from bench.registry import methods
from methods.base import BatchEmbeddings
from methods.losses import clip_loss, soft_cross_entropy

FULL = {"clip", "sdd", "mmd", "ssl"}


@pytest.mark.parametrize(
    ("shape", "terms"), [((4, 6), FULL), ((0, 6), FULL - {"clip"}), ((4, 0), FULL), ((1, 0), {"clip"})]
)
def test_gentle_clip_terms_by_batch_shape(shape, terms):
    """CLIP needs a pair; the set terms need two rows per set; SSL needs no pair."""
    batch, _ = make_batch(*shape)
    assert set(create("gentle_clip").terms(batch)) == terms


@pytest.mark.parametrize("name", ["gentle_clip", "clip_ssl"])
def test_set_and_ssl_terms_skipped_on_sets_of_one_row(name):
    batch, _ = make_batch(1, 0)
    assert set(create(name).terms(batch)) == {"clip"}


# --- weight-0 terms are never computed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "never"),
    [
        ("gentle_clip_no_ssl", {}, {"views_a", "views_b"}),
        ("clip_ssl", {"w_ssl": 0.0}, {"views_a", "views_b", "a_u", "b_u"}),
        ("gentle_clip", {"w_sdd": 0.0, "w_mmd": 0.0, "w_ssl": 0.0}, {"a_u", "b_u", "views_a", "views_b"}),
        ("gentle_clip", {"w_clip": 0.0, "w_ssl": 0.0}, {"views_a", "views_b"}),
        ("hard_pl", {"w_pl": 0.0}, {"a_u", "b_u"}),
        ("s_clip", {"w_pl": 0.0, "w_kw": 0.0, "unpaired_a_negatives": False}, {"a_u", "b_u", "keywords"}),
        ("s_clip", {"w_pl": 0.0, "w_kw": 0.0}, {"b_u", "keywords"}),
        ("soft_pl", {}, {"b_u", "keywords"}),
        ("s_clip", {"w_kw": 0.0}, {"keywords"}),
    ],
)
def test_weight_zero_terms_request_nothing(name, params, never):
    batch, rec = make_batch(4, 6, keywords=True)
    terms = create(name, **params).terms(batch)
    assert not never & set(rec.asked), rec.asked
    assert all(create(name, **params).weights()[k] for k in terms)


def test_gentle_clip_without_clip_weight_has_no_clip_term():
    batch, rec = make_batch(4, 6)
    assert set(create("gentle_clip", w_clip=0.0).terms(batch)) == {"sdd", "mmd", "ssl"}


def test_full_gentle_clip_asks_for_everything_once_each():
    batch, rec = make_batch(4, 6)
    create("gentle_clip").terms(batch)
    assert sorted(rec.asked) == sorted(["a_p", "b_p", "a_u", "b_u", "views_a", "views_b"])


# --- variants and parameters --------------------------------------------------------------------


@pytest.mark.parametrize(("alias", "param"), [("no_sdd", "w_sdd"), ("no_mmd", "w_mmd"), ("no_ssl", "w_ssl")])
def test_variants_fix_their_weight(alias, param):
    entry = methods().get(f"gentle_clip_{alias}")
    values = entry.resolve({})
    assert values[param] == 0.0
    others = {"w_sdd": 0.7, "w_mmd": 0.2, "w_ssl": 0.15, "w_clip": 1.0}
    assert all(values[k] == v for k, v in others.items() if k != param)
    assert entry.create(values).weights()[param.removeprefix("w_")] == 0.0
    with pytest.raises(BenchError, match="fixes"):
        entry.resolve({param: "0.5"})


def test_gentle_clip_defaults_are_the_released_ones():
    values = methods().get("gentle_clip").resolve({})
    assert {k: values[k] for k in ("w_clip", "w_sdd", "w_mmd", "w_ssl", "tau_ssl")} == {
        "w_clip": 1.0,
        "w_sdd": 0.7,
        "w_mmd": 0.2,
        "w_ssl": 0.15,
        "tau_ssl": 0.05,
    }
    assert (values["sdd_variant"], values["mmd_kernels"]) == ("reference", "dsn19")


@pytest.mark.parametrize(("value", "term"), [("normalized", "sdd"), ("median", "mmd"), ("single", "mmd")])
def test_gentle_clip_options_change_their_term(value, term):
    batch, _ = make_batch(4, 6)
    key = "sdd_variant" if term == "sdd" else "mmd_kernels"
    default = create("gentle_clip").terms(batch)[term]
    assert not torch.isclose(create("gentle_clip", **{key: value}).terms(batch)[term], default)


def test_unpaired_negatives_changes_the_clip_term():
    batch, rec = make_batch(4, 6)
    plain = create("gentle_clip").terms(batch)["clip"]
    extra = create("gentle_clip", unpaired_negatives=True).terms(batch)["clip"]
    assert extra > plain


# --- pseudo-label targets -------------------------------------------------------------------------


def pl_batch(same=None):
    """Unpaired A rows that are noisy copies of paired A rows 2, 0, 1, 2, 3."""
    t = make_tensors(4, 5)
    t["a_u"] = F.normalize(t["a_p"][[2, 0, 1, 2, 3]] + 0.05 * unit(5, 9), dim=1)
    rec = Recorder(t)
    return BatchEmbeddings(rec, torch.tensor(SCALE), 4, same), rec


def pl_logits(rec):
    return SCALE * rec.tensors["a_u"] @ rec.tensors["b_p"].T


def test_hard_pl_targets_the_nearest_paired_row():
    batch, rec = pl_batch()
    value = create("hard_pl").terms(batch)["pl"]
    torch.testing.assert_close(value, F.cross_entropy(pl_logits(rec), torch.tensor([2, 0, 1, 2, 3])))


def test_hard_pl_shares_the_target_among_identical_b_rows():
    same = torch.zeros(4, 4, dtype=torch.bool)
    same[2, 3] = same[3, 2] = True
    batch, rec = pl_batch(same)
    target = torch.zeros(5, 4)
    target[[0, 3, 4], 2] = target[[0, 3, 4], 3] = 0.5
    target[1, 0] = target[2, 1] = 1.0
    value = create("hard_pl").terms(batch)["pl"]
    torch.testing.assert_close(value, soft_cross_entropy(pl_logits(rec), target))


def test_soft_pl_targets_are_a_softmax_of_a_side_similarity():
    batch, rec = pl_batch()
    tau = 0.2
    target = (rec.tensors["a_u"] @ rec.tensors["a_p"].T / tau).softmax(1).detach()
    value = create("soft_pl", tau_pl=tau).terms(batch)["pl"]
    torch.testing.assert_close(value, soft_cross_entropy(pl_logits(rec), target))


@pytest.mark.parametrize(
    ("name", "params"), [("hard_pl", {}), ("soft_pl", {}), ("s_clip", {"detach_targets": True})]
)
def test_pseudo_label_targets_carry_no_gradient(name, params):
    """The pseudo-label term reaches a_u and b_p through the logits, never a_p through the targets
    (S-CLIP's default, as released, differentiates through its plan: tests/test_released_objectives.py)."""
    batch, rec = pl_batch()
    create(name, **params).terms(batch)["pl"].backward()
    assert rec.tensors["a_p"].grad is None
    assert rec.tensors["a_u"].grad.abs().sum() > 0 and rec.tensors["b_p"].grad.abs().sum() > 0


def test_s_clip_caption_targets_are_the_normalised_pot_plan():
    batch, rec = pl_batch()
    a_u, a_p = rec.tensors["a_u"].detach().double(), rec.tensors["a_p"].detach().double()
    cost = (1 - a_u @ a_p.T).numpy()
    plan = ot.sinkhorn(
        np.full(5, 1 / 5), np.full(4, 1 / 4), cost, 0.07, numItermax=10, stopThr=0.0, warn=False
    )
    target = torch.tensor(plan / plan.sum(1, keepdims=True), dtype=torch.float32)
    value = create("s_clip").terms(batch)["pl"]
    torch.testing.assert_close(value, soft_cross_entropy(pl_logits(rec), target), rtol=1e-5, atol=1e-6)


def test_s_clip_keyword_term():
    """Candidates: the keywords of the paired row with the largest plan entry; targets the similarity
    to each candidate over their sum (1 for a single candidate), as released (keyword_floor=false)."""
    batch, rec = make_batch(4, 6, keywords=True)
    terms = create("s_clip", keyword_floor=False).terms(batch)
    assert set(terms) == {"clip", "pl", "kw"}
    a_u, a_p, kw = (rec.tensors[k] for k in ("a_u", "a_p", "keywords"))
    cost = (1 - a_u.detach().double() @ a_p.detach().double().T).numpy()
    plan = ot.sinkhorn(
        np.full(6, 1 / 6), np.full(4, 1 / 4), cost, 0.07, numItermax=10, stopThr=0.0, warn=False
    )
    target = torch.zeros(6, 5)
    for i, j in enumerate(plan.argmax(1)):
        cands = [0, 3] if j % 2 == 0 else [0]
        sims = torch.stack([(a_u[i] @ kw[k]).detach() for k in cands])
        target[i, cands] = sims / sims.sum()
    torch.testing.assert_close(terms["kw"], soft_cross_entropy(SCALE * a_u @ kw.T, target))


def test_s_clip_keyword_term_absent_without_candidates():
    batch, rec = make_batch(4, 6, keywords=True)
    batch.keyword_mask_p = torch.zeros(4, 5, dtype=torch.bool)
    assert set(create("s_clip").terms(batch)) == {"clip", "pl"}


def test_clip_term_is_the_clip_loss_of_the_paired_rows():
    batch, rec = make_batch(4, 6)
    value = create("gentle_clip").terms(batch)["clip"]
    torch.testing.assert_close(value, clip_loss(rec.tensors["a_p"], rec.tensors["b_p"], SCALE))
