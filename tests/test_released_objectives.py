"""The objectives of the authors' released code: `gentle_clip_released` against the plain reference
terms (bench/perf/reference.py) with the released settings, and S-CLIP (and `hard_pl` / `soft_pl`
with S-CLIP's assignments) against a plain reference written from alinlab/s-clip `custom/loss.py`
(`SemiSupervisedClipLoss.forward`, `get_assignments`, `ot_plan`), values and gradients, with POT's
own differentiable Sinkhorn. docs/methods.md, "Total loss and default weights" and "S-CLIP"."""

import math

import ot
import pytest
import torch
import torch.nn.functional as F
from method_batches import Recorder, create, make_tensors

from bench.errors import BenchError
from bench.perf import reference as R
from bench.registry import methods
from methods._pseudo import keyword_targets
from methods.base import BatchEmbeddings
from methods.losses import soft_cross_entropy

# --- gentle_clip_released ---------------------------------------------------------------------------


def test_gentle_clip_released_fixes_the_released_settings():
    entry = methods().get("gentle_clip_released")
    values = entry.resolve({})
    released = {
        "mmd_kernels": "single",
        "unpaired_negatives": True,
        "temperature": 0.05,
        "learn_temperature": False,
    }
    # gentle_clip's defaults are the released weights (tests/test_methods.py): it differs in 3 settings
    assert values == {**methods().get("gentle_clip").resolve({}), **released}
    assert entry.describe()["label"] == "Gentle-CLIP (released)"
    assert entry.describe()["ablation_of"] is None
    for key in ("mmd_kernels", "temperature", "w_sdd"):
        with pytest.raises(BenchError, match="fixes"):
            entry.resolve({key: "0.5"})


def test_gentle_clip_released_gets_a_fixed_scale_of_20():
    from bench.engine.model import TwoTower

    class Tower(torch.nn.Linear):
        out_dim = 3

    p = create("gentle_clip_released").p
    model = TwoTower(Tower(3, 3), Tower(3, 3), 4, 0.0, p["temperature"], p["learn_temperature"])
    assert math.isclose(float(model.logit_scale()), 20.0, rel_tol=1e-6)
    assert not model.log_scale.requires_grad


def test_gentle_clip_released_loss_is_the_sum_of_the_plain_reference_terms():
    t = {k: v.double() if torch.is_tensor(v) else v for k, v in make_tensors(5, 7).items()}
    t["views_a"] = tuple(v.double() for v in t["views_a"])
    t["views_b"] = tuple(v.double() for v in t["views_b"])
    batch = BatchEmbeddings.from_tensors(
        logit_scale=1 / 0.05, **{k: v for k, v in t.items() if v is not None}
    )
    total, logged = create("gentle_clip_released").loss(batch)
    za, zb = torch.cat([t["a_p"], t["a_u"]]), torch.cat([t["b_p"], t["b_u"]])
    terms = {
        "clip": R.clip_loss(t["a_p"], t["b_p"], 20.0, extra_a=t["a_u"], extra_b=t["b_u"]),
        "sdd": R.sdd(za, zb, "reference"),
        "mmd": R.mk_mmd(za, zb, "single"),
        "ssl": R.nt_xent(*t["views_a"], 0.05) + R.nt_xent(*t["views_b"], 0.05),
    }
    expected = terms["clip"] + 0.7 * terms["sdd"] + 0.2 * terms["mmd"] + 0.15 * terms["ssl"]
    torch.testing.assert_close(total, expected, rtol=1e-9, atol=0)
    assert logged == pytest.approx({k: float(v) for k, v in terms.items()}, rel=1e-9)
    default, _ = create("gentle_clip").loss(batch)
    assert not math.isclose(float(default), float(total), rel_tol=1e-3)


# --- S-CLIP as released --------------------------------------------------------------------------


