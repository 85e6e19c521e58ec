"""STRUCTURE against a transcription of its authors' regulariser, `structure_reg` in src/loss/clip_loss.py
of mlbio-epfl/STRUCTURE (read in its copies shiwonkim/structure at 0d87c3f1 and hhxk233/STRUCTURE at
644898a8: the same function), and `CLIPLoss.forward` / `step` there (the λ warm-up and the two modalities'
mean), in float64; and STRUCTURE as a term of gentle_clip (off by default)."""

import pytest
import torch
import torch.nn.functional as F
from method_batches import Recorder, create, make_tensors

from bench.cell.store import Store
from methods.base import BatchEmbeddings
from methods.losses import structure_divergence

from helpers import run, spec


def released_structure_reg(original, aligned, levels, temperature, weighting, eps=1e-12):
    """structure_reg with distance cosine, centring `mean` after normalising, margin 0 (the defaults)."""
    original_norm = F.normalize(original, p=2, dim=-1)  # safe_normalize on rows of nonzero norm
    aligned_norm = F.normalize(aligned, p=2, dim=-1)
    original_norm = original_norm - original_norm.mean(0, keepdim=True)
    aligned_norm = aligned_norm - aligned_norm.mean(0, keepdim=True)
    original_sim = (original_norm @ original_norm.T) / temperature
    aligned_sim = (aligned_norm @ aligned_norm.T) / temperature
    total_loss = 0
    for level in range(1, levels + 1):
        original_structure = torch.matrix_power(F.softmax(original_sim, dim=-1), level)
        aligned_structure = torch.matrix_power(F.softmax(aligned_sim, dim=-1), level)
        m = 0.5 * (original_structure + aligned_structure)
        js_div = 0.5 * (
            F.kl_div((aligned_structure + eps).log(), m + eps, reduction="batchmean")
            + F.kl_div((original_structure + eps).log(), m + eps, reduction="batchmean")
        )
        js_div = F.relu(js_div - 0.0)
        total_loss += js_div if weighting == "none" else js_div * (1.0 / level)
    return total_loss / levels


