"""The methods: which terms each returns on which batch, what it asks of the batch, and the
pseudo-label targets."""

import numpy as np
import ot
import pytest
import torch
import torch.nn.functional as F

from bench.errors import BenchError
from bench.registry import methods
from methods.base import BatchEmbeddings
from methods.losses import clip_loss, soft_cross_entropy

ALL = [
    "clip",
    "clip_ssl",
    "hard_pl",
    "soft_pl",
    "s_clip",
    "gentle_clip",
    "gentle_clip_no_sdd",
    "gentle_clip_no_mmd",
    "gentle_clip_no_ssl",
]
D = 8
SCALE = 1 / 0.07


def unit(n, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, D, generator=g), dim=1)


def make_tensors(b_p, b_u, keywords=False, seed=0):
    t = {
        "a_p": unit(b_p, seed),
        "b_p": unit(b_p, seed + 1),
        "a_u": unit(b_u, seed + 2),
        "b_u": unit(b_u, seed + 3),
    }
    n = b_p + b_u
    t["views_a"] = (unit(n, seed + 4), unit(n, seed + 5))
    t["views_b"] = (unit(n, seed + 6), unit(n, seed + 7))
    t["keywords"] = unit(5, seed + 8) if keywords else None
    return t


def _leaf(v):
    if isinstance(v, tuple):
        return tuple(x.clone().requires_grad_() for x in v)
    return None if v is None else v.clone().requires_grad_()


class Recorder:
    """An embed callable that hands out leaf tensors and records which keys were asked for."""

    def __init__(self, tensors):
        self.tensors = {k: _leaf(v) for k, v in tensors.items()}
        self.asked = []

    def __call__(self, key):
        self.asked.append(key)
        return self.tensors[key]

    def leaves(self):
        for v in self.tensors.values():
            yield from (v if isinstance(v, tuple) else [] if v is None else [v])


def make_batch(b_p, b_u, keywords=False, same=None, seed=0):
    rec = Recorder(make_tensors(b_p, b_u, keywords, seed))
    kw_mask = None
    if keywords:
        kw_mask = torch.zeros(b_p, 5, dtype=torch.bool)
        kw_mask[:, 0] = True
        kw_mask[::2, 3] = True
    return BatchEmbeddings(rec, torch.tensor(SCALE), b_p, same, kw_mask), rec


def create(name, **raw):
    entry = methods().get(name)
    return entry.create(entry.resolve({k: str(v) for k, v in raw.items()}))


FULL = {"clip", "sdd", "mmd", "ssl"}
EXPECTED = {  # (b_p, b_u) → terms
    "clip": {(4, 6): {"clip"}, (0, 6): set(), (4, 0): {"clip"}},
    "clip_ssl": {(4, 6): {"clip", "ssl"}, (0, 6): {"ssl"}, (4, 0): {"clip", "ssl"}},
    "hard_pl": {(4, 6): {"clip", "pl"}, (0, 6): set(), (4, 0): {"clip"}},
    "soft_pl": {(4, 6): {"clip", "pl"}, (0, 6): set(), (4, 0): {"clip"}},
    "s_clip": {(4, 6): {"clip", "pl"}, (0, 6): set(), (4, 0): {"clip"}},
    "gentle_clip": {(4, 6): FULL, (0, 6): FULL - {"clip"}, (4, 0): FULL},
    "gentle_clip_no_sdd": {(4, 6): FULL - {"sdd"}, (0, 6): FULL - {"clip", "sdd"}, (4, 0): FULL - {"sdd"}},
    "gentle_clip_no_mmd": {(4, 6): FULL - {"mmd"}, (0, 6): FULL - {"clip", "mmd"}, (4, 0): FULL - {"mmd"}},
    "gentle_clip_no_ssl": {(4, 6): FULL - {"ssl"}, (0, 6): FULL - {"clip", "ssl"}, (4, 0): FULL - {"ssl"}},
}


def test_all_methods_registered():
    assert sorted(methods().names()) == sorted(ALL)


@pytest.mark.parametrize("shape", [(4, 6), (0, 6), (4, 0)])
@pytest.mark.parametrize("name", ALL)
def test_terms_finite_and_only_those_the_batch_allows(name, shape):
    method = create(name)
    batch, rec = make_batch(*shape)
    terms = method.terms(batch)
    assert set(terms) == EXPECTED[name][shape]
    weights = method.weights()
    assert all(weights[k] != 0 for k in terms)
    for value in terms.values():
        assert value.ndim == 0 and torch.isfinite(value)
    total, logged = method.loss(batch)
    assert set(logged) == set(terms)
    if total is None:
        assert not terms
        return
    total.backward()
    grads = [x.grad for x in rec.leaves() if x.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ["gentle_clip", "clip_ssl"])
def test_set_and_ssl_terms_skipped_on_sets_of_one_row(name):
    batch, _ = make_batch(1, 0)
    assert set(create(name).terms(batch)) == {"clip"}


def test_needs_pairs():
    needs = {name: methods().get(name).cls.needs_pairs for name in ALL}
    assert needs == {n: n in {"clip", "hard_pl", "soft_pl", "s_clip"} for n in ALL}


# --- weight-0 terms are never computed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "never"),
    [
        ("gentle_clip_no_ssl", {}, {"views_a", "views_b"}),
        ("clip_ssl", {"w_ssl": 0.0}, {"views_a", "views_b", "a_u", "b_u"}),
        ("gentle_clip", {"w_sdd": 0.0, "w_mmd": 0.0, "w_ssl": 0.0}, {"a_u", "b_u", "views_a", "views_b"}),
        ("gentle_clip", {"w_clip": 0.0, "w_ssl": 0.0}, {"views_a", "views_b"}),
        ("hard_pl", {"w_pl": 0.0}, {"a_u", "b_u"}),
        ("s_clip", {"w_pl": 0.0, "w_kw": 0.0}, {"a_u", "b_u", "keywords"}),
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


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_has_help_and_a_sane_range(name):
    for key, p in methods().get(name).params.items():
        assert p.help, key
        if p.low is not None:
            assert p.low < p.high and (not p.log or p.low > 0), key
            assert isinstance(p.default, float), key


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


@pytest.mark.parametrize("name", ["hard_pl", "soft_pl", "s_clip"])
def test_pseudo_label_targets_carry_no_gradient(name):
    """The pseudo-label term reaches a_u and b_p through the logits, never a_p through the targets."""
    batch, rec = pl_batch()
    create(name).terms(batch)["pl"].backward()
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
    """Candidates: the keywords of the paired row with the largest plan entry; targets proportional
    to the (floored) similarity to each candidate."""
    batch, rec = make_batch(4, 6, keywords=True)
    terms = create("s_clip").terms(batch)
    assert set(terms) == {"clip", "pl", "kw"}
    a_u, a_p, kw = (rec.tensors[k] for k in ("a_u", "a_p", "keywords"))
    cost = (1 - a_u.detach().double() @ a_p.detach().double().T).numpy()
    plan = ot.sinkhorn(
        np.full(6, 1 / 6), np.full(4, 1 / 4), cost, 0.07, numItermax=10, stopThr=0.0, warn=False
    )
    target = torch.zeros(6, 5)
    for i, j in enumerate(plan.argmax(1)):
        cands = [0, 3] if j % 2 == 0 else [0]
        sims = torch.stack([(a_u[i] @ kw[k]).detach().clamp_min(1e-6) for k in cands])
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