def released_s_clip(a_p, b_p, a_u, kw, kw_mask, s, assignment):
    """S-CLIP's loss written from `SemiSupervisedClipLoss.forward` (method "ours"), one unpaired row
    (query) at a time for the keyword targets, with POT's torch Sinkhorn for `ot-image`."""
    labels = torch.arange(len(a_p))
    logits_image = s * a_p @ b_p.T
    logits_query = s * a_u @ b_p.T
    logits_text = torch.cat([logits_image, logits_query]).T  # text → [paired; unpaired images]
    contrastive = (F.cross_entropy(logits_image, labels) + F.cross_entropy(logits_text, labels)) / 2
    if assignment == "ot-image":
        cost = 1 - a_u @ a_p.T
        n, m = cost.shape
        p, q = torch.full((n,), 1 / n, dtype=torch.double), torch.full((m,), 1 / m, dtype=torch.double)
        plan = ot.sinkhorn(p, q, cost, 1 / s, numItermax=10, stopThr=0.0, warn=False)
        plan = plan / plan.sum(1, keepdim=True)
    elif assignment == "hard-image":
        plan = F.one_hot((a_u @ a_p.T).argmax(1), len(a_p)).to(a_u.dtype)
    else:  # soft-image
        plan = F.softmax(a_u @ a_p.T * s, dim=1)
    caption = -(plan * F.log_softmax(logits_query, 1)).sum(1).mean() / 2
    targets = torch.zeros(len(a_u), len(kw), dtype=a_u.dtype)
    for i, query in enumerate(a_u):
        candidates = kw_mask[int(plan[i].argmax())].nonzero().flatten().tolist()
        if len(candidates) == 1:
            targets[i, candidates[0]] = 1
        elif candidates:
            sim = (query @ kw[candidates].T * s).detach()
            for k, value in zip(candidates, sim / sim.sum(), strict=True):
                targets[i, k] = value
    keyword = -(targets * F.log_softmax(s * a_u @ kw.T, 1)).sum(1).mean() / 2
    return contrastive + caption + keyword


def double_batch(b_p=4, b_u=6, seed=0, scale=1 / 0.07):
    """A float64 batch with keywords (rows of 1 and of 2 candidates) and a logit scale that is a leaf."""
    t = make_tensors(b_p, b_u, keywords=True, seed=seed)
    t = {k: tuple(x.double() for x in v) if isinstance(v, tuple) else v.double() for k, v in t.items()}
    rec = Recorder(t)
    kw_mask = torch.zeros(b_p, 5, dtype=torch.bool)
    kw_mask[:, 0] = True
    kw_mask[::2, 3] = True
    s = torch.tensor(scale, dtype=torch.double, requires_grad=True)
    return BatchEmbeddings(rec, s, b_p, None, kw_mask), rec, s, kw_mask


S_CLIP_FORMS = [
    ("s_clip", {"keyword_floor": False}, "ot-image"),  # the released keyword targets (default: floored)
    ("hard_pl", {"w_pl": 0.5, "w_kw": 0.5, "unpaired_a_negatives": True}, "hard-image"),
    (
        "soft_pl",
        {
            "w_pl": 0.5,
            "w_kw": 0.5,
            "unpaired_a_negatives": True,
            "tau_from_scale": True,
            "detach_targets": False,
        },
        "soft-image",
    ),
]