def inputs(n=9, f=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=g, dtype=torch.float64), torch.randn(
        n, d, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize(
    ("levels", "tau", "weighting"), [(1, 0.05, "none"), (3, 0.1, "inverse"), (2, 0.5, "none")]
)
def test_structure_divergence_is_the_released_structure_reg(levels, tau, weighting):
    x, z = inputs()
    z.requires_grad_()
    ours = structure_divergence(x, z, levels, tau, weighting)
    z2 = z.detach().clone().requires_grad_()
    theirs = released_structure_reg(x, z2, levels, tau, weighting)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(z.grad, z2.grad, rtol=1e-9, atol=1e-12)


def test_structure_divergence_is_zero_for_the_same_structure_and_positive_otherwise():
    x, z = inputs()
    same = structure_divergence(x, 3.0 * x, 2)  # a rescaling keeps every cosine
    assert abs(float(same)) < 1e-9
    assert float(structure_divergence(x, z, 2)) > 1e-3
    with pytest.raises(ValueError, match="weighting"):
        structure_divergence(x, z, 1, 0.05, "square")


def test_structure_divergence_keeps_float32_and_widens_half():
    x, z = inputs()
    assert structure_divergence(x.float(), z.float()).dtype == torch.float32
    assert structure_divergence(x.bfloat16(), z.bfloat16()).dtype == torch.float32


def released_clip_loss(za, zb, tau, original_a, original_b, lam, kw):
    """CLIPLoss.forward: symmetric InfoNCE at 1/τ plus λ · ½ (R_image + R_text) on the same rows."""
    logits = za @ zb.T / tau
    labels = torch.arange(len(za))
    clip = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    r = (released_structure_reg(original_a, za, **kw) + released_structure_reg(original_b, zb, **kw)) / 2
    return clip + lam * r


@pytest.mark.parametrize("step", [0, 250, 1000, 3000])
def test_structure_loss_is_the_released_clip_loss_with_its_warm_up(step):
    t = {k: v.double() if torch.is_tensor(v) else v for k, v in make_tensors(7, 3).items()}
    t = {k: v for k, v in t.items() if v is not None and not isinstance(v, tuple)}
    batch = BatchEmbeddings.from_tensors(logit_scale=1 / 0.05, step=step, **t)
    method = create("structure")
    total, logged = method.loss(batch)
    lam = 10.0 * min(1.0, step / 1000)  # CLIPLoss.step before forward: train_step counts from 0
    kw = {"levels": 1, "temperature": 0.05, "weighting": "none"}
    expected = released_clip_loss(t["a_p"], t["b_p"], 0.05, t["feat_a_p"], t["feat_b_p"], lam, kw)
    torch.testing.assert_close(total, expected, rtol=1e-10, atol=0)
    assert set(logged) == {"clip", "structure"}


def test_structure_defaults_are_the_linear_config():
    p = create("structure").p
    assert (p["temperature"], p["learn_temperature"], p["w_structure"]) == (0.05, False, 10.0)
    assert (p["structure_levels"], p["structure_weighting"], p["structure_warmup"]) == (1, "none", 1000)
    assert not p["structure_unpaired"]


def test_structure_reads_the_unpaired_rows_only_when_asked():
    t = make_tensors(6, 4)
    plain, wide = create("structure"), create("structure", structure_unpaired="true")
    assert not {"a_u", "feat_a_u"} & plain.embeddings()
    assert {"a_u", "b_u", "feat_a_u", "feat_b_u"} <= wide.embeddings()
    rec = Recorder(t)
    _, logged = wide.loss(BatchEmbeddings(rec, torch.tensor(20.0), 6, step=2000))
    kw = {"levels": 1, "temperature": 0.05, "weighting": "none"}
    tt = rec.tensors
    ra = released_structure_reg(
        torch.cat([tt["feat_a_p"], tt["feat_a_u"]]), torch.cat([tt["a_p"], tt["a_u"]]), **kw
    )
    rb = released_structure_reg(
        torch.cat([tt["feat_b_p"], tt["feat_b_u"]]), torch.cat([tt["b_p"], tt["b_u"]]), **kw
    )
    assert logged["structure"] == pytest.approx(float((ra + rb).detach()) / 2, rel=1e-5)


def test_gentle_clip_structure_term_is_off_by_default_and_on_all_rows_when_weighted():
    t = make_tensors(5, 4)
    default = create("gentle_clip")
    assert default.p["w_structure"] == 0.0
    assert not {"feat_a_p", "feat_a_u"} & default.embeddings()
    rec = Recorder(t)
    _, logged = default.loss(BatchEmbeddings(rec, torch.tensor(14.0), 5))
    assert "structure" not in logged and not any(k.startswith("feat_") for k in rec.asked)
    on = create("gentle_clip", w_structure="2")
    rec = Recorder(t)
    total, logged = on.loss(BatchEmbeddings(rec, torch.tensor(14.0), 5))
    tt = rec.tensors
    kw = {"levels": 1, "temperature": 0.05, "weighting": "none"}
    ra = released_structure_reg(
        torch.cat([tt["feat_a_p"], tt["feat_a_u"]]), torch.cat([tt["a_p"], tt["a_u"]]), **kw
    )
    rb = released_structure_reg(
        torch.cat([tt["feat_b_p"], tt["feat_b_u"]]), torch.cat([tt["b_p"], tt["b_u"]]), **kw
    )
    assert logged["structure"] == pytest.approx(float((ra + rb).detach()) / 2, rel=1e-5)
    base, _ = default.loss(
        BatchEmbeddings.from_tensors(logit_scale=14.0, **{k: v for k, v in t.items() if v is not None})
    )
    assert float(total) == pytest.approx(float(base) + 2 * logged["structure"], rel=1e-5)


def test_gentle_clip_structure_term_runs_without_pairs():
    t = make_tensors(0, 6)
    rec = Recorder(t)
    _, logged = create("gentle_clip", w_structure="1").loss(BatchEmbeddings(rec, torch.tensor(14.0), 0))
    assert logged["structure"] > 0 and "clip" not in logged


def test_gentle_clip_with_the_structure_term_trains_at_r_0_on_the_frozen_features(results):
    """The engine serves feat_a_u / feat_b_u (and the empty paired ones) to a method that does not fit."""
    store = Store(results)
    s = spec("gentle_clip", 0.0, steps="10", checkpoint_every="0")
    s = type(s)(**{**s.to_json(), "method_params": {**s.method_params, "w_structure": 1.0}})
    assert run(store, [s]) == {s.run_id(): "done"}
    log = store.folder(s.run_id()).file("log.txt").read_text()
    last = [line for line in log.splitlines() if line.startswith("step ")][-1]
    assert "fit:" in log and "structure=" in last and "clip=" not in last