@pytest.mark.parametrize(("name", "params", "assignment"), S_CLIP_FORMS)
@pytest.mark.parametrize("seed", [0, 1])
def test_the_released_s_clip_loss_and_its_gradient(name, params, assignment, seed):
    """Value and gradient with respect to every embedding and the logit scale (through the plan and
    ε = 1/s for ot-image, through the softmax for soft-image)."""
    batch, rec, s, kw_mask = double_batch(seed=seed)
    total, logged = create(name, **params).loss(batch)
    assert set(logged) == {"clip", "pl", "kw"}
    leaves = [rec.tensors[k] for k in ("a_p", "b_p", "a_u", "keywords")] + [s]
    ours = torch.autograd.grad(total, leaves)
    expected = released_s_clip(*leaves[:4], kw_mask, s, assignment)
    torch.testing.assert_close(total, expected, rtol=1e-10, atol=0)
    for got, want in zip(ours, torch.autograd.grad(expected, leaves), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


def test_s_clip_clip_term_adds_the_unpaired_a_rows_on_the_b_to_a_side_only():
    batch, rec, s, _ = double_batch()
    a_p, b_p, a_u = (rec.tensors[k] for k in ("a_p", "b_p", "a_u"))
    value = create("s_clip").terms(batch)["clip"]
    torch.testing.assert_close(value, R.clip_loss(a_p, b_p, s, extra_a=a_u), rtol=1e-12, atol=0)
    labels = torch.arange(4)
    by_hand = (
        F.cross_entropy(s * a_p @ b_p.T, labels) + F.cross_entropy(s * b_p @ torch.cat([a_p, a_u]).T, labels)
    ) / 2
    torch.testing.assert_close(value, by_hand, rtol=1e-12, atol=0)
    both = create("s_clip", unpaired_negatives=True).terms(batch)["clip"]
    none = create("s_clip", unpaired_a_negatives=False).terms(batch)["clip"]
    assert none < value < both


def test_s_clip_plan_carries_gradient_unless_detached():
    """The released plan passes gradient to a_u, a_p and the logit scale (via ε = 1/s); detached, the
    targets are constants and the caption term reaches a_p not at all."""
    batch, rec, s, _ = double_batch()
    targets = create("s_clip").targets(batch)
    weights = torch.randn(targets.shape, generator=torch.Generator().manual_seed(3), dtype=targets.dtype)
    ds, da_p = torch.autograd.grad((targets * weights).sum(), [s, rec.tensors["a_p"]])
    assert abs(float(ds)) > 1e-6 and da_p.abs().sum() > 1e-6
    detached = create("s_clip", detach_targets=True).targets(batch)
    assert not detached.requires_grad
    torch.testing.assert_close(detached, targets.detach(), rtol=1e-12, atol=0)
    batch, rec, s, _ = double_batch()
    create("s_clip", detach_targets=True).terms(batch)["pl"].backward()
    assert rec.tensors["a_p"].grad is None


def test_soft_pl_s_clip_targets_carry_gradient_and_the_default_ones_do_not():
    batch, rec, s, _ = double_batch()
    released = create("soft_pl", tau_from_scale=True, detach_targets=False).targets(batch)
    a_u, a_p = rec.tensors["a_u"], rec.tensors["a_p"]
    torch.testing.assert_close(released, (s * a_u @ a_p.T).softmax(1), rtol=1e-12, atol=0)
    ds, da_p = torch.autograd.grad(released[:, 0].sum(), [s, a_p])
    assert abs(float(ds)) > 1e-6 and da_p.abs().sum() > 1e-6
    assert not create("soft_pl").targets(batch).requires_grad
    assert not create("soft_pl", tau_from_scale=True).targets(batch).requires_grad


def test_hard_and_soft_pl_default_to_no_keyword_term():
    batch, _, _, _ = double_batch()
    for name in ("hard_pl", "soft_pl"):
        assert set(create(name).terms(batch)) == {"clip", "pl"}


# --- keyword targets: released and floored --------------------------------------------------------


def test_keyword_targets_released_are_sim_over_their_sum_and_unbounded_with_mixed_signs():
    cos = torch.tensor([[0.5, -0.45, 0.3], [0.2, 0.6, -0.1], [-0.3, 0.4, 0.9]], dtype=torch.double)
    candidates = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=torch.bool)
    t = keyword_targets(cos, candidates, floor=False)
    expected = torch.tensor([[0.5 / 0.05, -0.45 / 0.05, 0], [1, 0, 0], [0, 0, 0]], dtype=torch.double)
    torch.testing.assert_close(t, expected, rtol=1e-12, atol=1e-15)
    # not a distribution: the soft cross-entropy has no lower bound
    values = [
        float(soft_cross_entropy(torch.tensor([[0.0, -m, 0.0]], dtype=torch.double), t[:1]))
        for m in (10, 100, 1000)
    ]
    assert values[0] > values[1] > values[2] and values[2] < -8000
    # near-cancelling cosines make the targets as large as one likes
    near = keyword_targets(
        torch.tensor([[0.5, -0.4999]], dtype=torch.double), candidates[:1, :2], floor=False
    )
    assert near.abs().max() > 1000


def test_keyword_targets_floored_are_a_distribution_and_the_loss_is_nonnegative():
    cos = torch.tensor([[0.5, -0.45, 0.3], [-0.2, -0.6, 0.1], [-0.3, -0.4, 0.9]], dtype=torch.double)
    candidates = torch.tensor([[1, 1, 0], [1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    t = keyword_targets(cos, candidates, floor=True)
    assert (t >= 0).all() and (t[~candidates] == 0).all()
    torch.testing.assert_close(t.sum(1), torch.ones(3, dtype=torch.double))
    torch.testing.assert_close(t[0, :2], torch.tensor([0.5, 1e-6], dtype=torch.double) / (0.5 + 1e-6))
    torch.testing.assert_close(t[1, :2], torch.tensor([0.5, 0.5], dtype=torch.double))  # all ≤ 0: uniform
    for m in (10, 100, 1000):
        assert float(soft_cross_entropy(torch.tensor([[0.0, -m, 0.0]] * 3, dtype=torch.double), t)) >= 0


def test_s_clip_keyword_floor_default_uses_the_floored_targets():
    batch, rec, s, kw_mask = double_batch()
    a_u, kw = rec.tensors["a_u"], rec.tensors["keywords"]
    method = create("s_clip")
    plan = method.targets(batch)
    candidates = kw_mask[plan.argmax(1)]
    expected = soft_cross_entropy(s * a_u @ kw.T, keyword_targets((a_u @ kw.T).detach(), candidates, True))
    torch.testing.assert_close(method.terms(batch)["kw"], expected, rtol=1e-12, atol=0)
    assert not torch.isclose(create("s_clip", keyword_floor=False).terms(batch)["kw"], expected)
